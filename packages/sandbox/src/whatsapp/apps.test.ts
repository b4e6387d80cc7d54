import { describe, expect, it } from 'vitest';
import { startWebhookRecorder } from '../shared/recorder.ts';
import { APP_SECRET, harness, PHONE, TOKEN, text } from './testing.ts';
import { DEFAULT_APP_ID } from './types.ts';
import { verifyWebhookSignature } from './wire.ts';

const OTHER_APP = { appId: '2000000000000002', appSecret: 'second-app-secret', name: 'Brand B' };
const OTHER_NUMBER = {
  phoneNumberId: '209876543210987',
  displayPhoneNumber: '447700900123',
  wabaId: '309876543210987',
  verifiedName: 'Brand B Support',
  qualityRating: 'YELLOW' as const,
  appId: OTHER_APP.appId,
  accessToken: 'token-of-brand-b',
};

/** Two Meta apps: the default one with the sandbox number, and Brand B's app with its own number, token and URL. */
async function twoApps() {
  const second = await startWebhookRecorder();
  const h = await harness({
    apps: [{ ...OTHER_APP, webhookUrl: `${second.url}/brand-b` }],
    phoneNumbers: [PHONE, OTHER_NUMBER],
  });
  return {
    ...h,
    second,
    async [Symbol.asyncDispose]() {
      await h[Symbol.asyncDispose]();
      await second.close();
    },
  };
}

describe('several Meta apps', () => {
  it('signs each number’s webhooks with its own app’s secret and sends them to that app’s URL', async () => {
    await using h = await twoApps();
    await h.wa
      .customer({ waId: '15550001111', name: 'Ann', phoneNumberId: PHONE.phoneNumberId })
      .sendText('to A');
    await h.wa
      .customer({ waId: '15550002222', name: 'Bob', phoneNumberId: OTHER_NUMBER.phoneNumberId })
      .sendText('to B');
    const [toA] = h.receiver.requests;
    const [toB] = h.second.requests;
    expect(toA?.text).toContain('to A');
    expect(toB?.text).toContain('to B');
    expect(h.receiver.requests.some((r) => r.text.includes('to B'))).toBe(false);
    expect(verifyWebhookSignature(APP_SECRET, toA?.bytes ?? '', toA?.headers['x-hub-signature-256'])).toBe(
      true,
    );
    expect(
      verifyWebhookSignature(OTHER_APP.appSecret, toB?.bytes ?? '', toB?.headers['x-hub-signature-256']),
    ).toBe(true);
    // The other app's secret does not verify it: a receiver that tries every secret finds one.
    expect(verifyWebhookSignature(APP_SECRET, toB?.bytes ?? '', toB?.headers['x-hub-signature-256'])).toBe(
      false,
    );
    expect(h.wa.ledger.filter('webhook.attempt').map((a) => a.appId)).toEqual([
      DEFAULT_APP_ID,
      OTHER_APP.appId,
    ]);
  });

  it('sends through a number only with a token granted its WABA, and reports statuses to that number’s app', async () => {
    await using h = await twoApps();
    await h.wa
      .customer({ waId: '15550002222', name: 'Bob', phoneNumberId: OTHER_NUMBER.phoneNumberId })
      .sendText('hi');
    await h.wa
      .customer({ waId: '15550001111', name: 'Ann', phoneNumberId: PHONE.phoneNumberId })
      .sendText('hi');
    const viaB = { phoneNumberId: OTHER_NUMBER.phoneNumberId };
    const refused = await h.send(text('15550002222'), { ...viaB, token: TOKEN });
    expect([refused.status, refused.json.error.code, refused.json.error.error_subcode]).toEqual([
      400, 100, 33,
    ]);
    expect((await h.send(text('15550001111'), { token: OTHER_NUMBER.accessToken })).json.error.code).toBe(
      100,
    );
    expect((await h.send(text('15550002222'), { ...viaB, token: 'nobody-s-token' })).json.error.code).toBe(
      190,
    );
    const ok = await h.send(text('15550002222', 'hello from B'), {
      ...viaB,
      token: OTHER_NUMBER.accessToken,
    });
    expect(ok.status).toBe(200);
    await h.wa.idle();
    const statuses = h.second
      .jsonBodies()
      .flatMap((p) =>
        (
          (p as { entry: { changes: { value: { statuses?: { id: string; status: string }[] } }[] }[] })
            .entry[0]?.changes[0]?.value.statuses ?? []
        ).map((s) => [s.id, s.status]),
      );
    expect(statuses).toEqual([
      [ok.json.messages[0].id, 'sent'],
      [ok.json.messages[0].id, 'delivered'],
      [ok.json.messages[0].id, 'read'],
    ]);
    expect(h.wa.ledger.filter('send.rejected').map((r) => r.rule)).toEqual([
      'unknown_object',
      'unknown_object',
      'auth',
    ]);
  });

  it('keeps one app’s media away from another app’s token', async () => {
    await using h = await twoApps();
    const form = new FormData();
    form.set('messaging_product', 'whatsapp');
    form.set('type', 'image/png');
    form.set('file', new Blob([new Uint8Array([137, 80, 78, 71])], { type: 'image/png' }), 'a.png');
    const uploaded = await h.api(`/v23.0/${OTHER_NUMBER.phoneNumberId}/media`, {
      method: 'POST',
      body: form,
      token: OTHER_NUMBER.accessToken,
    });
    expect(uploaded.status).toBe(200);
    expect((await h.api(`/v23.0/${uploaded.json.id}`, { token: TOKEN })).json.error.code).toBe(100);
    const own = await h.api(`/v23.0/${uploaded.json.id}`, { token: OTHER_NUMBER.accessToken });
    expect(own.json.mime_type).toBe('image/png');
    expect((await fetch(own.json.url, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(401);
    expect(
      (await fetch(own.json.url, { headers: { authorization: `Bearer ${OTHER_NUMBER.accessToken}` } }))
        .status,
    ).toBe(200);
  });
});

describe('number profile', () => {
  it('answers GET /{phone-number-id} with verified_name, quality_rating and the display number, as Meta’s spec describes it', async () => {
    await using h = await twoApps();
    const profile = await h.api(`/v23.0/${OTHER_NUMBER.phoneNumberId}`, { token: OTHER_NUMBER.accessToken });
    expect(profile.json).toEqual({
      id: OTHER_NUMBER.phoneNumberId,
      display_phone_number: '+447700900123',
      verified_name: 'Brand B Support',
      quality_rating: 'YELLOW',
      platform_type: 'CLOUD_API',
      throughput: { level: 'STANDARD' },
    });
    expect(
      h.wa.spec.validateResponseBody(
        'GET',
        '/{Version}/{Phone-Number-ID}',
        200,
        'application/json',
        profile.json,
      ).ok,
    ).toBe(true);
    const picked = await h.api(`/v23.0/${PHONE.phoneNumberId}?fields=quality_rating,name_status`, {
      token: TOKEN,
    });
    expect(picked.json).toEqual({
      id: PHONE.phoneNumberId,
      quality_rating: 'GREEN',
      name_status: 'APPROVED',
    });
    expect((await h.api(`/v23.0/${PHONE.phoneNumberId}`, { token: TOKEN })).json.display_phone_number).toBe(
      '+1 555-078-3881',
    );
    expect(
      (await h.api(`/v23.0/${OTHER_NUMBER.phoneNumberId}`, { token: TOKEN })).json.error.error_subcode,
    ).toBe(33);
  });
});

describe('WABA webhook subscriptions', () => {
  it('lists the subscribed app; unsubscribing stops the WABA’s webhooks; subscribing again with an override URL moves them', async () => {
    await using h = await twoApps();
    const path = `/v23.0/${OTHER_NUMBER.wabaId}/subscribed_apps`;
    const token = OTHER_NUMBER.accessToken;
    const listed = await h.api(path, { token });
    expect(listed.json).toEqual({
      data: [
        {
          whatsapp_business_api_data: {
            id: OTHER_APP.appId,
            name: OTHER_APP.name,
            link: `https://www.facebook.com/games/?app_id=${OTHER_APP.appId}`,
          },
        },
      ],
    });
    expect(
      h.wa.spec.validateResponseBody(
        'GET',
        '/{Version}/{WABA-ID}/subscribed_apps',
        200,
        'application/json',
        listed.json,
      ).ok,
    ).toBe(true);
    expect((await h.api(path, { token: TOKEN })).json.error.error_subcode).toBe(33);

    expect((await h.api(path, { method: 'DELETE', token })).json).toEqual({ success: true });
    const bob = h.wa.customer({
      waId: '15550002222',
      name: 'Bob',
      phoneNumberId: OTHER_NUMBER.phoneNumberId,
    });
    await bob.sendText('nobody hears this');
    expect(h.second.requests).toHaveLength(0);
    expect(h.wa.ledger.count('webhook.skipped', (e) => e.reason.includes(OTHER_NUMBER.wabaId))).toBe(1);

    await using moved = await startWebhookRecorder();
    const subscribed = await h.api(path, {
      method: 'POST',
      token,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ override_callback_uri: `${moved.url}/override`, verify_token: 'vt' }),
    });
    expect(subscribed.json).toMatchObject({
      success: true,
      data: [{ override_callback_uri: `${moved.url}/override` }],
    });
    expect(
      h.wa.spec.validateResponseBody(
        'POST',
        '/{Version}/{WABA-ID}/subscribed_apps',
        200,
        'application/json',
        subscribed.json,
      ).ok,
    ).toBe(true);
    await bob.sendText('now it arrives');
    expect(moved.requests.map((r) => r.text.includes('now it arrives'))).toEqual([true]);
    expect(
      verifyWebhookSignature(
        OTHER_APP.appSecret,
        moved.requests[0]?.bytes ?? '',
        moved.requests[0]?.headers['x-hub-signature-256'],
      ),
    ).toBe(true);
    expect(h.wa.subscribedApps(OTHER_NUMBER.wabaId)).toEqual([OTHER_APP.appId]);
  });

  it('sends a WABA’s webhooks to every subscribed app, each signed with its own secret', async () => {
    const second = await startWebhookRecorder();
    await using h = await harness({
      apps: [{ ...OTHER_APP, webhookUrl: `${second.url}/brand-b` }],
      phoneNumbers: [
        PHONE,
        { ...OTHER_NUMBER, wabaId: PHONE.wabaId, accessToken: undefined, appId: undefined },
      ],
    });
    // The second app's system user is granted the WABA and subscribes its app to it.
    const grant = 'token-of-app-b-with-the-shared-waba';
    h.wa.addAccessToken(grant, { appId: OTHER_APP.appId, wabaIds: [PHONE.wabaId] });
    expect(
      (await h.api(`/v23.0/${PHONE.wabaId}/subscribed_apps`, { method: 'POST', token: grant })).json,
    ).toEqual({ success: true });
    await h.wa.customer({ waId: '15550001111', name: 'Ann' }).sendText('both apps');
    expect(
      verifyWebhookSignature(
        APP_SECRET,
        h.receiver.requests[0]?.bytes ?? '',
        h.receiver.requests[0]?.headers['x-hub-signature-256'],
      ),
    ).toBe(true);
    expect(
      verifyWebhookSignature(
        OTHER_APP.appSecret,
        second.requests[0]?.bytes ?? '',
        second.requests[0]?.headers['x-hub-signature-256'],
      ),
    ).toBe(true);
    expect(second.requests[0]?.text).toBe(h.receiver.requests[0]?.text);
    await second.close();
  });
});
