import { constants, createDecipheriv, createHmac, privateDecrypt, X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWebhookRecorder, type WebhookRecorder } from '../shared/recorder.ts';
import {
  createThrowawayCertificate,
  type GraphEmulator,
  startGraphEmulator,
  trustCertificateInProcess,
} from './index.ts';

let graph: GraphEmulator;
let receiver: WebhookRecorder;
let appToken = '';
let userToken = '';

/** A receiver that passes Graph's validation handshake (echoes the decoded token as text/plain). */
const echoValidation = (request: { path: string }) => {
  const token = new URL(request.path, 'http://x').searchParams.get('validationToken');
  return token === null ? 202 : new Response(token, { headers: { 'content-type': 'text/plain' } });
};

async function token(body: Record<string, string>): Promise<string> {
  const response = await fetch(graph.tokenEndpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      client_id: graph.app.clientId,
      client_secret: graph.app.clientSecret,
      ...body,
    }),
  });
  const json = (await response.json()) as { access_token?: string };
  return json.access_token ?? '';
}

async function call(method: string, path: string, bearer: string, body?: unknown) {
  const response = await fetch(`${graph.url}/v1.0${path}`, {
    method,
    headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    json: text ? (JSON.parse(text) as Record<string, unknown>) : {},
  };
}

const channelPath = () => `/teams/${graph.teamId}/channels/${encodeURIComponent(graph.channelId)}`;
const subscription = (extra: Record<string, unknown> = {}) => ({
  changeType: 'created,updated',
  notificationUrl: `${receiver.url}/notifications`,
  lifecycleNotificationUrl: `${receiver.url}/lifecycle`,
  resource: `${channelPath()}/messages`,
  expirationDateTime: new Date(Date.now() + 30 * 60_000).toISOString(),
  clientState: 'secret-client-state',
  ...extra,
});

beforeAll(async () => {
  graph = await startGraphEmulator({ notificationRetryDelaysMs: [] });
  trustCertificateInProcess(graph.certificate);
  receiver = await startWebhookRecorder({ respond: echoValidation });
  appToken = await token({ grant_type: 'client_credentials', scope: 'https://graph.microsoft.com/.default' });
  userToken = await token({
    grant_type: 'refresh_token',
    refresh_token: graph.signIn(),
    scope: 'https://graph.microsoft.com/.default',
  });
});
afterAll(async () => {
  await receiver?.close();
  await graph?.close();
});

describe('Graph emulator', () => {
  it('answers /me with the signed-in user of a delegated token, and 400 to an app-only token', async () => {
    expect(await call('GET', '/me', userToken)).toMatchObject({
      status: 200,
      json: { id: graph.serviceAccount.id, displayName: graph.serviceAccount.displayName },
    });
    expect(await call('GET', '/me', appToken)).toMatchObject({
      status: 400,
      json: { error: { code: 'BadRequest' } },
    });
    expect((await call('GET', '/me', 'not-a-token')).status).toBe(401);
  });

  it('refuses channel posts with an application token, as Graph does outside migration mode', async () => {
    const asApp = await call('POST', `${channelPath()}/messages`, appToken, { body: { content: 'hi' } });
    expect(asApp.status).toBe(403);
    const asUser = await call('POST', `${channelPath()}/messages`, userToken, { body: { content: 'hi' } });
    expect(asUser.status).toBe(201);
    expect((asUser.json.from as { user: { id: string } }).user.id).toBe(graph.serviceAccount.id);
    const noToken = await call('GET', `${channelPath()}/messages`, 'nope');
    expect(noToken.status).toBe(401);
  });

  it('creates a subscription only after both URLs pass the validation handshake', async () => {
    receiver.respondWith(200);
    const refused = await call('POST', '/subscriptions', appToken, subscription());
    expect(refused.status).toBe(400);
    expect(String((refused.json.error as { message: string }).message)).toMatch(/validation request failed/);
    receiver.respondWith(echoValidation);
    const tooLong = await call('POST', '/subscriptions', appToken, {
      ...subscription({ expirationDateTime: new Date(Date.now() + 120 * 60_000).toISOString() }),
      lifecycleNotificationUrl: undefined,
    });
    expect(tooLong.status).toBe(400);
    const created = await call('POST', '/subscriptions', appToken, subscription());
    expect(created.status).toBe(201);
    expect(graph.ledger.filter('subscription.validation').filter((v) => v.ok)).toHaveLength(2);
    await call('DELETE', `/subscriptions/${created.json.id}`, appToken);
  });

  it('answers 429 with Retry-After beyond 4 requests per second on a channel', async () => {
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i < 8; i++) {
      const response = await call('GET', `${channelPath()}/messages`, appToken);
      statuses.push(response.status);
      retryAfter ??= response.headers.get('retry-after');
    }
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThan(0);
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
    graph.advanceTime(2000);
  });

  it('throttles with seeded chaos: 429 TooManyRequests with Retry-After, until switched off', async () => {
    graph.setChaos({ seed: 3, throttleRate: 1 });
    const throttled = await call('GET', `${channelPath()}/messages`, appToken);
    graph.setChaos(null);
    expect(throttled.status).toBe(429);
    expect(throttled.json).toMatchObject({ error: { code: 'TooManyRequests' } });
    expect(throttled.headers.get('retry-after')).toBe('1');
    expect(graph.ledger.count('throttled', (e) => e.rule === 'chaos')).toBe(1);
    graph.advanceTime(2000);
    expect((await call('GET', `${channelPath()}/messages`, appToken)).status).toBe(200);
  });

  it('notifies with clientState, and encrypts resource data so that only the key holder reads it', async () => {
    const pair = await createThrowawayCertificate('notifications');
    const der = Buffer.from(new X509Certificate(pair.cert).raw).toString('base64');
    const created = await call(
      'POST',
      '/subscriptions',
      appToken,
      subscription({
        includeResourceData: true,
        encryptionCertificate: der,
        encryptionCertificateId: 'cert-1',
      }),
    );
    expect(created.status).toBe(201);
    const mark = receiver.ledger.mark();
    const root = graph.agentPost({ text: 'root' });
    const reply = graph.agentReply({ rootId: root.id, text: 'secret reply' });
    const [request] = await receiver.ledger.waitFor('request', {
      since: mark,
      where: (r) => r.path === '/notifications' && r.text.includes(`replies('${reply.id}')`),
    });
    const body = JSON.parse(request?.text ?? '{}') as {
      value: Array<{
        clientState: string;
        encryptedContent: { data: string; dataKey: string; dataSignature: string };
      }>;
      validationTokens: string[];
    };
    const [item] = body.value;
    expect(item?.clientState).toBe('secret-client-state');
    expect(body.validationTokens).toHaveLength(1);
    const content = item?.encryptedContent;
    const key = privateDecrypt(
      { key: pair.key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' },
      Buffer.from(content?.dataKey ?? '', 'base64'),
    );
    const data = Buffer.from(content?.data ?? '', 'base64');
    expect(createHmac('sha256', key).update(data).digest('base64')).toBe(content?.dataSignature);
    const decipher = createDecipheriv('aes-256-cbc', key, key.subarray(0, 16));
    const message = JSON.parse(Buffer.concat([decipher.update(data), decipher.final()]).toString('utf8')) as {
      body: { content: string };
    };
    expect(message.body.content).toBe('secret reply');
  });

  it('serves pasted images (hostedContents) and shared files (shares API → 302 → download) to token holders only', async () => {
    const root = graph.agentPost({ text: 'thread' });
    graph.advanceTime(2000);
    const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]);
    const reply = graph.agentReply({
      rootId: root.id,
      text: 'see <attached> & "signed"',
      images: [{ bytes: png }],
      files: [{ name: 'invoice.pdf', bytes: '%PDF-1.4 invoice', contentType: 'application/pdf' }],
    });
    const [file] = reply.attachments;
    expect(file).toMatchObject({ contentType: 'reference', name: 'invoice.pdf' });
    // With files, the body turns HTML, escaped as Teams does; the text reads back unchanged.
    expect(reply.body.content).toContain('<p>see &lt;attached&gt; &amp; &quot;signed&quot;</p>');
    expect(graph.ledger.filter('message.created').at(-1)?.text).toBe('see <attached> & "signed"');
    expect(reply.body.content).toContain(`<attachment id="${file?.id}"></attachment>`);
    const src = /<img [^>]*src="([^"]+)"/.exec(reply.body.content)?.[1] ?? '';
    expect(src).toMatch(
      new RegExp(
        `^${graph.url}/v1\\.0/teams/${graph.teamId}/channels/.+/messages/${root.id}/replies/${reply.id}/hostedContents/[^/]+/\\$value$`,
      ),
    );
    // Hosted content ids carry `=`, so clients escape them; the route decodes.
    const [, hostedId = ''] = /hostedContents\/([^/]+)\/\$value$/.exec(src) ?? [];
    const imageUrl = `${graph.url}/v1.0${channelPath()}/messages/${root.id}/replies/${reply.id}/hostedContents/${encodeURIComponent(hostedId)}/$value`;
    const image = await fetch(imageUrl, { headers: { authorization: `Bearer ${appToken}` } });
    expect(image.status).toBe(200);
    expect(image.headers.get('content-type')).toBe('image/png');
    expect(new Uint8Array(await image.arrayBuffer())).toEqual(png);
    expect((await fetch(imageUrl, { headers: { authorization: 'Bearer nope' } })).status).toBe(401);
    expect(
      (
        await call(
          'GET',
          `${channelPath()}/messages/${root.id}/replies/${reply.id}/hostedContents/eA==/$value`,
          appToken,
        )
      ).status,
    ).toBe(404);

    const shareId = `u!${Buffer.from(file?.contentUrl ?? '').toString('base64url')}`;
    const share = await fetch(`${graph.url}/v1.0/shares/${shareId}/driveItem/content`, {
      headers: { authorization: `Bearer ${appToken}` },
      redirect: 'manual',
    });
    expect(share.status).toBe(302);
    const location = share.headers.get('location') ?? '';
    expect(location.startsWith(graph.url)).toBe(true);
    // The download URL is pre-authenticated: no bearer token needed.
    const download = await fetch(location);
    expect(download.headers.get('content-type')).toBe('application/pdf');
    expect(await download.text()).toBe('%PDF-1.4 invoice');
    expect(graph.ledger.filter('content.served').map((e) => e.source)).toEqual([
      'hostedContent',
      'driveItem',
    ]);
    expect((await call('GET', `/shares/${shareId}/driveItem/content`, 'nope')).status).toBe(401);
    expect(
      (
        await call(
          'GET',
          `/shares/u!${Buffer.from('https://x.example/a').toString('base64url')}/driveItem/content`,
          appToken,
        )
      ).status,
    ).toBe(404);
    graph.deleteFile(file?.contentUrl ?? '');
    expect((await call('GET', `/shares/${shareId}/driveItem/content`, appToken)).status).toBe(404);
    expect((await fetch(location)).status).toBe(404);
    graph.advanceTime(2000);
  });

  it('sends lifecycle events on demand; subscriptionRemoved deletes the subscription', async () => {
    const created = await call('POST', '/subscriptions', appToken, subscription());
    const id = String(created.json.id);
    const mark = receiver.ledger.mark();
    await graph.lifecycle(id, 'subscriptionRemoved');
    const [request] = await receiver.ledger.waitFor('request', {
      since: mark,
      where: (r) => r.path === '/lifecycle',
    });
    expect(JSON.parse(request?.text ?? '{}')).toMatchObject({
      value: [{ subscriptionId: id, lifecycleEvent: 'subscriptionRemoved' }],
    });
    expect((await call('GET', `/subscriptions/${id}`, appToken)).status).toBe(404);
  });
});
