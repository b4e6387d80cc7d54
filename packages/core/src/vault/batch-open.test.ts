import { createSecretKey } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { BatchOpener } from './batch-open.ts';
import { SEALED_LAYOUT, sealedOpener, sealWith } from './keyring.ts';

// The batch opener must answer what opening each value on its own answers: the same plaintexts,
// null for the same values, and never a page whose every value opens when one of them does not.

const WS = 'acme';
const PURPOSE = 'archive.content';
const KEY_A = { id: '0000000a', key: createSecretKey(Buffer.alloc(32, 0xa)) };
const KEY_B = { id: '0000000b', key: createSecretKey(Buffer.alloc(32, 0xb)) };
const keys = new Map([
  [KEY_A.id, KEY_A.key],
  [KEY_B.id, KEY_B.key],
]);
const { HEADER, IV_BYTES, TAG_BYTES } = SEALED_LAYOUT;

/** Deterministic plaintexts of every length from 0 to 80 bytes (every padding), and a long one. */
function plaintexts(): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let n = 0; n <= 80; n++) out.push(Uint8Array.from({ length: n }, (_, i) => (i * 31 + n * 7) & 0xff));
  out.push(Uint8Array.from({ length: 5000 }, (_, i) => (i * 13) & 0xff));
  return out;
}

function sealAll(key = KEY_A, workspace = WS, purpose = PURPOSE): Buffer[] {
  return plaintexts().map((p) => sealWith(key.id, key.key, workspace, purpose, p));
}

/** XORs one byte of `bytes` with `mask`. */
function flip(bytes: Uint8Array, at: number, mask: number): void {
  bytes[at] = (bytes[at] as number) ^ mask;
}

const one = sealedOpener(keys, WS, PURPOSE);
const batch = () => new BatchOpener(keys, WS, PURPOSE);

describe('BatchOpener', () => {
  it('opens every value as opening it alone does, across paddings and two keys', () => {
    const values = [...sealAll(KEY_A), ...sealAll(KEY_B)].sort((a, b) => a[20]! - b[20]!);
    const opened = batch().open(values);
    expect(opened).not.toBe(false);
    const plain = opened as Array<Uint8Array | null>;
    values.forEach((value, i) => {
      expect(Buffer.from(plain[i] as Uint8Array).equals(one(value) as Buffer)).toBe(true);
    });
  });

  it('opens page after page with the same opener', () => {
    const opener = batch();
    for (let page = 0; page < 3; page++) {
      const values = sealAll(page % 2 ? KEY_B : KEY_A);
      const opened = opener.open(values) as Array<Uint8Array | null>;
      values.forEach((value, i) => {
        expect(Buffer.from(opened[i] as Uint8Array).equals(one(value) as Buffer)).toBe(true);
      });
    }
  });

  it('leaves null what is not a sealed value, is sealed with an unknown key, or is not bytes', () => {
    const values: unknown[] = sealAll();
    const unknownKey = Buffer.from(values[3] as Buffer);
    flip(unknownKey, 1, 0x40);
    values[3] = unknownKey;
    values[5] = (values[5] as Buffer).subarray(0, HEADER + IV_BYTES + TAG_BYTES - 1);
    const wrongFormat = Buffer.from(values[7] as Buffer);
    wrongFormat[0] = 2;
    values[7] = wrongFormat;
    values[9] = 'text';
    values[11] = undefined;
    const opened = batch().open(values) as Array<Uint8Array | null>;
    expect(opened).not.toBe(false);
    for (const i of [3, 5, 7, 9, 11]) expect(opened[i]).toBeNull();
    for (const i of [3, 5, 7]) expect(one(values[i] as Uint8Array)).toBeNull();
    expect(Buffer.from(opened[12] as Uint8Array).equals(one(values[12] as Uint8Array) as Buffer)).toBe(true);
  });

  it('answers false when any one byte of any value is changed, as opening it alone fails', () => {
    const opener = batch();
    const values = sealAll();
    for (const v of [0, 1, 16, 17, 80, values.length - 1]) {
      const value = values[v] as Buffer;
      // Every byte but the format byte and the key id (those make it not open at all: null).
      for (let at = HEADER; at < value.byteLength; at++) {
        const changed = [...values];
        changed[v] = Buffer.from(value);
        flip(changed[v] as Buffer, at, 0x80);
        expect(one(changed[v] as Buffer)).toBeNull();
        expect(opener.open(changed), `value ${v}, byte ${at}`).toBe(false);
      }
    }
  });

  it('answers false for two tags changed alike, and for values of another workspace or purpose', () => {
    const values = sealAll();
    const tags = values.map((x) => Buffer.from(x));
    for (const i of [2, 40]) flip(tags[i] as Buffer, (tags[i] as Buffer).byteLength - TAG_BYTES, 1);
    expect(batch().open(tags)).toBe(false);
    expect(batch().open([...values.slice(0, 3), ...sealAll(KEY_A, 'other').slice(3, 4)])).toBe(false);
    expect(batch().open([...sealAll(KEY_A, WS, 'media').slice(0, 1), ...values.slice(1)])).toBe(false);
  });

  it('answers false for a value cut short or grown by a block, with its tag kept', () => {
    const value = sealAll()[40] as Buffer;
    const tagAt = value.byteLength - TAG_BYTES;
    const shorter = Buffer.concat([value.subarray(0, tagAt - 16), value.subarray(tagAt)]);
    const longer = Buffer.concat([value.subarray(0, tagAt), Buffer.alloc(16), value.subarray(tagAt)]);
    expect(one(shorter)).toBeNull();
    expect(one(longer)).toBeNull();
    expect(batch().open([shorter])).toBe(false);
    expect(batch().open([longer])).toBe(false);
  });

  it('opens an empty page', () => {
    expect(batch().open([])).toEqual([]);
  });
});
