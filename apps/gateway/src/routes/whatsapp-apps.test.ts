import { createHmac } from 'node:crypto';
import { startWhatsAppEmulator, type WhatsAppEmulator } from '@wabridge/sandbox/whatsapp';
import { WhatsAppApps } from '@wabridge/whatsapp';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, TEST_APP_SECRET, TEST_VERIFY_TOKEN } from '../testing/harness.ts';

/**
 * The webhook edge with several Meta apps: the per-app path keeps every guarantee of the shared
 * one (size limit, 401/403, handshake, durable before 200) with that app's secret only.
 */
type TestApp = Awaited<ReturnType<typeof createTestApp>>;

const APP = '1000000000000001';
const SECRET = 'c3'.repeat(16);
const TOKEN = 'EAAG-own-token-of-the-number-01';
const NUMBER = '106540352242922';

const sign = (body: string, secret: string) =>
  `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;

function textWebhook(wamid: string, phoneNumberId = NUMBER) {
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
                {
                  from: '16505551234',
                  id: wamid,
                  timestamp: '1749416383',
                  type: 'text',
                  text: { body: 'hi' },
                },
              ],
            },
          },
        ],
      },
    ],
  });
}

const post = (t: TestApp, path: string, body: string, headers: Record<string, string> = {}) =>
  t.app.request(`/webhooks/whatsapp${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
  });

const stored = async (t: TestApp, wamid: string) =>
  (await t.runtime.store.getMessageByWamid('acme', wamid)) !== null;

describe('the webhook path of one Meta app', () => {
  let t: TestApp;
  // The Cloud API the number's token is tried against before it is stored.
  let wa: WhatsAppEmulator;
  beforeAll(async () => {
    wa = await startWhatsAppEmulator({
      appSecret: TEST_APP_SECRET,
      accessToken: 'emulator-default-token',
      apps: [{ appId: APP, appSecret: SECRET }],
      phoneNumbers: [
        {
          phoneNumberId: NUMBER,
          displayPhoneNumber: '15550783881',
          wabaId: '419561257915477',
          appId: APP,
          accessToken: TOKEN,
        },
      ],
    });
  });
  afterAll(async () => {
    await wa?.close();
  });
  afterEach(async () => {
    await t?.close();
  });

  async function withApp(env: Record<string, string> = {}, verifyToken: string | null = 'app-verify') {
    t = await createTestApp({
      env: { WHATSAPP_API_BASE_URL: wa.url, ...env },
      phoneNumberIds: [NUMBER, '106540352242923'],
    });
    await t.runtime.whatsappApps.addApp('test', { appId: APP, secrets: [SECRET], verifyToken });
    await t.runtime.whatsappApps.setNumberCredentials('test', 'acme', NUMBER, {
      appId: APP,
      wabaId: '419561257915477',
      accessToken: TOKEN,
    });
  }

  it('keeps the size limit, 401 without a signature, 403 for another secret, 405 for other methods', async () => {
    await withApp({ WEBHOOK_MAX_BODY_BYTES: '2048' });
    const big = JSON.stringify({ pad: 'x'.repeat(4096) });
    const tooLarge = await post(t, `/${APP}`, big, { 'x-hub-signature-256': sign(big, SECRET) });
    expect(tooLarge.status).toBe(413);
    const body = textWebhook('wamid.PERAPP1');
    const missing = await post(t, `/${APP}`, body);
    expect(missing.status).toBe(401);
    expect(await missing.json()).toMatchObject({ error: { code: 'signature_missing' } });
    // The default app's secret is not this app's.
    const other = await post(t, `/${APP}`, body, { 'x-hub-signature-256': sign(body, TEST_APP_SECRET) });
    expect(other.status).toBe(403);
    expect(await other.json()).toMatchObject({ error: { code: 'signature_mismatch' } });
    expect(await stored(t, 'wamid.PERAPP1')).toBe(false);
    const put = await t.app.request(`/webhooks/whatsapp/${APP}`, { method: 'PUT' });
    expect(put.status).toBe(405);
    const ok = await post(t, `/${APP}`, body, { 'x-hub-signature-256': sign(body, SECRET) });
    expect(ok.status).toBe(200);
    // 200 means committed.
    expect(await stored(t, 'wamid.PERAPP1')).toBe(true);
  });

  it("answers the handshake with the app's own verify token, or WHATSAPP_VERIFY_TOKEN when it has none", async () => {
    await withApp();
    const handshake = (path: string, token: string) =>
      t.app.request(
        `/webhooks/whatsapp${path}?hub.mode=subscribe&hub.verify_token=${token}&hub.challenge=42`,
      );
    const own = await handshake(`/${APP}`, 'app-verify');
    expect([own.status, await own.text()]).toEqual([200, '42']);
    expect((await handshake(`/${APP}`, TEST_VERIFY_TOKEN)).status).toBe(403);
    // The shared path accepts the environment's token and every app's own.
    expect((await handshake('', TEST_VERIFY_TOKEN)).status).toBe(200);
    expect((await handshake('', 'app-verify')).status).toBe(200);
    expect((await handshake('', 'nobody')).status).toBe(403);
    await t.runtime.whatsappApps.addApp('test', { appId: '2000000000000002', secrets: ['d4'.repeat(16)] });
    expect((await handshake('/2000000000000002', TEST_VERIFY_TOKEN)).status).toBe(200);
    const unknown = await handshake('/3000000000000003', TEST_VERIFY_TOKEN);
    expect(unknown.status).toBe(404);
    // An app registered by another process (its own WhatsAppApps on the same store; the edge's
    // snapshot is not told): the refusal looks again at the store and finds it at once.
    const elsewhere = new WhatsAppApps({ store: t.runtime.store, secrets: t.runtime.secrets, defaults: {} });
    await elsewhere.addApp('test', { appId: '4000000000000004', secrets: ['e5'.repeat(16)] });
    expect((await handshake('/4000000000000004', TEST_VERIFY_TOKEN)).status).toBe(200);
  });

  it('the shared path learns the signer and holds it to its numbers; numbers nobody routes are kept whoever signed', async () => {
    await withApp();
    const mine = textWebhook('wamid.SHARED1');
    expect((await post(t, '', mine, { 'x-hub-signature-256': sign(mine, SECRET) })).status).toBe(200);
    // The default app's number signed by the registered app: refused, nothing stored.
    const defaults = textWebhook('wamid.SHARED2', '106540352242923');
    const refused = await post(t, '', defaults, { 'x-hub-signature-256': sign(defaults, SECRET) });
    expect(refused.status).toBe(403);
    expect(await refused.json()).toMatchObject({
      error: {
        code: 'app_mismatch',
        message: `phone_number_id 106540352242923 belongs to the default Meta app (WHATSAPP_APP_SECRET); this webhook was signed by Meta app ${APP}`,
      },
    });
    expect(await stored(t, 'wamid.SHARED2')).toBe(false);
    expect(
      (await post(t, '', defaults, { 'x-hub-signature-256': sign(defaults, TEST_APP_SECRET) })).status,
    ).toBe(200);
    const unrouted = textWebhook('wamid.SHARED3', '999000999000');
    expect((await post(t, '', unrouted, { 'x-hub-signature-256': sign(unrouted, SECRET) })).status).toBe(200);
    expect(await t.runtime.store.countUnrouted()).toBe(1);
    // Taking the number's credentials away gives it back to the default app.
    await t.runtime.whatsappApps.removeNumberCredentials('test', 'acme', NUMBER);
    const after = textWebhook('wamid.SHARED4');
    expect((await post(t, `/${APP}`, after, { 'x-hub-signature-256': sign(after, SECRET) })).status).toBe(
      403,
    );
  });

  it('a token that cannot read the number is refused with one line and nothing is stored', async () => {
    t = await createTestApp({ env: { WHATSAPP_API_BASE_URL: wa.url }, phoneNumberIds: [NUMBER] });
    await t.runtime.whatsappApps.addApp('test', { appId: APP, secrets: [SECRET] });
    const attempt = t.runtime.whatsappApps.setNumberCredentials('test', 'acme', NUMBER, {
      appId: APP,
      wabaId: '419561257915477',
      accessToken: 'EAAG-a-token-meta-never-issued',
    });
    await expect(attempt).rejects.toMatchObject({ code: 'bad_request' });
    const message = await attempt.catch((error: Error) => error.message);
    expect(message).toMatch(
      new RegExp(`^the access token cannot read number ${NUMBER} through the Cloud API: `),
    );
    expect(message).not.toContain('\n');
    expect(await t.runtime.store.listNumberCredentials()).toEqual([]);
  });

  it('without WHATSAPP_APP_SECRET, registered apps alone are accepted (503 until one is registered)', async () => {
    t = await createTestApp({ env: { WHATSAPP_APP_SECRET: '' } });
    const body = textWebhook('wamid.NOENV1');
    expect((await post(t, '', body, { 'x-hub-signature-256': sign(body, SECRET) })).status).toBe(503);
    await t.runtime.whatsappApps.addApp('test', { appId: APP, secrets: [SECRET] });
    expect((await post(t, '', body, { 'x-hub-signature-256': sign(body, SECRET) })).status).toBe(200);
    expect(await stored(t, 'wamid.NOENV1')).toBe(true);
  });
});
