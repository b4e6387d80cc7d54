/**
 * The inbound webhook against payloads shaped like HubSpot's real traffic (https://developers.hubspot.com/docs/apps/developer-platform/build-apps/authentication/request-validation):
 * each body is signed here the way HubSpot signs it (independently of verify.ts), delivered to the
 * real handler and then the core exactly as the gateway does, and the test asserts the status and
 * exactly which commands come out.
 */
import { createHash, createHmac } from 'node:crypto';
import type { DomainCommand } from '@wabridge/core';
import { type Json, mutatedBodies, mutationTimeout } from '@wabridge/core/testing';
import type { TestBridge } from '@wabridge/whatsapp/testing';
import { afterEach, describe, expect, it } from 'vitest';
import {
  APP_ID,
  CLIENT_SECRET,
  callsSince,
  deliverHook,
  hubspotContactOf,
  PORTAL_ID,
  startBridge,
} from '../../test/kit.ts';

const PUBLIC_URL = 'https://bridge.example.com';
/** Where a TLS-terminating proxy forwards HubSpot's calls. */
const INTERNAL_URL = 'http://10.0.0.5:8080';
const CONSENT = 'wabridge_whatsapp_consent';

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of cleanup.reverse()) await close();
  cleanup = [];
});

async function setup(options: { appId?: boolean } = {}) {
  const { hubspot, bridge } = await startBridge(cleanup, { ...options, publicUrl: PUBLIC_URL });
  await (await bridge.host.instance(bridge.workspaceId, 'hubspot'))?.maintain?.();
  const target = `${PUBLIC_URL}/hooks/hubspot/${bridge.workspaceId}/webhooks`;
  return { hubspot, bridge, target };
}

/** A customer who wrote once, so their HubSpot contact is linked. */
async function linked(bridge: TestBridge, waId: string) {
  await bridge.customerText('hello', { waId });
  await bridge.worker.drain();
  const conversation = await bridge.conversationOf(waId);
  const hubspotId = (await hubspotContactOf(bridge, conversation?.id ?? '')) ?? '';
  expect(hubspotId).not.toBe('');
  return { contactId: conversation?.contactId ?? '', hubspotId };
}

// --- Signing exactly as HubSpot does --------------------------------------------------------

/** The escapes HubSpot's validation guide says to decode in the URI before signing; no others. */
const HUBSPOT_DECODES: [string, string][] = [
  ['%3A', ':'],
  ['%2F', '/'],
  ['%3F', '?'],
  ['%40', '@'],
  ['%21', '!'],
  ['%24', '$'],
  ['%27', "'"],
  ['%28', '('],
  ['%29', ')'],
  ['%2A', '*'],
  ['%2C', ','],
  ['%3B', ';'],
];

function hubspotUri(uri: string): string {
  let out = uri;
  for (const [encoded, char] of HUBSPOT_DECODES) out = out.replace(new RegExp(encoded, 'gi'), char);
  return out;
}

function v3(secret: string, method: string, uri: string, body: string, timestamp: number | string) {
  return createHmac('sha256', secret)
    .update(`${method}${hubspotUri(uri)}${body}${timestamp}`, 'utf8')
    .digest('base64');
}

/**
 * A request as HubSpot sends it to `target` (the URL configured in the app), arriving through the
 * proxy on the internal URL with the same path and query. `body` is sent byte for byte as given.
 */
function fromHubSpot(
  target: string,
  body: string,
  options: {
    timestamp?: number;
    secret?: string;
    /** The URI the signature covers, when not `target` (to forge or to test URI rules). */
    signedUri?: string;
    headers?: Record<string, string>;
    v3?: boolean;
  } = {},
): Request {
  const timestamp = options.timestamp ?? Date.now();
  const secret = options.secret ?? CLIENT_SECRET;
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'user-agent': 'HubSpot Connect 2.0 (http://dev.hubspot.com/) (namespace: webhooks-nio-http-client)',
    'x-hubspot-request-timestamp': String(timestamp),
    'x-hubspot-signature': createHash('sha256').update(`${secret}${body}`, 'utf8').digest('hex'),
    'x-hubspot-signature-version': 'v1',
    'x-hubspot-timeout-millis': '10000',
    ...(options.v3 === false
      ? {}
      : { 'x-hubspot-signature-v3': v3(secret, 'POST', options.signedUri ?? target, body, timestamp) }),
    ...options.headers,
  };
  return new Request(target.replace(PUBLIC_URL, INTERNAL_URL), { method: 'POST', headers, body });
}

// --- Events as HubSpot builds them ----------------------------------------------------------

let eventSeq = 3_120_000_000;

type Event = Record<string, unknown>;

function event(objectId: string | number, fields: Event = {}): Event {
  return {
    eventId: ++eventSeq,
    subscriptionId: 2_401_113,
    portalId: PORTAL_ID,
    appId: APP_ID,
    occurredAt: Date.now() - 2000,
    subscriptionType: 'contact.propertyChange',
    attemptNumber: 0,
    objectId: Number(objectId),
    changeSource: 'CRM_UI',
    sourceId: 'userId:51234567',
    ...fields,
  };
}

function consentChange(objectId: string, value: unknown, fields: Event = {}): Event {
  return event(objectId, { propertyName: CONSENT, propertyValue: value, ...fields });
}

/** The idempotency key the connector gives an event's commands (stable across HubSpot retries). */
function keyOf(e: Event, suffix?: string): string {
  const base = `${e.portalId}:${e.eventId}:${e.objectId}:${e.occurredAt}`;
  return suffix ? `${base}:${suffix}` : base;
}

function consentCommand(e: Event, category: 'all' | 'marketing', state: 'opted_in' | 'opted_out') {
  return {
    type: 'consent.set',
    idempotencyKey: keyOf(e, category),
    contactId: String(e.objectId),
    category,
    state,
    occurredAt: e.occurredAt,
  };
}

/** The parts of the commands the tests pin down (details are free-form). */
function summary(commands: DomainCommand[]) {
  return commands.map((c) =>
    c.type === 'consent.set'
      ? {
          type: c.type,
          idempotencyKey: c.idempotencyKey,
          contactId: c.contactId,
          category: c.category,
          state: c.state,
          occurredAt: c.occurredAt,
        }
      : c,
  );
}

async function deliver(bridge: TestBridge, target: string, events: unknown, options = {}) {
  return deliverHook(bridge, fromHubSpot(target, JSON.stringify(events), options));
}

async function history(bridge: TestBridge, contactId: string) {
  return (await bridge.store.consentHistory(bridge.workspaceId, contactId)).map((e) => [e.category, e.state]);
}

describe('HubSpot webhook signatures, as HubSpot computes them', () => {
  it('accepts a request signed for the public https URL that arrives through a TLS proxy', async () => {
    const { bridge, target } = await setup();
    const { hubspotId, contactId } = await linked(bridge, '15550501001');
    const e = consentChange(hubspotId, 'opted_out');
    const result = await deliver(bridge, target, [e]);
    expect(result.status).toBe(200);
    expect(summary(result.commands)).toEqual([consentCommand(e, 'all', 'opted_out')]);
    expect(await history(bridge, contactId)).toEqual([['all', 'opted_out']]);
  });

  it('covers the query string, with the escapes HubSpot decodes decoded and the others kept', async () => {
    const { bridge } = await setup();
    const { hubspotId } = await linked(bridge, '15550501002');
    const base = `${PUBLIC_URL}/hooks/hubspot/${bridge.workspaceId}/webhooks`;
    const targets = [
      `${base}?portal=62515&next=%2Fdone%3Fx%3D1&tag=a%3Ab%40c%21%24%27%28%29%2A%2C%3B`,
      `${base}?tag=a%3ab%2fc`, // lowercase hex
      `${base}?name=Ada%20Lovelace&plus=1%2B1&amp=a%26b&pct=100%25`, // not decoded by HubSpot
      `${base}?`, // an empty query
      `${base}/`, // saved with a trailing slash
    ];
    for (const target of targets) {
      const e = consentChange(hubspotId, 'opted_out');
      const result = await deliverHook(bridge, fromHubSpot(target, JSON.stringify([e])));
      expect(result.status, target).toBe(200);
      expect(result.commands, target).toHaveLength(1);
    }
    // The query string is part of what is signed: dropping or changing it breaks the signature.
    const body = JSON.stringify([consentChange(hubspotId, 'opted_in')]);
    const target = `${base}?key=abc`;
    for (const signedUri of [base, `${base}?key=abd`, `${base}?key=abc&x=1`]) {
      const result = await deliverHook(bridge, fromHubSpot(target, body, { signedUri }));
      expect(result.status, signedUri).toBe(401);
    }
  });

  it('signs the raw bytes: pretty-printed, non-ASCII bodies verify; a re-serialized signature does not', async () => {
    const { bridge, target } = await setup();
    const { hubspotId } = await linked(bridge, '15550501003');
    const e = consentChange(hubspotId, 'opted_out', { sourceId: 'userId:7', note: 'Zoë — ✓ 日本' });
    const raw = `[\n  ${JSON.stringify(e, null, 2)}\n]\n`;
    expect((await deliverHook(bridge, fromHubSpot(target, raw))).status).toBe(200);
    const timestamp = Date.now();
    const forged = fromHubSpot(target, raw, {
      timestamp,
      headers: {
        'x-hubspot-signature-v3': v3(CLIENT_SECRET, 'POST', target, JSON.stringify([e]), timestamp),
      },
    });
    expect((await deliverHook(bridge, forged)).status).toBe(401);
  });

  it('requires v3: a request with only a (valid) v1 or v2 signature is refused; a stray v1 next to v3 is ignored', async () => {
    const { bridge, target } = await setup();
    const { hubspotId, contactId } = await linked(bridge, '15550501004');
    const body = JSON.stringify([consentChange(hubspotId, 'opted_out')]);
    const v2 = createHash('sha256').update(`${CLIENT_SECRET}POST${target}${body}`, 'utf8').digest('hex');
    const onlyV1 = fromHubSpot(target, body, { v3: false });
    const onlyV2 = fromHubSpot(target, body, {
      v3: false,
      headers: { 'x-hubspot-signature': v2, 'x-hubspot-signature-version': 'v2' },
    });
    expect((await deliverHook(bridge, onlyV1)).status).toBe(401);
    expect((await deliverHook(bridge, onlyV2)).status).toBe(401);
    expect(await history(bridge, contactId)).toEqual([]);
    const strayV1 = fromHubSpot(target, body, { headers: { 'x-hubspot-signature': 'deadbeef' } });
    expect((await deliverHook(bridge, strayV1)).status).toBe(200);
  });

  it('takes timestamps up to five minutes old and refuses older ones', async () => {
    const { bridge, target } = await setup();
    const { hubspotId } = await linked(bridge, '15550501005');
    const body = JSON.stringify([consentChange(hubspotId, 'opted_out')]);
    const fresh = fromHubSpot(target, body, { timestamp: Date.now() - 5 * 60_000 + 2000 });
    expect((await deliverHook(bridge, fresh)).status).toBe(200);
    const stale = fromHubSpot(target, body, { timestamp: Date.now() - 5 * 60_000 - 2000 });
    expect((await deliverHook(bridge, stale)).status).toBe(401);
    // Seconds instead of milliseconds are decades old.
    const seconds = fromHubSpot(target, body, { timestamp: Math.floor(Date.now() / 1000) });
    expect((await deliverHook(bridge, seconds)).status).toBe(401);
  });

  it('refuses an exact replay, however its signature is spelled', async () => {
    const { bridge, target } = await setup();
    const { hubspotId } = await linked(bridge, '15550501006');
    const genuine = fromHubSpot(target, JSON.stringify([consentChange(hubspotId, 'opted_out')]));
    const signature = genuine.headers.get('x-hubspot-signature-v3') ?? '';
    const spellings = [
      signature,
      signature.replace(/=+$/, ''), // padding dropped
      `${signature} `,
      signature.replaceAll('+', '-').replaceAll('/', '_'), // base64url
      `${signature.slice(0, 10)}.${signature.slice(10)}`, // a character base64 decoding skips
    ].filter((s, i, all) => all.indexOf(s) === i);
    expect(spellings.length).toBeGreaterThan(2);
    expect((await deliverHook(bridge, genuine.clone())).status).toBe(200);
    for (const spelling of spellings) {
      const replay = new Request(genuine.url, {
        method: 'POST',
        headers: { ...Object.fromEntries(genuine.headers), 'x-hubspot-signature-v3': spelling },
        body: await genuine.clone().text(),
      });
      expect((await deliverHook(bridge, replay)).status, JSON.stringify(spelling)).toBe(401);
    }
  });
});

describe('HubSpot webhook bodies, parsed liberally', () => {
  it('answers 200 to an empty batch and 400 (never 5xx) to a body that is not JSON', async () => {
    const { bridge, target } = await setup();
    expect(await deliver(bridge, target, [])).toMatchObject({ status: 200, commands: [] });
    for (const raw of ['', 'not json', '[{"eventId":1,', 'null', '42', '"text"']) {
      const result = await deliverHook(bridge, fromHubSpot(target, raw));
      expect(result.status, raw).toBe(400);
      expect(result.commands).toEqual([]);
    }
  });

  it('takes a single event sent as an object rather than an array', async () => {
    const { bridge, target } = await setup();
    const { hubspotId, contactId } = await linked(bridge, '15550502001');
    const e = consentChange(hubspotId, 'opted_out');
    const result = await deliver(bridge, target, e);
    expect(result.status).toBe(200);
    expect(summary(result.commands)).toEqual([consentCommand(e, 'all', 'opted_out')]);
    expect(await history(bridge, contactId)).toEqual([['all', 'opted_out']]);
    // An object that is no event (a workflow's "send a webhook" body) is acknowledged and ignored.
    const workflow = { properties: { firstname: { value: 'Ada' } }, vid: Number(hubspotId) };
    expect(await deliver(bridge, target, workflow)).toMatchObject({ status: 200, commands: [] });
  });

  it('a full batch of 100 mixed events: only the consent change of a linked contact comes out', async () => {
    const { hubspot, bridge, target } = await setup();
    const { hubspotId, contactId } = await linked(bridge, '15550502002');
    const other = hubspot.seedContact({ firstname: 'Unmirrored', phone: '+15550502999' });
    const relevant = consentChange(hubspotId, 'marketing_opted_out', { changeSource: 'WORKFLOWS' });
    const noise: unknown[] = [
      event(hubspotId, { propertyName: 'firstname', propertyValue: 'Ada' }),
      event(hubspotId, { propertyName: 'hs_lead_status', propertyValue: '' }),
      event(hubspotId, { propertyName: 'num_notes', propertyValue: 3 }),
      event(hubspotId, { propertyName: 'hs_email_optout', propertyValue: true }),
      event(hubspotId, { propertyName: 'hs_lifecyclestage_lead_date', propertyValue: null }),
      event(hubspotId, { subscriptionType: 'contact.creation', changeFlag: 'CREATED' }),
      event(other, { subscriptionType: 'contact.creation', changeFlag: 'NEW', changeSource: 'IMPORT' }),
      event(hubspotId, { subscriptionType: 'contact.restore', changeFlag: 'RESTORED' }),
      {
        ...event(hubspotId, { subscriptionType: 'contact.associationChange' }),
        objectId: undefined,
        associationType: 'CONTACT_TO_COMPANY',
        fromObjectId: Number(hubspotId),
        toObjectId: 9_001,
        associationRemoved: false,
        isPrimaryAssociation: true,
      },
      event(9_001, {
        subscriptionType: 'company.propertyChange',
        propertyName: CONSENT,
        propertyValue: 'opted_out',
      }),
      event(9_002, { subscriptionType: 'deal.creation', changeFlag: 'CREATED' }),
      event(9_003, { subscriptionType: 'deal.deletion', changeFlag: 'DELETED' }),
      event(9_004, { subscriptionType: 'ticket.merge', primaryObjectId: 9_004, mergedObjectIds: [9_005] }),
      event(9_006, {
        subscriptionType: 'object.propertyChange',
        objectTypeId: '0-2',
        propertyName: CONSENT,
        propertyValue: 'opted_out',
      }),
      event(9_007, { subscriptionType: 'object.creation', objectTypeId: '2-1234567' }),
      event(9_008, { subscriptionType: 'conversation.newMessage', messageId: 'm-1', messageType: 'MESSAGE' }),
      event(hubspotId, { subscriptionType: 'contact.someFutureThing', whatever: { nested: [1, 2] } }),
      event(hubspotId, { subscriptionType: 'contact.propertyChange' }), // no property name
      { ...consentChange(hubspotId, 'opted_out'), portalId: 999_999 }, // another portal
      'not an event',
      null,
      42,
      [],
    ];
    const batch = [relevant, ...Array.from({ length: 99 }, (_, i) => noise[i % noise.length])];
    expect(batch).toHaveLength(100);
    const result = await deliver(bridge, target, batch);
    expect(result.status).toBe(200);
    expect(summary(result.commands)).toEqual([
      consentCommand(relevant, 'all', 'opted_in'),
      consentCommand(relevant, 'marketing', 'opted_out'),
    ]);
    expect(await history(bridge, contactId)).toEqual([['marketing', 'opted_out']]);
  });

  it('ignores consent values it does not know (empty, null, numbers, booleans, labels, other case)', async () => {
    const { bridge, target } = await setup();
    const { hubspotId, contactId } = await linked(bridge, '15550502003');
    const values = [
      '',
      null,
      0,
      1,
      true,
      false,
      'Opted out',
      'OPTED_OUT',
      ' opted_out',
      'opted_out;opted_in',
    ];
    const result = await deliver(
      bridge,
      target,
      values.map((v) => consentChange(hubspotId, v)),
    );
    expect(result).toMatchObject({ status: 200, commands: [] });
    expect(await history(bridge, contactId)).toEqual([]);
  });

  it('records a genuine opt-out whatever shape its other fields take', async () => {
    const { bridge, target } = await setup();
    const { hubspotId, contactId } = await linked(bridge, '15550502004');
    const variants: [string, Event][] = [
      ['ids as strings', { eventId: String(++eventSeq), objectId: hubspotId, portalId: String(PORTAL_ID) }],
      ['changeSource null', { changeSource: null }],
      ['no changeSource nor sourceId', { changeSource: undefined, sourceId: undefined }],
      ['sourceId a number', { changeSource: 'API', sourceId: 51_234_567 }],
      ['sourceId null', { changeSource: 'IMPORT', sourceId: null }],
      [
        'workflow sourceId',
        { changeSource: 'AUTOMATION_PLATFORM', sourceId: 'enrollmentId:23;actionExecutionIndex:0' },
      ],
      [
        'extra fields',
        { isSensitive: false, changeFlag: 'UPDATED', objectTypeId: '0-1', newField: { a: 1 } },
      ],
      ['attemptNumber a string, subscriptionId missing', { attemptNumber: '3', subscriptionId: undefined }],
      ['occurredAt a numeric string', { occurredAt: String(Date.now() - 1000) }],
      ['appId null', { appId: null }],
    ];
    for (const [i, [name, fields]] of variants.entries()) {
      // Alternate the value so that every variant is a real change the core records.
      const e = consentChange(hubspotId, i % 2 === 0 ? 'opted_out' : 'opted_in', fields);
      const result = await deliver(bridge, target, [e]);
      expect(result.status, name).toBe(200);
      expect(
        result.commands.map((c) => c.type),
        name,
      ).toEqual(i % 2 === 0 ? ['consent.set'] : ['consent.set', 'consent.set']);
      expect(
        result.outcomes.map((o) => o.status),
        name,
      ).toContain('consent_recorded');
    }
    expect(await history(bridge, contactId)).toHaveLength(variants.length);
  });

  it('reads the generic object.propertyChange format of contacts (objectTypeId 0-1)', async () => {
    const { bridge, target } = await setup();
    const { hubspotId, contactId } = await linked(bridge, '15550502005');
    const e = {
      ...consentChange(hubspotId, 'opted_out'),
      subscriptionType: 'object.propertyChange',
      objectTypeId: '0-1',
      isSensitive: false,
      changeSource: 'CRM_UI',
      sourceId: 'userId:51234567',
    };
    const result = await deliver(bridge, target, [e]);
    expect(summary(result.commands)).toEqual([consentCommand(e, 'all', 'opted_out')]);
    expect(await history(bridge, contactId)).toEqual([['all', 'opted_out']]);
    const actor = (await bridge.store.consentHistory(bridge.workspaceId, contactId))[0]?.actor;
    expect(actor).toBe(`hubspot:portal/${PORTAL_ID}:user/51234567`);
  });

  it('applies the changes of one batch in the order they happened, not the order they came', async () => {
    const { bridge, target } = await setup();
    const { hubspotId, contactId } = await linked(bridge, '15550502006');
    const t = Date.now() - 60_000;
    const third = consentChange(hubspotId, 'opted_in', { occurredAt: t + 3000 });
    const first = consentChange(hubspotId, 'opted_out', { occurredAt: t + 1000 });
    const second = consentChange(hubspotId, 'marketing_opted_out', { occurredAt: t + 2000 });
    const result = await deliver(bridge, target, [third, first, second]);
    expect(result.status).toBe(200);
    expect(summary(result.commands)).toEqual([
      consentCommand(first, 'all', 'opted_out'),
      consentCommand(second, 'all', 'opted_in'),
      consentCommand(second, 'marketing', 'opted_out'),
      consentCommand(third, 'all', 'opted_in'),
      consentCommand(third, 'marketing', 'opted_in'),
    ]);
    expect(await history(bridge, contactId)).toEqual([
      ['all', 'opted_out'],
      ['all', 'opted_in'],
      ['marketing', 'opted_out'],
      ['marketing', 'opted_in'],
    ]);
    const snapshot = await bridge.store.consentSnapshot(bridge.workspaceId, contactId);
    expect([snapshot.all.state, snapshot.marketing.state]).toEqual(['opted_in', 'opted_in']);
  });

  it('the same contact twice in a batch with different values at the same instant: the later in the batch wins', async () => {
    const { bridge, target } = await setup();
    const { hubspotId, contactId } = await linked(bridge, '15550502007');
    const at = Date.now() - 5000;
    const a = consentChange(hubspotId, 'opted_in', { occurredAt: at });
    const b = consentChange(hubspotId, 'opted_out', { occurredAt: at });
    const result = await deliver(bridge, target, [a, b]);
    expect(summary(result.commands)).toEqual([
      consentCommand(a, 'all', 'opted_in'),
      consentCommand(a, 'marketing', 'opted_in'),
      consentCommand(b, 'all', 'opted_out'),
    ]);
    expect((await bridge.store.consentSnapshot(bridge.workspaceId, contactId)).all.state).toBe('opted_out');
  });

  it('a consent change on a contact never mirrored is acknowledged and records nothing', async () => {
    const { hubspot, bridge, target } = await setup();
    const stranger = hubspot.seedContact({ firstname: 'Stranger', phone: '+15550502998' });
    const mark = hubspot.ledger.mark();
    const events = [consentChange(stranger, 'opted_out'), consentChange('987654321', 'opted_in')];
    const result = await deliver(bridge, target, events);
    expect(result.status).toBe(200);
    // Handed to the core (a merge found by the lookup below would link them), which ignores them.
    expect(summary(result.commands)).toEqual([
      consentCommand(events[0] as Event, 'all', 'opted_out'),
      consentCommand(events[1] as Event, 'all', 'opted_in'),
      consentCommand(events[1] as Event, 'marketing', 'opted_in'),
    ]);
    expect(result.outcomes.map((o) => o.status)).toEqual(['ignored', 'ignored', 'ignored']);
    // One lookup for merges we may have missed, for both ids together.
    expect(callsSince(hubspot, mark, 'batch/read')).toHaveLength(1);
  });

  it('follows a merge it missed, seen through a consent change on the survivor', async () => {
    const { hubspot, bridge, target } = await setup();
    const { hubspotId, contactId } = await linked(bridge, '15550502008');
    const survivor = hubspot.seedContact({ firstname: 'Survivor', phone: '+15550502997' });
    hubspot.mergeContacts(survivor, hubspotId); // the merge webhook never reaches us
    const e = consentChange(survivor, 'opted_out');
    const result = await deliver(bridge, target, [e]);
    expect(result.status).toBe(200);
    expect(summary(result.commands)).toEqual([
      expect.objectContaining({ type: 'contact.removed', contactId: hubspotId, mergedInto: survivor }),
      consentCommand(e, 'all', 'opted_out'),
    ]);
    expect(await history(bridge, contactId)).toEqual([['all', 'opted_out']]);
  });

  it('when that lookup fails, the changes of linked contacts in the batch are still recorded', async () => {
    const { hubspot, bridge, target } = await setup();
    const { hubspotId, contactId } = await linked(bridge, '15550502009');
    // The portal's daily API limit is spent: HubSpot answers 429 DAILY, the client pauses for the day.
    hubspot.failNext('daily_limit', { path: 'batch/read' });
    const mine = consentChange(hubspotId, 'opted_out');
    const result = await deliver(bridge, target, [consentChange('555000111', 'opted_in'), mine]);
    expect(result.status).toBe(200);
    expect(summary(result.commands)).toContainEqual(consentCommand(mine, 'all', 'opted_out'));
    expect(await history(bridge, contactId)).toEqual([['all', 'opted_out']]);
    // Later batches during the pause are not held back either.
    const later = consentChange(hubspotId, 'opted_in');
    const again = await deliver(bridge, target, [consentChange('555000112', 'opted_out'), later]);
    expect(again.status).toBe(200);
    expect(await history(bridge, contactId)).toEqual([
      ['all', 'opted_out'],
      ['all', 'opted_in'],
    ]);
  });

  it('with nothing else in the batch, a failed lookup asks HubSpot to deliver again (503)', async () => {
    const { hubspot, bridge, target } = await setup();
    hubspot.failNext('unavailable', { path: 'batch/read' });
    const result = await deliver(bridge, target, [consentChange('555000113', 'opted_out')]);
    expect(result).toMatchObject({ status: 503, commands: [] });
  });
});

describe('HubSpot contact removals', () => {
  it('deletion, privacy deletion (legacy and generic formats) unlink the mirrored contacts', async () => {
    const { bridge, target } = await setup();
    const a = await linked(bridge, '15550503001');
    const b = await linked(bridge, '15550503002');
    const c = await linked(bridge, '15550503003');
    const deleted = event(a.hubspotId, { subscriptionType: 'contact.deletion', changeFlag: 'DELETED' });
    const privacy = event(b.hubspotId, {
      subscriptionType: 'contact.privacyDeletion',
      changeFlag: 'GDPR_DELETED',
    });
    const generic = event(c.hubspotId, {
      subscriptionType: 'object.deletion',
      objectTypeId: '0-1',
      changeFlag: 'DELETED',
    });
    const unknown = event(123_456_789, { subscriptionType: 'contact.deletion' });
    const restore = event(a.hubspotId, { subscriptionType: 'contact.restore', changeFlag: 'RESTORED' });
    const result = await deliver(bridge, target, [deleted, privacy, generic, unknown, restore]);
    expect(result.status).toBe(200);
    const removal = (e: Event, reason: string) => ({
      type: 'contact.removed',
      idempotencyKey: keyOf(e),
      contactId: String(e.objectId),
      reason,
      mergedInto: null,
      occurredAt: e.occurredAt,
    });
    expect(result.commands).toEqual([
      removal(deleted, 'deleted'),
      removal(privacy, 'privacy'),
      removal(generic, 'deleted'),
      removal(unknown, 'deleted'),
    ]);
    for (const [who, reason] of [
      [a, 'deleted'],
      [b, 'privacy'],
      [c, 'deleted'],
    ] as const) {
      const ref = await bridge.store.getRef(bridge.workspaceId, 'hubspot', 'contact', who.contactId);
      expect(ref).toMatchObject({ externalId: `removed:${who.hubspotId}`, data: { removed: reason } });
    }
  });

  it('merges (with a new record, and in the generic format) move the link to the survivor', async () => {
    const { bridge, target } = await setup();
    const a = await linked(bridge, '15550503004');
    const b = await linked(bridge, '15550503005');
    // HubSpot may create a new record in a merge: both the primary and the merged ones are gone.
    const merge = event(a.hubspotId, {
      subscriptionType: 'contact.merge',
      changeFlag: 'MERGED',
      primaryObjectId: Number(a.hubspotId),
      mergedObjectIds: [Number(b.hubspotId)],
      newObjectId: 777_000_001,
      numberOfPropertiesMoved: 12,
    });
    const result = await deliver(bridge, target, [merge]);
    expect(result.status).toBe(200);
    expect(result.commands).toEqual(
      [b.hubspotId, a.hubspotId].map((id) => ({
        type: 'contact.removed',
        idempotencyKey: keyOf(merge, id),
        contactId: id,
        reason: 'merged',
        mergedInto: '777000001',
        occurredAt: merge.occurredAt,
      })),
    );
    for (const who of [a, b]) {
      const ref = await bridge.store.getRef(bridge.workspaceId, 'hubspot', 'contact', who.contactId);
      expect(ref?.externalId).toBe('777000001');
    }
    const c = await linked(bridge, '15550503006');
    const generic = event(888_000_001, {
      subscriptionType: 'object.merge',
      objectTypeId: '0-1',
      primaryObjectId: 888_000_001,
      mergedObjectIds: [c.hubspotId, null],
    });
    const second = await deliver(bridge, target, [generic]);
    expect(second.status).toBe(200);
    expect(second.commands).toEqual([
      expect.objectContaining({ type: 'contact.removed', contactId: c.hubspotId, mergedInto: '888000001' }),
    ]);
  });
});

describe('HubSpot retries and echoes', () => {
  it('a retry of the same batch (re-signed, attemptNumber up) gives the same keys and records nothing twice', async () => {
    const { bridge, target } = await setup();
    const { hubspotId, contactId } = await linked(bridge, '15550504001');
    const other = await linked(bridge, '15550504002');
    const t = Date.now() - 30_000;
    const batch = [
      consentChange(hubspotId, 'opted_in', { occurredAt: t + 2000 }),
      consentChange(hubspotId, 'opted_out', { occurredAt: t + 1000 }),
      consentChange(other.hubspotId, 'marketing_opted_out', { occurredAt: t }),
      event(other.hubspotId, { subscriptionType: 'contact.deletion', occurredAt: t + 3000 }),
    ];
    const first = await deliver(bridge, target, batch);
    expect(first.status).toBe(200);
    const recorded = await bridge.store.consentHistory(bridge.workspaceId, contactId);
    expect(recorded.map((e) => [e.category, e.state])).toEqual([
      ['all', 'opted_out'],
      ['all', 'opted_in'],
    ]);
    for (let attempt = 1; attempt <= 10; attempt++) {
      const retry = batch.map((e) => ({ ...e, attemptNumber: attempt }));
      const result = await deliver(bridge, target, retry, { timestamp: Date.now() + attempt });
      expect(result.status).toBe(200);
      expect(result.commands.map((c) => c.idempotencyKey)).toEqual(
        first.commands.map((c) => c.idempotencyKey),
      );
      expect(result.outcomes.map((o) => o.status)).not.toContain('consent_recorded');
    }
    expect(await bridge.store.consentHistory(bridge.workspaceId, contactId)).toEqual(recorded);
    expect(await history(bridge, other.contactId)).toEqual([['marketing', 'opted_out']]);
  });

  it('the same event twice in one batch records once', async () => {
    const { bridge, target } = await setup();
    const { hubspotId, contactId } = await linked(bridge, '15550504003');
    const e = consentChange(hubspotId, 'opted_out');
    const result = await deliver(bridge, target, [e, { ...e }]);
    expect(result.outcomes.filter((o) => o.status === 'consent_recorded')).toHaveLength(1);
    expect(await history(bridge, contactId)).toEqual([['all', 'opted_out']]);
  });

  it('two different events that share an eventId (HubSpot does not promise unique ids) are both recorded', async () => {
    const { bridge, target } = await setup();
    const a = await linked(bridge, '15550504004');
    const b = await linked(bridge, '15550504005');
    const shared = ++eventSeq;
    const first = consentChange(a.hubspotId, 'opted_out', { eventId: shared });
    const second = consentChange(b.hubspotId, 'opted_out', { eventId: shared, occurredAt: Date.now() - 1 });
    const result = await deliver(bridge, target, [first, second]);
    expect(result.outcomes.map((o) => o.status)).toEqual(['consent_recorded', 'consent_recorded']);
    const removals = [
      event(a.hubspotId, { eventId: shared + 1, subscriptionType: 'contact.privacyDeletion' }),
      event(b.hubspotId, { eventId: shared + 1, subscriptionType: 'contact.privacyDeletion' }),
    ];
    expect((await deliver(bridge, target, removals)).status).toBe(200);
    for (const who of [a, b]) {
      const ref = await bridge.store.getRef(bridge.workspaceId, 'hubspot', 'contact', who.contactId);
      expect(ref?.externalId).toBe(`removed:${who.hubspotId}`);
    }
  });

  it('drops the echo of our own write, however HubSpot names our app; keeps a user whose id reads like it', async () => {
    const { bridge, target } = await setup();
    const { hubspotId, contactId } = await linked(bridge, '15550504006');
    const echoes = [
      consentChange(hubspotId, 'opted_out', { changeSource: 'INTEGRATION', sourceId: String(APP_ID) }),
      consentChange(hubspotId, 'opted_out', { changeSource: 'INTEGRATION', sourceId: APP_ID }),
      consentChange(hubspotId, 'opted_out', { changeSource: 'API', sourceId: `app:${APP_ID}` }),
    ];
    expect(await deliver(bridge, target, echoes)).toMatchObject({ status: 200, commands: [] });
    expect(await history(bridge, contactId)).toEqual([]);
    const user = consentChange(hubspotId, 'opted_out', {
      changeSource: 'CRM_UI',
      sourceId: `userId:${APP_ID}`,
    });
    const result = await deliver(bridge, target, [user]);
    expect(summary(result.commands)).toEqual([consentCommand(user, 'all', 'opted_out')]);
    expect(await history(bridge, contactId)).toEqual([['all', 'opted_out']]);
  });

  it('without an app id, the echo of the value we wrote records nothing', async () => {
    const { hubspot, bridge, target } = await setup({ appId: false });
    const { hubspotId, contactId } = await linked(bridge, '15550504007');
    await bridge.customerText('STOP', { waId: '15550504007' });
    await bridge.worker.drain();
    expect(hubspot.contact(hubspotId)?.properties[CONSENT]).toBe('opted_out');
    const echo = consentChange(hubspotId, 'opted_out', {
      changeSource: 'INTEGRATION',
      sourceId: String(APP_ID),
    });
    const result = await deliver(bridge, target, [echo]);
    expect(result.status).toBe(200);
    expect(result.outcomes.map((o) => o.status)).toEqual(['ignored']);
    expect((await bridge.store.consentHistory(bridge.workspaceId, contactId)).map((e) => e.source)).toEqual([
      'keyword',
    ]);
  });
});

describe('HubSpot webhook bodies, changed at random', () => {
  it(
    'answers each without failing, and a retry of the same batch records nothing more',
    async () => {
      // Real batches, each changed at one to three random places (see mutate): none may fail, not
      // even with the 503 that asks for a retry (HubSpot answers every lookup here, so a 503 would
      // mean the reader threw), and HubSpot's retry of the same batch (re-signed, attemptNumber
      // up) changes nothing.
      const { bridge, target } = await setup();
      const a = await linked(bridge, '15550506001');
      const b = await linked(bridge, '15550506002');
      const c = await linked(bridge, '15550506003');
      const seeds = (): Json[] =>
        JSON.parse(
          JSON.stringify([
            [consentChange(a.hubspotId, 'opted_out')],
            [
              {
                ...consentChange(a.hubspotId, 'opted_in'),
                subscriptionType: 'object.propertyChange',
                objectTypeId: '0-1',
                isSensitive: false,
              },
            ],
            [
              consentChange(b.hubspotId, 'marketing_opted_out'),
              event(b.hubspotId, { propertyName: 'lifecyclestage', propertyValue: 'customer' }),
              consentChange(a.hubspotId, 'opted_out', { occurredAt: Date.now() - 1000 }),
            ],
            [event(c.hubspotId, { subscriptionType: 'contact.privacyDeletion' })],
            [
              event(a.hubspotId, {
                subscriptionType: 'contact.merge',
                changeFlag: 'MERGED',
                primaryObjectId: Number(a.hubspotId),
                mergedObjectIds: [Number(b.hubspotId)],
                newObjectId: 777_000_002,
                numberOfPropertiesMoved: 3,
              }),
            ],
          ]),
        );
      const state = async () =>
        Promise.all(
          [a, b, c].flatMap((who) => [
            history(bridge, who.contactId),
            bridge.store.getRef(bridge.workspaceId, 'hubspot', 'contact', who.contactId),
          ]),
        );
      let last = 0;
      const stamp = () => {
        last = Math.max(Date.now(), last + 1);
        return last;
      };
      for (const { body: batch, where } of mutatedBodies(seeds, 100, 'batch')) {
        // A timestamp of its own per request: the same bytes signed at the same millisecond are a
        // replay, which is refused (401), and two mutated batches may well be the same bytes.
        const first = await deliver(bridge, target, batch, { timestamp: stamp() });
        expect(first.status, where).toBeLessThan(500);
        const before = await state();
        const retry = Array.isArray(batch)
          ? batch.map((e) =>
              e !== null && typeof e === 'object' && !Array.isArray(e) ? { ...e, attemptNumber: 1 } : e,
            )
          : batch;
        const again = await deliver(bridge, target, retry, { timestamp: stamp() });
        expect(again.status, where).toBe(first.status);
        expect(
          again.outcomes.filter((o) => o.status === 'consent_recorded'),
          where,
        ).toEqual([]);
        expect(await state(), where).toEqual(before);
      }
    },
    mutationTimeout(100, 300),
  );
});
