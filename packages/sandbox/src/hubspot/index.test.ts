import { afterEach, describe, expect, it } from 'vitest';
import { createClock } from '../shared/clock.ts';
import { startServer } from '../shared/server.ts';
import { type HubSpotEmulator, searchablePhone, signatureV3, startHubSpotEmulator } from './index.ts';

const TOKEN = 'pat-test';
const SECRET = 'client-secret';
let open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const o of open.reverse()) await o.close();
  open = [];
});

async function emulator(options: Partial<Parameters<typeof startHubSpotEmulator>[0]> = {}) {
  const hs = await startHubSpotEmulator({ accessToken: TOKEN, clientSecret: SECRET, ...options });
  open.push(hs);
  return hs;
}

function call(hs: HubSpotEmulator, method: string, path: string, body?: unknown, token = TOKEN) {
  return fetch(`${hs.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  }).then(async (r) => ({
    status: r.status,
    headers: r.headers,
    body: r.status === 204 ? null : await r.json(),
  }));
}

const comm = (key: string, contactId: string, trace?: string) => ({
  properties: {
    hs_communication_channel_type: 'WHATS_APP',
    hs_communication_logged_from: 'CRM',
    hs_communication_body: key,
    hs_timestamp: '1760000000000',
    ...(key ? { msg_key: key } : {}),
  },
  associations: [
    { to: { id: contactId }, types: [{ associationCategory: 'HUBSPOT_DEFINED', associationTypeId: 81 }] },
  ],
  ...(trace ? { objectWriteTraceId: trace } : {}),
});

describe('HubSpot emulator: contacts and the normalised phone properties', () => {
  it('tells the token’s portal from the account-info details, and refuses another token with 401', async () => {
    const hs = await emulator({ portalId: 4242424 });
    expect(await call(hs, 'GET', '/account-info/v3/details')).toMatchObject({
      status: 200,
      body: { portalId: 4242424, accountType: 'STANDARD', timeZone: expect.any(String) },
    });
    expect((await call(hs, 'GET', '/account-info/v3/details', undefined, 'pat-other')).status).toBe(401);
  });

  it('computes the national number HubSpot searches on, whatever the format', () => {
    expect(searchablePhone('+1 (555) 020-0001')).toBe('5550200001');
    expect(searchablePhone('555.020.0001')).toBe('5550200001');
    expect(searchablePhone('1-555-020-0001')).toBe('5550200001');
    expect(searchablePhone('+44 20 7946 0018')).toBe('2079460018');
    expect(searchablePhone('0044 20 7946 0018')).toBe('2079460018');
    expect(searchablePhone('020 7946 0018')).toBe('2079460018');
    expect(searchablePhone('')).toBeNull();
  });

  it('finds contacts by the calculated property with IN, and enforces the search limits', async () => {
    const hs = await emulator();
    const a = hs.seedContact({ phone: '+1 (555) 020-0001' });
    const b = hs.seedContact({ mobilephone: '555 020 0002' });
    hs.seedContact({ phone: '+44 555 020 0003' });
    const found = await call(hs, 'POST', '/crm/v3/objects/contacts/search', {
      filterGroups: [
        {
          filters: [
            {
              propertyName: 'hs_searchable_calculated_phone_number',
              operator: 'IN',
              values: ['5550200001', '5550200002'],
            },
          ],
        },
        {
          filters: [
            {
              propertyName: 'hs_searchable_calculated_mobile_number',
              operator: 'IN',
              values: ['5550200001', '5550200002'],
            },
          ],
        },
      ],
      properties: ['phone', 'mobilephone'],
      limit: 10,
    });
    expect(found.status).toBe(200);
    expect(found.body.results.map((r: { id: string }) => r.id).sort()).toEqual([a, b].sort());
    const tooMany = await call(hs, 'POST', '/crm/v3/objects/contacts/search', {
      filterGroups: Array.from({ length: 6 }, () => ({
        filters: [{ propertyName: 'phone', operator: 'HAS_PROPERTY' }],
      })),
    });
    expect(tooMany).toMatchObject({ status: 400, body: { category: 'VALIDATION_ERROR' } });
  });

  it('hides recent writes from search for the configured index lag', async () => {
    const clock = createClock();
    const hs = await emulator({ clock, searchIndexLagMs: 5000 });
    hs.seedContact({ firstname: 'Fresh' });
    const search = () =>
      call(hs, 'POST', '/crm/v3/objects/contacts/search', {
        filterGroups: [{ filters: [{ propertyName: 'firstname', operator: 'EQ', value: 'fresh' }] }],
      });
    expect((await search()).body.total).toBe(0);
    clock.advance(5000);
    expect((await search()).body.total).toBe(1);
  });
});

describe('HubSpot emulator: batch writes', () => {
  async function withKey(hs: HubSpotEmulator) {
    await call(hs, 'POST', '/crm/v3/properties/communications/groups', { name: 'test', label: 'Test' });
    const created = await call(hs, 'POST', '/crm/v3/properties/communications', {
      name: 'msg_key',
      label: 'Key',
      type: 'string',
      fieldType: 'text',
      groupName: 'test',
      hasUniqueValue: true,
    });
    expect(created.status).toBe(201);
  }

  it('without trace ids a batch is all or nothing; with them each input fails alone (207)', async () => {
    const hs = await emulator();
    await withKey(hs);
    const contact = hs.seedContact({ firstname: 'A' });
    const bad = {
      ...comm('k2', contact),
      properties: { ...comm('k2', contact).properties, hs_communication_channel_type: 'FAX' },
    };
    const whole = await call(hs, 'POST', '/crm/v3/objects/communications/batch/create', {
      inputs: [comm('k1', contact), bad],
    });
    expect(whole).toMatchObject({ status: 400, body: { category: 'VALIDATION_ERROR' } });
    expect(hs.communications()).toHaveLength(0);
    const traced = await call(hs, 'POST', '/crm/v3/objects/communications/batch/create', {
      inputs: [comm('k1', contact, 't1'), { ...bad, objectWriteTraceId: 't2' }, comm('k1', contact, 't3')],
    });
    expect(traced.status).toBe(207);
    expect(traced.body.results.map((r: { objectWriteTraceId: string }) => r.objectWriteTraceId)).toEqual([
      't1',
    ]);
    expect(
      traced.body.errors.map((e: { category: string; context: { objectWriteTraceId: string[] } }) => [
        e.category,
        e.context.objectWriteTraceId[0],
      ]),
    ).toEqual([
      ['VALIDATION_ERROR', 't2'],
      ['CONFLICT', 't3'],
    ]);
    expect(hs.timeline(contact)).toHaveLength(1);
  });

  it('reads by a unique property, answers results out of input order, and refuses more than 100 inputs', async () => {
    const hs = await emulator();
    await withKey(hs);
    const contact = hs.seedContact({ firstname: 'A' });
    await call(hs, 'POST', '/crm/v3/objects/communications/batch/create', {
      inputs: ['a', 'b', 'c'].map((k) => comm(k, contact)),
    });
    const read = await call(hs, 'POST', '/crm/v3/objects/communications/batch/read', {
      inputs: [{ id: 'a' }, { id: 'b' }, { id: 'zz' }],
      idProperty: 'msg_key',
      properties: ['msg_key'],
    });
    expect(read.status).toBe(207);
    expect(read.body.results.map((r: { properties: { msg_key: string } }) => r.properties.msg_key)).toEqual([
      'b',
      'a',
    ]);
    expect(read.body.errors[0]).toMatchObject({ category: 'OBJECT_NOT_FOUND', context: { ids: ['zz'] } });
    const big = await call(hs, 'POST', '/crm/v3/objects/contacts/batch/create', {
      inputs: Array.from({ length: 101 }, () => ({ properties: {} })),
    });
    expect(big.status).toBe(400);
  });

  it('refuses an association to a deleted contact, and follows a merged one to the survivor', async () => {
    const hs = await emulator();
    const gone = hs.seedContact({ firstname: 'Gone' });
    const merged = hs.seedContact({ firstname: 'Merged' });
    const survivor = hs.seedContact({ firstname: 'Survivor' });
    hs.deleteContact(gone);
    hs.mergeContacts(survivor, merged);
    const refused = await call(hs, 'POST', '/crm/v3/objects/communications/batch/create', {
      inputs: [{ ...comm('', gone), objectWriteTraceId: 'x' }],
    });
    expect(refused.body.errors[0]).toMatchObject({
      category: 'VALIDATION_ERROR',
      context: { toObjectId: [gone] },
    });
    await call(hs, 'POST', '/crm/v3/objects/communications/batch/create', { inputs: [comm('', merged)] });
    expect(hs.timeline(survivor)).toHaveLength(1);
    expect(hs.contact(merged)?.id).toBe(survivor);
    expect(hs.contact(survivor)?.properties.hs_merged_object_ids).toBe(merged);
  });
});

describe('HubSpot emulator: limits and failures', () => {
  it('answers 429 TEN_SECONDLY_ROLLING past the rolling window, with the rate-limit headers before it', async () => {
    const clock = createClock();
    const hs = await emulator({ clock, limits: { tenSecondly: 3 } });
    const get = () => call(hs, 'GET', '/crm/v3/properties/contacts/firstname');
    const first = await get();
    expect(first.headers.get('x-hubspot-ratelimit-max')).toBe('3');
    expect(first.headers.get('x-hubspot-ratelimit-remaining')).toBe('2');
    await get();
    await get();
    const limited = await get();
    expect(limited).toMatchObject({
      status: 429,
      body: { errorType: 'RATE_LIMIT', policyName: 'TEN_SECONDLY_ROLLING', category: 'RATE_LIMITS' },
    });
    clock.advance(10_000);
    expect((await get()).status).toBe(200);
  });

  it('counts a daily budget that resets at midnight, and limits search per second', async () => {
    // A frozen noon: the day cannot turn, nor a second pass, between two calls.
    const clock = createClock(() => Date.UTC(2026, 5, 15, 12));
    const hs = await emulator({ clock, limits: { daily: 2, searchPerSecond: 1 } });
    const search = () => call(hs, 'POST', '/crm/v3/objects/contacts/search', {});
    expect((await search()).status).toBe(200);
    expect((await search()).body).toMatchObject({
      policyName: 'SECONDLY',
      message: 'You have reached your secondly limit.',
    });
    clock.advance(1000);
    expect((await search()).status).toBe(200);
    const daily = await search();
    expect(daily).toMatchObject({ status: 429, body: { policyName: 'DAILY' } });
    expect(daily.headers.get('retry-after')).toBeNull();
    clock.advance((Math.floor(clock.now() / 86_400_000) + 1) * 86_400_000 - clock.now());
    expect((await search()).status).toBe(200);
  });

  it('refuses a wrong token, and can lose the answer of a call it carried out', async () => {
    const hs = await emulator();
    expect((await call(hs, 'GET', '/crm/v3/objects/contacts', undefined, 'wrong')).status).toBe(401);
    hs.failNext('lost_response');
    const lost = await call(hs, 'POST', '/crm/v3/objects/contacts', { properties: { firstname: 'Ghost' } });
    expect(lost.status).toBe(502);
    expect(hs.contacts().map((c) => c.properties.firstname)).toEqual(['Ghost']);
  });

  it('throttles with seeded chaos: HubSpot’s 429 body and Retry-After, nothing done, until switched off', async () => {
    const hs = await emulator({ chaos: { seed: 3, throttleRate: 1 } });
    const throttled = await call(hs, 'POST', '/crm/v3/objects/contacts', {
      properties: { firstname: 'Ada' },
    });
    expect(throttled).toMatchObject({
      status: 429,
      body: { category: 'RATE_LIMITS', errorType: 'RATE_LIMIT', policyName: 'TEN_SECONDLY_ROLLING' },
    });
    expect(throttled.headers.get('retry-after')).toBe('1');
    expect(hs.contacts()).toEqual([]);
    hs.setChaos(null);
    expect(
      (await call(hs, 'POST', '/crm/v3/objects/contacts', { properties: { firstname: 'Ada' } })).status,
    ).toBe(201);
  });
});

describe('HubSpot emulator: webhooks', () => {
  it('signs v3 webhooks for UI and API changes, naming the app as the source of its own writes', async () => {
    const received: { uri: string; body: string; headers: Headers }[] = [];
    const target = await startServer({
      fetch: async (request) => {
        received.push({ uri: request.url, body: await request.text(), headers: request.headers });
        return new Response(null, { status: received.length === 1 ? 500 : 204 });
      },
    });
    open.push(target);
    const hs = await emulator({
      appId: 99,
      portalId: 12,
      webhookUrl: `${target.url}/hook`,
      webhookRetryDelaysMs: [10],
      subscriptions: [
        { eventType: 'contact.propertyChange', propertyName: 'firstname' },
        { eventType: 'contact.merge' },
      ],
    });
    const id = hs.seedContact({ firstname: 'A' });
    hs.updateContact(id, { firstname: 'B' }, { userId: 5 });
    await hs.idle();
    await call(hs, 'PATCH', `/crm/v3/objects/contacts/${id}`, { properties: { firstname: 'C' } });
    await hs.idle();
    expect(received).toHaveLength(3); // the first delivery failed once and was retried
    for (const { uri, body, headers } of received) {
      const timestamp = headers.get('x-hubspot-request-timestamp') ?? '';
      expect(headers.get('x-hubspot-signature-v3')).toBe(
        signatureV3({ clientSecret: SECRET, method: 'POST', uri, body, timestamp }),
      );
    }
    const [ui, , api] = received.map((r) => JSON.parse(r.body)[0]);
    expect(ui).toMatchObject({
      portalId: 12,
      appId: 99,
      objectId: Number(id),
      propertyValue: 'B',
      changeSource: 'CRM_UI',
      sourceId: 'userId:5',
    });
    expect(api).toMatchObject({ propertyValue: 'C', changeSource: 'INTEGRATION', sourceId: '99' });
    expect(hs.ledger.count('webhook.attempt')).toBe(3);
  });
});
