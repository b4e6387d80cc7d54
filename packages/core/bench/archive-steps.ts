// node --disable-warning=ExperimentalWarning packages/core/bench/archive-steps.ts [--iterations 200000]
// What each step of a message's archive record costs the store thread, apart: canonical JSON of
// its content (`{ content, text }`, Meta's message object as it comes) and of its record, the
// salted content bytes, the content commitment, the AES-256-GCM seal and the leaf hash, on the
// shape `npm run bench` sends (a customer text). Each step runs `--iterations` times after a
// warm-up; prints µs of this thread's CPU per call (process.threadCpuUsage), with JSON.stringify
// beside canonical JSON for scale. For sizing what could leave the store thread (issue 18).
import { createSecretKey, randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { leafHash } from '../src/archive/log/hash.ts';
import { CONTENT_SALT_BYTES, canonicalJson, contentHash } from '../src/store/sqlite/archive.ts';
import { freshRandom, sealWith } from '../src/vault/keyring.ts';

const { values } = parseArgs({ options: { iterations: { type: 'string', default: '200000' } } });
const iterations = Number(values.iterations);
const out = (line: string) => process.stdout.write(`${line}\n`);
const key = createSecretKey(randomBytes(32));

// Meta's key order (`timestamp` before `text`), as parsed from a webhook body.
const messages = Array.from({ length: 1000 }, (_, i) => ({
  from: '15550001234',
  id: `wamid.${randomBytes(24).toString('base64')}`,
  timestamp: String(1_750_000_000 + i),
  text: { body: `Message number ${i}: does it come in another color?` },
  type: 'text',
}));
const contentOf = (i: number) => {
  const message = messages[i % messages.length] as (typeof messages)[number];
  return { content: message, text: message.text.body };
};
// As ArchiveAppender.appendSealed builds it (keys in sorted order).
const recordOf = (i: number) => ({
  content_hash: 'ab'.repeat(32),
  data: {
    conversation_id: 'cnv_01JABCDEFGHJKMNPQRSTVWXYZ0',
    created_at: 1_750_000_000_000 + i,
    direction: 'inbound',
    id: 'msg_01JABCDEFGHJKMNPQRSTVWXYZ0',
    relates_to: null,
    sender: null,
    ts: 1_750_000_000_000,
    type: 'text',
    wamid: messages[i % messages.length]?.id,
  },
  entity_id: 'msg_01JABCDEFGHJKMNPQRSTVWXYZ0',
  kind: 'message.inbound',
  recorded_at: 1_750_000_000_000 + i,
  seq: i,
  v: 2,
  workspace_id: 'bench',
});

let sink: unknown;
function time(name: string, step: (i: number) => unknown): void {
  for (let i = 0; i < 20_000; i++) sink = step(i);
  const started = process.threadCpuUsage();
  for (let i = 0; i < iterations; i++) sink = step(i);
  const used = process.threadCpuUsage(started);
  out(`${name}: ${((used.user + used.system) / iterations).toFixed(2)} µs`);
}

const saltAndContent = Buffer.concat([
  freshRandom(CONTENT_SALT_BYTES),
  Buffer.from(canonicalJson(contentOf(0)), 'utf8'),
]);
const recordBytes = Buffer.from(canonicalJson(recordOf(0)), 'utf8');
time('content: canonicalJson', (i) => canonicalJson(contentOf(i)));
time('content: JSON.stringify (for scale)', (i) => JSON.stringify(contentOf(i)));
time('content: salt + canonical bytes', (i) =>
  Buffer.concat([freshRandom(CONTENT_SALT_BYTES), Buffer.from(canonicalJson(contentOf(i)), 'utf8')]),
);
time('content: commitment (SHA-256)', () => contentHash(saltAndContent));
time('content: seal (AES-256-GCM)', () =>
  sealWith('01020304', key, 'bench', 'archive.content', saltAndContent),
);
time('record: canonical bytes', (i) => Buffer.from(canonicalJson(recordOf(i)), 'utf8'));
time('record: JSON.stringify bytes (for scale)', (i) => Buffer.from(JSON.stringify(recordOf(i)), 'utf8'));
time('record: leaf hash', () => leafHash(recordBytes));
void sink;
