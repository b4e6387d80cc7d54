import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import {
  type Json,
  ledgerConnector,
  mutatedBodies,
  mutationRun,
  mutationTimeout,
} from '@wabridge/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { createTestApp, TEST_APP_SECRET } from '../testing/harness.ts';

/**
 * Real traffic is messier than any list of cases: Meta's example payloads, each changed at random
 * places (keys dropped, scalars of the wrong type, empty or huge strings, unknown keys, arrays
 * where objects were, elements repeated), are signed and posted through the real app and store.
 * Every one is JSON from Meta, so every one must be answered 200, and posting it again must change
 * nothing. A failure names the seed and the body's index (see mutationRun to run it again).
 */

type TestApp = Awaited<ReturnType<typeof createTestApp>>;

const { seed: SEED, count: COUNT } = mutationRun(300);

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
      for (const { body, where } of mutatedBodies(() => examples, 300)) {
        const text = JSON.stringify(body);
        const first = await post(text);
        expect(first.status, `${where} → ${await first.text()}`).toBe(200);
        const once = snapshot(t);
        const again = await post(text);
        expect(again.status, where).toBe(200);
        expect(snapshot(t), where).toEqual(once);
      }
      // Each body reads every table twice, so longer runs take longer than the default allows.
    },
    mutationTimeout(300, 50),
  );
});
