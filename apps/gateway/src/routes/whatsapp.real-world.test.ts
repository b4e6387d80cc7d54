import { createHmac } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import {
  expectStoreMatches,
  type FixtureDb,
  fixtureBodies,
  ledgerConnector,
  loadWebhookFixtures,
} from '@wabridge/core/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestApp, TEST_APP_SECRET } from '../testing/harness.ts';

/**
 * Real-world webhook bodies, recorded as JSON files in tests/fixtures/whatsapp (see its README):
 * every message type with the optional parts Meta actually sends, statuses of every kind, batches,
 * other fields Meta delivers to the same endpoint, identity variants (BSUID, no `from`), odd
 * scalars, nulls and envelopes that are not envelopes. Each body is signed and posted through the
 * real app and store, and must be answered 200, leave what its file says, and change nothing when
 * Meta delivers it again. (tests/e2e runs the same files with Slack, Teams and HubSpot on.)
 */

type TestApp = Awaited<ReturnType<typeof createTestApp>>;

const FIXTURES = fileURLToPath(new URL('../../../../tests/fixtures/whatsapp/', import.meta.url));
const fixtures = loadWebhookFixtures(FIXTURES);

const PN = '106540352242922';
const PN2 = '106540352242923';

const connectors = [
  { manifest: ledgerConnector, config: { url: 'http://127.0.0.1:9', secret: 'ledger-secret-123' } },
];

const sign = (body: string | Uint8Array) =>
  `sha256=${createHmac('sha256', TEST_APP_SECRET).update(body).digest('hex')}`;

const dbOf = (t: TestApp) => (t.runtime.store as unknown as { db: FixtureDb }).db;

/** Every row ingest can touch, so a re-delivery can be shown to change nothing at all. */
function snapshot(t: TestApp) {
  const db = dbOf(t);
  const rows = (table: string, order = 'id') => db.all(`SELECT * FROM ${table} ORDER BY ${order}`);
  return {
    messages: rows('messages'),
    statuses: rows('message_statuses'),
    contacts: rows('contacts'),
    conversations: rows('conversations'),
    consent: rows('consent_ledger'),
    consentState: rows('consent_state', 'workspace_id, contact_id, category'),
    jobs: rows('jobs'),
    // Where a webhook's jobs wait until a claim admits them (none runs here: the worker is off).
    jobsNew: rows('jobs_new'),
    platformEvents: rows('platform_events'),
    unrouted: rows('unrouted_events'),
  };
}

describe('real-world WhatsApp webhooks through the HTTP edge', () => {
  let t: TestApp;
  beforeEach(async () => {
    t = await createTestApp({ connectors, phoneNumberIds: [PN, PN2] });
  });
  afterEach(async () => {
    await t.close();
  });

  const post = (body: string) =>
    t.app.request('/webhooks/whatsapp', {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json', 'x-hub-signature-256': sign(body) },
    });

  it('finds the recorded bodies', () => {
    expect(fixtures.length).toBeGreaterThanOrEqual(75);
  });

  for (const fixture of fixtures) {
    it(`${fixture.id} — ${fixture.name}: 200, stored, and a re-delivery changes nothing`, async () => {
      const bodies = fixtureBodies(fixture);
      for (const body of bodies) {
        const response = await post(body);
        expect(response.status, await response.clone().text()).toBe(200);
      }
      const check = () => expectStoreMatches(fixture, t.runtime.store, dbOf(t), t.workspaceId);
      await check();
      const before = snapshot(t);
      // Something was stored: every acknowledged body leaves a trace.
      expect(Object.values(before).some((rows) => rows.length > 0)).toBe(true);
      for (const body of bodies) expect((await post(body)).status).toBe(200);
      expect(snapshot(t)).toEqual(before);
      await check();
    });
  }

  it('the same bodies delivered out of order and repeatedly end in the same state', async () => {
    const bodies = fixtures.filter((f) => f.raw === undefined).flatMap(fixtureBodies);
    for (const body of bodies) expect((await post(body)).status).toBe(200);
    const once = snapshot(t);
    for (const body of [...bodies].reverse()) expect((await post(body)).status).toBe(200);
    expect(snapshot(t)).toEqual(once);
  });
});
