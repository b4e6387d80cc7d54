import { createSecretKey, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { sealedOpener, sealWith } from '../../vault/keyring.ts';
import { canonicalJson } from './archive.ts';
import { commitmentAt, committedContent, parseRecord, type RecordColumns } from './archive-record-form.ts';

// The byte-wise form check of `archive verify` (commitmentAt) against the full parse: whatever
// the fast check accepts, the full parse accepts with the same commitment; what it refuses goes
// to the full parse, which names the fault.

const HASH = 'ab'.repeat(32);
const LOG = 'ws_1';

function row(
  fields: { kind?: string; entity?: string; at?: number; seq?: number; hash?: string | null; log?: string },
  columns: Partial<{ kind: string; entity: unknown; at: unknown; seq: unknown }> = {},
): RecordColumns {
  const kind = fields.kind ?? 'message.inbound';
  const entity = fields.entity ?? 'msg_1';
  const at = fields.at ?? 1_750_000_000_000;
  const seq = fields.seq ?? 7;
  const record = canonicalJson({
    ...(fields.hash === null ? {} : { content_hash: fields.hash ?? HASH }),
    data: { id: entity, text: 'hi' },
    entity_id: entity,
    kind,
    recorded_at: at,
    seq,
    v: 2,
    workspace_id: fields.log ?? LOG,
  });
  return [
    (columns.seq ?? seq) as number,
    columns.kind ?? kind,
    (columns.entity ?? entity) as string,
    new Uint8Array(Buffer.from(record, 'utf8')),
    (columns.at ?? at) as number,
  ];
}

describe('commitmentAt', () => {
  it.each([
    ['a plain record', row({})],
    ['a record without content', row({ hash: null })],
    ['an entity id in another script', row({ entity: 'msg_é_日本' })],
    ['an entity id JSON escapes', row({ entity: 'msg_"quoted"\\' })],
    ['a workspace id JSON escapes', row({ log: 'ws_"x' })],
    ['seq 0 and time 0', row({ seq: 0, at: 0 })],
    ['a seq of 16 digits', row({ seq: 9_007_199_254_740_991 })],
  ])('agrees with the full parse on %s', (_, columns) => {
    const log = new TextDecoder().decode(columns[3]).match(/"workspace_id":("(?:[^"\\]|\\.)*")/)?.[1];
    const ws = JSON.parse(log as string) as string;
    const parsed = parseRecord(ws, columns);
    expect(parsed.problem).toBeNull();
    expect(committedContent(ws, columns)).toBe(parsed.contentHash);
    const at = commitmentAt(ws, columns);
    if (parsed.contentHash === null) expect(at).toBeNull();
    else expect(Buffer.from(columns[3]).toString('latin1', at as number, (at as number) + 64)).toBe(HASH);
  });

  it.each([
    ['its kind column', row({}, { kind: 'message.outbound' })],
    ['its entity column', row({}, { entity: 'msg_2' })],
    ['its time column', row({}, { at: 1_750_000_000_001 })],
    ['its time column as text', row({}, { at: '1750000000000' })],
    ['its seq column', row({}, { seq: 8 })],
    ['its seq column, a digit more', row({}, { seq: 70 })],
    ['its seq column, a digit less', row({ seq: 70 }, { seq: 7 })],
    ['its seq column, negative', row({ seq: 7 }, { seq: -7 })],
    ['its seq column, a fraction', row({ seq: 7 }, { seq: 7.5 })],
    ['its time column, a digit more', row({ at: 5 }, { at: 15 })],
    ['its workspace', row({ log: 'ws_2' })],
    ['an upper-case commitment', row({ hash: 'AB'.repeat(32) })],
    ['a short commitment', row({ hash: 'ab'.repeat(31) })],
  ])('leaves a record whose bytes disagree with %s to the full parse', (_, columns) => {
    expect(commitmentAt(LOG, columns)).toBeUndefined();
    expect(committedContent(LOG, columns)).toBeUndefined();
  });
});

describe('sealedOpener', () => {
  it('opens what the keyring sealed, and answers null for anything changed or foreign', () => {
    const key = createSecretKey(randomBytes(32));
    const other = createSecretKey(randomBytes(32));
    const sealed = sealWith('0a0b0c0d', key, LOG, 'archive.content', Buffer.from('hello'));
    const open = sealedOpener(new Map([['0a0b0c0d', key]]), LOG, 'archive.content');
    expect(open(sealed)?.toString()).toBe('hello');
    const flipped = Buffer.from(sealed);
    flipped[flipped.byteLength - 20] = (flipped[flipped.byteLength - 20] as number) ^ 1;
    expect(open(flipped)).toBeNull();
    expect(sealedOpener(new Map([['0a0b0c0d', other]]), LOG, 'archive.content')(sealed)).toBeNull();
    expect(sealedOpener(new Map([['0a0b0c0d', key]]), 'ws_2', 'archive.content')(sealed)).toBeNull();
    expect(sealedOpener(new Map([['01020304', key]]), LOG, 'archive.content')(sealed)).toBeNull();
    expect(open(sealed.subarray(0, 10))).toBeNull();
  });
});
