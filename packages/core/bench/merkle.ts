// The archive log's micro-benchmark, in memory (no database): how fast records are appended and
// verified, and how long proofs take in a large tree.
//   node --disable-warning=ExperimentalWarning packages/core/bench/merkle.ts
// Options: --leaves <n> (default 1,000,000: append and verify rates), --big <n> (default
//          10,000,000: proof times), --batch <n> (leaves per append, default 1,000),
//          --record-bytes <n> (default 300, about one archived message), --probes <n> (default 1,000)
import { randomInt } from 'node:crypto';
import { parseArgs } from 'node:util';
import {
  type Hash,
  leafHash,
  MemoryNodeStore,
  MerkleLog,
  noteSigner,
  noteVerifier,
  openCheckpoint,
  signCheckpoint,
  verifyConsistency,
  verifyInclusion,
  verifyLeafStream,
} from '../src/archive/log/index.ts';
import { generateLogKey } from '../src/archive/log/note.ts';

const { values } = parseArgs({
  options: {
    leaves: { type: 'string', default: '1000000' },
    big: { type: 'string', default: '10000000' },
    batch: { type: 'string', default: '1000' },
    'record-bytes': { type: 'string', default: '300' },
    probes: { type: 'string', default: '1000' },
  },
});
const LEAVES = Number(values.leaves);
const BIG = Number(values.big);
const BATCH = Number(values.batch);
const RECORD_BYTES = Number(values['record-bytes']);
const PROBES = Number(values.probes);
if (![LEAVES, BIG, BATCH, RECORD_BYTES, PROBES].every((n) => Number.isSafeInteger(n) && n > 0)) {
  throw new Error('options take positive whole numbers');
}

const out = (line: string) => process.stdout.write(`${line}\n`);
const rate = (count: number, ms: number) => `${Math.round(count / (ms / 1000)).toLocaleString('en')}/s`;

/**
 * Runs `op` and gives its rate by the wall clock and per CPU-second of this process: on a shared
 * machine the first falls with the load, the second is what one idle core does.
 */
async function rates(count: number, op: () => Promise<unknown>): Promise<string> {
  const cpu = process.cpuUsage();
  const started = performance.now();
  await op();
  const wallMs = performance.now() - started;
  const used = process.cpuUsage(cpu);
  const cpuMs = (used.user + used.system) / 1000;
  return `${rate(count, wallMs)} (${rate(count, cpuMs).replace('/s', '')} per CPU-second)`;
}
const mib = (bytes: number) => `${Math.round(bytes / 2 ** 20)} MiB`;

// Records of RECORD_BYTES each, different in their sequence number: a JSON-ish archived message.
// They are made before the clock starts (views on one buffer), so the rates are the log's own:
// reading and decrypting records from a store comes on top.
function makeRecords(count: number): Uint8Array[] {
  const template = new TextEncoder().encode(
    `{"seq":000000000000,"body":"${'x'.repeat(Math.max(0, RECORD_BYTES - 30))}"}`,
  );
  const all = new Uint8Array(count * template.byteLength);
  return Array.from({ length: count }, (_, seq) => {
    const record = all.subarray(seq * template.byteLength, (seq + 1) * template.byteLength);
    record.set(template);
    const digits = String(seq).padStart(12, '0');
    for (let i = 0; i < 12; i++) record[7 + i] = digits.charCodeAt(i);
    return record;
  });
}

function percentile(samples: number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

async function timeEach(count: number, op: (i: number) => Promise<unknown>): Promise<string> {
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    const started = performance.now();
    await op(i);
    samples.push((performance.now() - started) * 1000);
  }
  const mean = samples.reduce((a, b) => a + b, 0) / samples.length;
  return `mean ${mean.toFixed(1)} µs, p50 ${percentile(samples, 50).toFixed(1)} µs, p99 ${percentile(samples, 99).toFixed(1)} µs`;
}

const load = (await import('node:os')).loadavg()[0]?.toFixed(1);
out(
  `node ${process.version}, ${RECORD_BYTES}-byte records, appends of ${BATCH.toLocaleString('en')}, load ${load}`,
);

// 1. Append and verify LEAVES records.
{
  const all = makeRecords(LEAVES);
  const log = await MerkleLog.open(new MemoryNodeStore());
  const appended = await rates(LEAVES, async () => {
    for (let start = 0; start < LEAVES; start += BATCH)
      await log.appendRecords(all.slice(start, start + BATCH));
  });
  out(`append ${LEAVES.toLocaleString('en')} records (leaf hash + tree + store): ${appended}`);

  const origin = 'bench.wabridge.example/archive';
  const key = generateLogKey(origin);
  const note = signCheckpoint({ origin, ...log.head() }, noteSigner(key.signerKey));
  const opened = openCheckpoint(note, { verifiers: [noteVerifier(key.verifierKey)], origin });
  if (!opened.ok) throw new Error(opened.reason);

  const verify = (stored?: MerkleLog) => async () => {
    const verdict = await verifyLeafStream(all, {
      heads: [opened.checkpoint],
      ...(stored ? { stored } : {}),
    });
    if (!verdict.ok) throw new Error(`verification failed: ${verdict.disagreement.message}`);
  };
  out(
    `verify ${LEAVES.toLocaleString('en')} records against a signed checkpoint: ${await rates(LEAVES, verify())}`,
  );
  out(
    `verify ${LEAVES.toLocaleString('en')} records, each also against the stored leaf: ${await rates(LEAVES, verify(log))}`,
  );
}

// 2. Proofs in a tree of BIG leaves. The leaves are hashes of sequence numbers: the cost measured
// is the tree's, not the records'.
{
  const store = new MemoryNodeStore();
  const log = await MerkleLog.open(store);
  const seq = new Uint8Array(8);
  const view = new DataView(seq.buffer);
  const built = await rates(BIG, async () => {
    for (let start = 0; start < BIG; start += 10_000) {
      const batch: Hash[] = [];
      for (let i = start; i < Math.min(BIG, start + 10_000); i++) {
        view.setFloat64(0, i);
        batch.push(leafHash(seq));
      }
      await log.append(batch);
    }
  });
  out(`build ${BIG.toLocaleString('en')} leaves in memory: ${built}, rss ${mib(process.memoryUsage().rss)}`);

  const size = log.size;
  const root = log.head().root;
  const indexes = Array.from({ length: PROBES }, () => randomInt(size));
  const pairs = Array.from({ length: PROBES }, () => {
    const old = 1 + randomInt(size - 1);
    return [old, old + randomInt(size - old + 1)] as const;
  });
  const proofs: Hash[][] = [];
  out(
    `inclusion proof, ${BIG.toLocaleString('en')} leaves: ${await timeEach(PROBES, async (i) => {
      proofs[i] = await log.inclusionProof(indexes[i] as number);
    })}`,
  );
  const leaves = await Promise.all(indexes.map((index) => log.leafHashes(index, 1)));
  out(
    `inclusion verification: ${await timeEach(PROBES, async (i) => {
      if (
        !verifyInclusion(indexes[i] as number, size, leaves[i]?.[0] as Hash, proofs[i] as Hash[], root).ok
      ) {
        throw new Error('inclusion proof failed');
      }
    })}`,
  );
  const consistency: Hash[][] = [];
  out(
    `consistency proof between random sizes: ${await timeEach(PROBES, async (i) => {
      const [old, now] = pairs[i] as readonly [number, number];
      consistency[i] = await log.consistencyProof(old, now);
    })}`,
  );
  const roots = await Promise.all(
    pairs.map(async ([old, now]) => [await log.root(old), await log.root(now)] as const),
  );
  out(
    `consistency verification: ${await timeEach(PROBES, async (i) => {
      const [old, now] = pairs[i] as readonly [number, number];
      const [r1, r2] = roots[i] as readonly [Hash, Hash];
      if (!verifyConsistency(old, now, r1, r2, consistency[i] as Hash[]).ok)
        throw new Error('consistency proof failed');
    })}`,
  );
  out(
    `root at a random past size: ${await timeEach(PROBES, async (i) => {
      await log.root((pairs[i] as readonly [number, number])[0]);
    })}`,
  );
  out(
    `nodes read per proof or root: ${(store.stats.nodesRead / store.stats.readCalls).toFixed(1)} on average`,
  );
}
