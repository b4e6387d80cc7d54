import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { ledgerConnector } from '@wabridge/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { createTestApp, TEST_APP_SECRET } from '../testing/harness.ts';

/**
 * Real traffic is messier than any list of cases: Meta's example payloads, each changed at random
 * places (keys dropped, scalars of the wrong type, empty or huge strings, unknown keys, arrays
 * where objects were, elements repeated), are signed and posted through the real app and store.
 * Every one is JSON from Meta, so every one must be answered 200, and posting it again must change
 * nothing. The PRNG is seeded: a failure names the seed and the body's index,
 * and WABRIDGE_MUTATION_SEED / WABRIDGE_MUTATIONS run it again or longer.
 */

type TestApp = Awaited<ReturnType<typeof createTestApp>>;
type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const SEED = Number(process.env.WABRIDGE_MUTATION_SEED ?? 20261204);
const COUNT = Number(process.env.WABRIDGE_MUTATIONS ?? 300);

/** mulberry32: small, fast and good enough to pick mutations; the same seed, the same bodies. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Values real payloads have been seen to carry where something else was expected. */
const ODD_VALUES: Json[] = [
  null,
  true,
  0,
  -1,
  1.5,
  1e308,
  9007199254740993,
  '',
  ' ',
  '0',
  '1749416383',
  'not-a-number',
  '🙂👍🏽',
  'x'.repeat(5000),
  '<script>alert(1)</script>',
  {},
  [],
  [null],
  { unexpected: { deep: [1, 'a', null] } },
];

type Path = (string | number)[];

/** Every place in the tree a mutation can hit (the root excluded). */
function paths(value: Json, prefix: Path = []): Path[] {
  if (Array.isArray(value))
    return value.flatMap((item, i) => [[...prefix, i], ...paths(item, [...prefix, i])]);
  if (value !== null && typeof value === 'object')
    return Object.entries(value).flatMap(([key, item]) => [
      [...prefix, key],
      ...paths(item, [...prefix, key]),
    ]);
  return [];
}

function parentOf(root: Json, path: Path): Json {
  let node = root;
  for (const step of path.slice(0, -1)) node = (node as Record<string | number, Json>)[step] as Json;
  return node;
}

/** One random change at one random place: the value replaced, dropped, repeated, wrapped or joined. */
function mutate(root: Json, random: () => number): string {
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)] as T;
  const all = paths(root);
  if (all.length === 0) return 'nothing to change';
  const path = pick(all);
  const container = parentOf(root, path);
  const list = Array.isArray(container) ? container : null;
  const parent = container as unknown as Record<string | number, Json>;
  const key = path.at(-1) as string | number;
  const at = path.join('.');
  const kind = pick(['replace', 'replace', 'replace', 'drop', 'repeat', 'wrap', 'unknown key', 'retype']);
  switch (kind) {
    case 'replace': {
      const value = pick(ODD_VALUES);
      parent[key] = structuredClone(value);
      return `${at} = ${JSON.stringify(value).slice(0, 40)}`;
    }
    case 'drop':
      if (list) list.splice(key as number, 1);
      else delete parent[key];
      return `${at} dropped`;
    case 'repeat':
      if (list) {
        list.splice(key as number, 0, structuredClone(list[key as number] as Json));
        return `${at} repeated`;
      }
      parent[`${key}_copy`] = structuredClone(parent[key] as Json);
      return `${at} copied beside itself`;
    case 'wrap':
      parent[key] = [structuredClone(parent[key] as Json)];
      return `${at} wrapped in an array`;
    case 'unknown key': {
      const target = parent[key];
      if (target !== null && typeof target === 'object' && !Array.isArray(target)) {
        target[`new_field_${Math.floor(random() * 1000)}`] = structuredClone(pick(ODD_VALUES));
        return `${at} got an unknown key`;
      }
      parent[key] = { value: structuredClone(target as Json) };
      return `${at} became an object`;
    }
    default: {
      // A number as a string and the other way round, as loosely typed producers send them.
      const value = parent[key];
      if (typeof value === 'number') parent[key] = String(value);
      else if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value)))
        parent[key] = Number(value);
      else parent[key] = 42;
      return `${at} retyped`;
    }
  }
}

const sign = (body: string) => `sha256=${createHmac('sha256', TEST_APP_SECRET).update(body).digest('hex')}`;

type Db = { all<T>(sql: string): T[] };
/** Every table an ingest can write, so a second delivery can be shown to change nothing. */
function snapshot(t: TestApp) {
  const db = (t.runtime.store as unknown as { db: Db }).db;
  const tables = [
    'messages',
    'message_statuses',
    'contacts',
    'conversations',
    'consent_ledger',
    'consent_state',
    'jobs',
    'jobs_new',
    'platform_events',
    'unrouted_events',
  ];
  return Object.fromEntries(
    tables.map((table) => [table, db.all(`SELECT * FROM ${table} ORDER BY 1, 2, 3`)]),
  );
}

describe('mutated real-world webhooks through the HTTP edge', () => {
  let t: TestApp;
  let examples: Json[];
  beforeAll(async () => {
    const require = createRequire(import.meta.url);
    const spec = parseYaml(
      readFileSync(
        require.resolve('@wabridge/sandbox/vendor/meta/business-messaging-api_v23.0.yaml'),
        'utf8',
      ),
    ) as {
      paths: Record<string, { post?: { requestBody?: { content?: Record<string, { examples?: object }> } } }>;
    };
    const content = spec.paths['/whatsapp/webhooks']?.post?.requestBody?.content?.['application/json'];
    examples = Object.values(content?.examples ?? {}).map((e) => (e as { value: Json }).value);
    // The examples' own numbers belong to the workspace, so most mutated bodies are routed.
    const numbers = new Set(JSON.stringify(examples).match(/(?<="phone_number_id":")\d+/g) ?? []);
    t = await createTestApp({
      connectors: [
        { manifest: ledgerConnector, config: { url: 'http://127.0.0.1:9', secret: 'ledger-secret-123' } },
      ],
      phoneNumberIds: [...numbers],
    });
  });
  afterAll(async () => {
    await t?.close();
  });

  const post = (body: string) =>
    t.app.request('/webhooks/whatsapp', {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json', 'x-hub-signature-256': sign(body) },
    });

  it(
    `answers ${COUNT} mutated bodies 200, and a second delivery of each changes nothing (seed ${SEED})`,
    async () => {
      expect(examples.length).toBeGreaterThanOrEqual(15);
      const random = prng(SEED);
      for (let i = 0; i < COUNT; i++) {
        const body = structuredClone(examples[Math.floor(random() * examples.length)] as Json);
        const changes = Array.from({ length: 1 + Math.floor(random() * 3) }, () => mutate(body, random));
        const text = JSON.stringify(body);
        const where = `body ${i} (seed ${SEED}): ${changes.join('; ')}`;
        const first = await post(text);
        expect(first.status, `${where} → ${await first.text()}`).toBe(200);
        const once = snapshot(t);
        const again = await post(text);
        expect(again.status, where).toBe(200);
        expect(snapshot(t), where).toEqual(once);
      }
      // Each body reads every table twice, so longer runs take longer than the default allows.
    },
    30_000 + COUNT * 50,
  );
});
