import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { ledgerConnector, signLedgerCallback } from '@wabridge/core/testing';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { createTestApp, TEST_APP_SECRET, TEST_VERIFY_TOKEN } from '../testing/harness.ts';

type TestApp = Awaited<ReturnType<typeof createTestApp>>;

const sign = (body: string | Uint8Array, secret = TEST_APP_SECRET) =>
  `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;

// Two mirrors, so "one job per enabled connector" means two jobs per message.
const mirrorB = { ...ledgerConnector, id: 'mirror-b' };
const connectors = [
  { manifest: ledgerConnector, config: { url: 'http://127.0.0.1:9', secret: 'ledger-secret-123' } },
  { manifest: mirrorB, config: { url: 'http://127.0.0.1:9', secret: 'ledger-secret-123' } },
];

function textWebhook(
  wamid: string,
  body = 'Does it come in another color? caf\u00e9',
  phoneNumberId = '106540352242922',
) {
  // Meta signs the escaped-unicode form: non-ASCII arrives as \uXXXX in the raw bytes.
  return JSON.stringify({
    object: 'whatsapp_business_account',
    entry: [
      {
        id: '419561257915477',
        changes: [
          {
            field: 'messages',
            value: {
              messaging_product: 'whatsapp',
              metadata: { display_phone_number: '15550783881', phone_number_id: phoneNumberId },
              contacts: [{ profile: { name: 'Sheena Nelson' }, wa_id: '16505551234' }],
              messages: [
                { from: '16505551234', id: wamid, timestamp: '1749416383', type: 'text', text: { body } },
              ],
            },
          },
        ],
      },
    ],
  }).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

async function counts(t: TestApp) {
  const db = (t.runtime.store as unknown as { db: { get<T>(sql: string): T } }).db;
  const n = (table: string) => db.get<{ n: number }>(`SELECT count(*) AS n FROM ${table}`)?.n ?? 0;
  return {
    messages: n('messages'),
    statuses: n('message_statuses'),
    // Queued jobs: those a claim has admitted into their queues and those still waiting for one.
    jobs: n('jobs') + n('jobs_new, json_each(jobs_new.connectors)'),
    platformEvents: n('platform_events'),
    unrouted: n('unrouted_events'),
    contacts: n('contacts'),
  };
}

const post = (t: TestApp, body: BodyInit, headers: Record<string, string> = {}) =>
  t.app.request('/webhooks/whatsapp', {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/json', ...headers },
  });

describe('WhatsApp webhook edge', () => {
  let t: TestApp;
  beforeEach(async () => {
    t = await createTestApp({ connectors });
  });
  afterEach(async () => {
    await t.close();
  });

  describe('verification handshake', () => {
    it('echoes hub.challenge as plain text when the verify token matches', async () => {
      const res = await t.app.request(
        `/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=${TEST_VERIFY_TOKEN}&hub.challenge=1158201444`,
      );
      expect(res.status).toBe(200);
      expect(await res.text()).toBe('1158201444');
      expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    });

    it('refuses a wrong verify token or mode with 403', async () => {
      for (const query of [
        'hub.mode=subscribe&hub.verify_token=nope&hub.challenge=1',
        'hub.mode=unsubscribe&hub.verify_token=test-verify-token&hub.challenge=1',
        '',
      ]) {
        const res = await t.app.request(`/webhooks/whatsapp?${query}`);
        expect(res.status).toBe(403);
      }
    });

    it('never serves a reflected challenge as HTML', async () => {
      const challenge = encodeURIComponent('<script>alert(1)</script>');
      const res = await t.app.request(
        `/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=${TEST_VERIFY_TOKEN}&hub.challenge=${challenge}`,
      );
      expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    });

    it('answers other methods with 405 and the methods Meta uses', async () => {
      for (const method of ['PUT', 'PATCH', 'DELETE']) {
        const res = await t.app.request('/webhooks/whatsapp', { method, body: '{}' });
        expect(res.status, method).toBe(405);
        expect(res.headers.get('allow')).toBe('GET, HEAD, POST');
        expect(((await res.json()) as { error: { code: string } }).error.code).toBe('method_not_allowed');
      }
    });
  });

  it("matches Meta's webhook with Hono's RegExpRouter, and still answers every other route", async () => {
    // A route the RegExpRouter refuses, added beside the webhook, would put every message through
    // the slower TrieRouter again (docs/performance.md, 2026-12-06 night).
    const res = await t.app.request(
      `/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=${TEST_VERIFY_TOKEN}&hub.challenge=7`,
    );
    expect(res.status).toBe(200);
    expect((t.app.router as { name: string }).name).toBe('SmartRouter + RegExpRouter');
    expect((await t.app.request('/healthz')).status).toBe(200);
    expect((await t.app.request('/webhooks/whatsapp/not-an-app-id', { method: 'POST' })).status).toBe(404);
    const unknown = await t.app.request('/hooks/slack-app', { method: 'PUT' });
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { error: { code: string } }).error.code).toBe('not_found');
  });

  describe('signature', () => {
    const body = textWebhook('wamid.sig');
    const flipped = (() => {
      const bytes = Buffer.from(body);
      bytes[40] = (bytes[40] ?? 0) ^ 0x01;
      return bytes;
    })();
    const reserialised = JSON.stringify(JSON.parse(body));
    const cases: [string, BodyInit, Record<string, string>, number, string][] = [
      ['missing', body, {}, 401, 'signature_missing'],
      ['malformed', body, { 'x-hub-signature-256': 'sha256=xyz' }, 403, 'signature_malformed'],
      [
        'wrong prefix',
        body,
        { 'x-hub-signature-256': sign(body).replace('sha256=', 'sha1=') },
        403,
        'signature_wrong_prefix',
      ],
      [
        'wrong secret',
        body,
        { 'x-hub-signature-256': sign(body, 'another-secret') },
        403,
        'signature_mismatch',
      ],
      ['one flipped body bit', flipped, { 'x-hub-signature-256': sign(body) }, 403, 'signature_mismatch'],
      ['re-serialised JSON', reserialised, { 'x-hub-signature-256': sign(body) }, 403, 'signature_mismatch'],
    ];
    for (const [name, payload, headers, status, code] of cases) {
      it(`rejects a ${name} signature with ${status} and stores nothing`, async () => {
        expect(reserialised).not.toBe(body);
        const res = await post(t, payload, headers);
        expect(res.status).toBe(status);
        expect(((await res.json()) as { error: { code: string } }).error.code).toBe(code);
        expect(await counts(t)).toEqual({
          messages: 0,
          statuses: 0,
          jobs: 0,
          platformEvents: 0,
          unrouted: 0,
          contacts: 0,
        });
      });
    }

    it('accepts the exact signed bytes, escaped unicode included', async () => {
      const res = await post(t, body, { 'x-hub-signature-256': sign(body) });
      expect(res.status).toBe(200);
      const message = await t.runtime.store.getMessageByWamid(t.workspaceId, 'wamid.sig');
      expect(message?.text).toBe('Does it come in another color? café');
    });
  });

  describe('body limit', () => {
    const big = `{"entry":[],"pad":"${'x'.repeat(1024 * 1024)}"}`;
    it('answers 413 to a 1 MiB body before checking the signature, and stores nothing', async () => {
      const res = await post(t, big, { 'x-hub-signature-256': sign(big) });
      expect(res.status).toBe(413);
      expect(await counts(t)).toMatchObject({ messages: 0, platformEvents: 0, unrouted: 0 });
    });

    it('cuts off an oversized chunked body (no Content-Length) with 413', async () => {
      const stream = new ReadableStream<Uint8Array>({
        start(controller) {
          for (let i = 0; i < 20; i++) controller.enqueue(new Uint8Array(64 * 1024).fill(32));
          controller.close();
        },
      });
      const res = await t.app.request('/webhooks/whatsapp', {
        method: 'POST',
        body: stream,
        headers: { 'x-hub-signature-256': sign('irrelevant') },
        duplex: 'half',
      } as RequestInit);
      expect(res.status).toBe(413);
    });
  });

  describe('ingest', () => {
    it('stores a message once and one job per enabled connector, even when delivered 5 times at once', async () => {
      const body = textWebhook('wamid.five');
      const responses = await Promise.all(
        Array.from({ length: 5 }, () => post(t, body, { 'x-hub-signature-256': sign(body) })),
      );
      expect(responses.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
      expect(await counts(t)).toMatchObject({ messages: 1, jobs: 2, contacts: 1 });
      const stats = await t.runtime.store.jobStats();
      expect(stats.byConnector).toEqual({
        ledger: { ready: 1, running: 0, dead: 0, coalesced: 0 },
        'mirror-b': { ready: 1, running: 0, dead: 0, coalesced: 0 },
      });
    });

    it('acknowledges a number no workspace owns, keeps it as unrouted and counts it', async () => {
      const body = textWebhook('wamid.unrouted', 'hello', '999999');
      const res = await post(t, body, { 'x-hub-signature-256': sign(body) });
      expect(res.status).toBe(200);
      expect(await counts(t)).toMatchObject({ messages: 0, jobs: 0, unrouted: 1 });
      expect(await t.metrics.registry.getSingleMetricAsString('wabridge_webhooks_unrouted_total')).toMatch(
        / 1$/m,
      );
    });

    it('keeps a signed body that is not a webhook envelope instead of losing it', async () => {
      const body = JSON.stringify({ object: 'whatsapp_business_account', something: 'new' });
      const res = await post(t, body, { 'x-hub-signature-256': sign(body) });
      expect(res.status).toBe(200);
      expect(await counts(t)).toMatchObject({ platformEvents: 1 });
    });

    it('answers 400 to a signed body that is not JSON', async () => {
      const body = 'not json';
      const res = await post(t, body, { 'x-hub-signature-256': sign(body) });
      expect(res.status).toBe(400);
      expect(await counts(t)).toMatchObject({ messages: 0, platformEvents: 0 });
    });

    it('records STOP as an opt-out with the message as evidence', async () => {
      const body = textWebhook('wamid.stop', 'STOP');
      await post(t, body, { 'x-hub-signature-256': sign(body) });
      const message = await t.runtime.store.getMessageByWamid(t.workspaceId, 'wamid.stop');
      const conversation = await t.runtime.store.getConversation(
        t.workspaceId,
        message?.conversationId ?? '',
      );
      const history = await t.runtime.store.consentHistory(t.workspaceId, conversation?.contactId ?? '');
      expect(history).toEqual([
        expect.objectContaining({
          category: 'all',
          state: 'opted_out',
          source: 'keyword',
          evidenceMessageId: message?.id,
        }),
      ]);
    });
  });
});

describe("Meta's published example payloads", () => {
  type Example = {
    name: string;
    payload: {
      entry?: {
        changes?: { value?: { metadata?: { phone_number_id?: string }; messages?: { id: string }[] } }[];
      }[];
    };
  };
  let examples: Example[];
  let t: TestApp;

  beforeAll(() => {
    const require = createRequire(import.meta.url);
    const specPath = require.resolve('@wabridge/sandbox/vendor/meta/business-messaging-api_v23.0.yaml');
    const spec = parseYaml(readFileSync(specPath, 'utf8')) as {
      paths: Record<
        string,
        {
          post?: {
            requestBody?: { content?: Record<string, { examples?: Record<string, { value: unknown }> }> };
          };
        }
      >;
    };
    const content = spec.paths['/whatsapp/webhooks']?.post?.requestBody?.content?.['application/json'];
    examples = Object.entries(content?.examples ?? {}).map(([name, example]) => ({
      name,
      payload: example.value as Example['payload'],
    }));
  });
  afterEach(async () => {
    await t?.close();
  });

  it('every example is answered 200, stored, and queued once per enabled connector', async () => {
    expect(examples.length).toBeGreaterThanOrEqual(15);
    const numbers = new Set<string>();
    const wamids = new Set<string>();
    for (const { payload } of examples) {
      for (const entry of payload.entry ?? []) {
        for (const change of entry.changes ?? []) {
          const id = change.value?.metadata?.phone_number_id;
          if (id) numbers.add(String(id));
          for (const m of change.value?.messages ?? []) wamids.add(m.id);
        }
      }
    }
    t = await createTestApp({ connectors, phoneNumberIds: [...numbers] });
    for (const { name, payload } of examples) {
      const body = JSON.stringify(payload);
      const res = await post(t, body, { 'x-hub-signature-256': sign(body) });
      expect(res.status, name).toBe(200);
    }
    for (const wamid of wamids)
      expect(await t.runtime.store.getMessageByWamid(t.workspaceId, wamid), wamid).not.toBeNull();
    const c = await counts(t);
    expect(c.messages).toBe(wamids.size);
    // Every message is queued for both mirrors; examples that carry no message (group events)
    // are kept as platform events.
    const stats = await t.runtime.store.jobStats();
    expect(stats.byConnector.ledger?.ready).toBeGreaterThanOrEqual(wamids.size);
    expect(stats.byConnector['mirror-b']?.ready).toBe(stats.byConnector.ledger?.ready);
  });
});

describe('connector callbacks', () => {
  it('records the commands a callback yields before answering, and refuses forged ones', async () => {
    const t = await createTestApp({ connectors });
    try {
      const body = JSON.stringify({ id: 'cb-1', thread: 'unknown-thread', text: 'hello', user: 'agent' });
      const forged = await t.app.request(`/hooks/ledger/${t.workspaceId}`, {
        method: 'POST',
        body,
        headers: { 'x-ledger-signature': 'bad' },
      });
      expect(forged.status).toBe(401);
      const ok = await t.app.request(`/hooks/ledger/${t.workspaceId}`, {
        method: 'POST',
        body,
        headers: { 'x-ledger-signature': signLedgerCallback('ledger-secret-123', body) },
      });
      expect(ok.status).toBe(200);
      const missing = await t.app.request('/hooks/ledger/no-such-workspace', { method: 'POST', body });
      expect(missing.status).toBe(404);
    } finally {
      await t.close();
    }
  });
});
