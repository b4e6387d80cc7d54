import { createHmac } from 'node:crypto';
import type { Contact, Message, MessageStatus, UnroutedEvent } from '@wabridge/core';
import { ledgerConnector } from '@wabridge/core/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestApp, TEST_APP_SECRET } from '../testing/harness.ts';

/**
 * Real-world webhook shapes, beyond the examples in Meta's spec: every message type with the
 * optional parts Meta actually sends, statuses of every kind, batches, other fields Meta delivers
 * to the same endpoint, identity variants (BSUID, no `from`), odd scalars, nulls and envelopes
 * that are not envelopes. Each body is signed and posted through the real app and store, and must
 * be answered 200, leave the expected rows, and change nothing when Meta delivers it again.
 */

type TestApp = Awaited<ReturnType<typeof createTestApp>>;
type Json = Record<string, unknown>;

const PN = '106540352242922';
const PN2 = '106540352242923';
const UNOWNED = '777000111222333';
const WABA = '419561257915477';
const CUSTOMER = '16505551234';
const BSUID = 'US.13491208655302741918';
const PARENT_BSUID = 'US.ENT.11815799212886844830';
const TS = '1749416383';

const connectors = [
  { manifest: ledgerConnector, config: { url: 'http://127.0.0.1:9', secret: 'ledger-secret-123' } },
];

const sign = (body: string | Uint8Array) =>
  `sha256=${createHmac('sha256', TEST_APP_SECRET).update(body).digest('hex')}`;

/** Serialises like Meta: non-ASCII as \uXXXX (emoji as surrogate pairs) and `/` as `\/`. */
const metaJson = (value: unknown): string =>
  JSON.stringify(value)
    .replace(/\//g, '\\/')
    .replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

const metadata = (pn = PN) => ({ display_phone_number: '15550783881', phone_number_id: pn });
const contact = { profile: { name: 'Sheena Nelson' }, wa_id: CUSTOMER };

function envelope(changes: unknown[], entry: Json = {}): Json {
  return { object: 'whatsapp_business_account', entry: [{ id: WABA, changes, ...entry }] };
}

function messagesValue(value: Json, pn = PN): Json {
  return { messaging_product: 'whatsapp', metadata: metadata(pn), ...value };
}

/** One inbound message from the usual customer, with the usual contacts[] beside it. */
function inbound(message: Json, value: Json = {}): Json {
  return envelope([
    {
      field: 'messages',
      value: messagesValue({
        contacts: [contact],
        messages: [{ from: CUSTOMER, timestamp: TS, ...message }],
        ...value,
      }),
    },
  ]);
}

function statuses(list: Json[]): Json {
  return envelope([{ field: 'messages', value: messagesValue({ statuses: list }) }]);
}

function field(name: string, value: unknown, entry: Json = { time: 1749416390 }): Json {
  return envelope([{ field: name, value }], entry);
}

// --- reading what was stored -----------------------------------------------------------------

type Db = { all<T>(sql: string, params?: Record<string, unknown>): T[] };
const dbOf = (t: TestApp) => (t.runtime.store as unknown as { db: Db }).db;

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

async function message(t: TestApp, wamid: string): Promise<Message> {
  const found = await t.runtime.store.getMessageByWamid(t.workspaceId, wamid);
  expect(found, `message ${wamid} stored`).not.toBeNull();
  return found as Message;
}

async function contactOf(t: TestApp, wamid: string): Promise<Contact> {
  const m = await message(t, wamid);
  const conversation = await t.runtime.store.getConversation(t.workspaceId, m.conversationId);
  const found = await t.runtime.store.getContact(t.workspaceId, conversation?.contactId ?? '');
  expect(found).not.toBeNull();
  return found as Contact;
}

async function statusesOf(t: TestApp, wamid: string): Promise<MessageStatus[]> {
  const ids = dbOf(t).all<{ id: string }>(
    'SELECT id FROM message_statuses WHERE wamid = :wamid ORDER BY ts',
    {
      wamid,
    },
  );
  const found = await Promise.all(ids.map(({ id }) => t.runtime.store.getStatus(t.workspaceId, id)));
  return found.filter((s): s is MessageStatus => s !== null);
}

function platformEvents(t: TestApp, fieldName?: string) {
  return dbOf(t)
    .all<{ workspace_id: string | null; field: string; payload: string; parse_issues: string }>(
      `SELECT * FROM platform_events ${fieldName === undefined ? '' : 'WHERE field = :field'} ORDER BY received_at, id`,
      fieldName === undefined ? {} : { field: fieldName },
    )
    .map((r) => ({
      workspaceId: r.workspace_id,
      field: r.field,
      payload: JSON.parse(r.payload) as unknown,
      parseIssues: JSON.parse(r.parse_issues) as string[],
    }));
}

const unrouted = (t: TestApp): Promise<UnroutedEvent[]> => t.runtime.store.listUnrouted();

async function consentOf(t: TestApp, c: Contact) {
  return t.runtime.store.consentHistory(t.workspaceId, c.id);
}

async function contactByWaId(t: TestApp, waId: string): Promise<Contact | null> {
  const [row] = dbOf(t).all<{ id: string }>('SELECT id FROM contacts WHERE wa_id = :waId', { waId });
  return row ? t.runtime.store.getContact(t.workspaceId, row.id) : null;
}

async function contactByBsuid(t: TestApp, bsuid: string): Promise<Contact | null> {
  const [row] = dbOf(t).all<{ id: string }>('SELECT id FROM contacts WHERE bsuid = :bsuid', { bsuid });
  return row ? t.runtime.store.getContact(t.workspaceId, row.id) : null;
}

// --- the cases -------------------------------------------------------------------------------

interface Case {
  name: string;
  /** A JSON value (serialised the way Meta does) or exact raw bytes. */
  body: unknown;
  raw?: true;
  check(t: TestApp): Promise<void>;
}

// 65,536 UTF-16 units (Meta's limit for a text body), emoji included: ~200 KB once \u-escaped.
const LONG_TEXT = 'Lorem ipsum dolor sit amet, 😀 café — '.repeat(1800).slice(0, 65_536);

const cases: Case[] = [
  // ---------------------------------------------------------------- message types
  {
    name: 'text with emoji, accents and escaped slashes',
    body: inbound({
      id: 'wamid.text',
      type: 'text',
      text: { body: 'Olá 👋🏽 see https://x.example/a?b=1 ¿sí?' },
    }),
    async check(t) {
      const m = await message(t, 'wamid.text');
      expect(m).toMatchObject({
        type: 'text',
        text: 'Olá 👋🏽 see https://x.example/a?b=1 ¿sí?',
        direction: 'inbound',
      });
      expect(m.timestamp).toBe(Number(TS) * 1000);
      expect(await contactOf(t, 'wamid.text')).toMatchObject({
        waId: CUSTOMER,
        profileName: 'Sheena Nelson',
      });
    },
  },
  {
    name: 'image with caption and direct url',
    body: inbound({
      id: 'wamid.image',
      type: 'image',
      image: {
        caption: 'The broken part',
        mime_type: 'image/jpeg',
        sha256: 'HgYiPbDbEHMj0Uw6uKMbCh0qf2J5K6FpkyDAQ7k0x1M=',
        id: '1003383421387256',
        url: 'https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1003383421387256&ext=1749416383&hash=ATs',
      },
    }),
    async check(t) {
      const m = await message(t, 'wamid.image');
      expect(m).toMatchObject({ type: 'image', text: 'The broken part' });
      expect(m.content.image).toMatchObject({
        id: '1003383421387256',
        url: expect.stringContaining('lookaside'),
      });
    },
  },
  {
    name: 'video with caption',
    body: inbound({
      id: 'wamid.video',
      type: 'video',
      video: { caption: 'unboxing', mime_type: 'video/mp4', sha256: 'abc=', id: '2003383421387256' },
    }),
    async check(t) {
      expect(await message(t, 'wamid.video')).toMatchObject({ type: 'video', text: 'unboxing' });
    },
  },
  {
    name: 'voice note (audio, voice: true)',
    body: inbound({
      id: 'wamid.voice',
      type: 'audio',
      audio: { mime_type: 'audio/ogg; codecs=opus', sha256: 'xyz=', id: '3003383421387256', voice: true },
    }),
    async check(t) {
      const m = await message(t, 'wamid.voice');
      expect(m).toMatchObject({ type: 'audio', text: null });
      expect(m.content.audio).toMatchObject({ voice: true, id: '3003383421387256' });
    },
  },
  {
    name: 'document with filename and caption',
    body: inbound({
      id: 'wamid.doc',
      type: 'document',
      document: {
        caption: 'invoice attached',
        filename: 'Invoice #123 (final).pdf',
        mime_type: 'application/pdf',
        sha256: 'q1w2=',
        id: '4003383421387256',
      },
    }),
    async check(t) {
      const m = await message(t, 'wamid.doc');
      expect(m).toMatchObject({ type: 'document', text: 'invoice attached' });
      expect(m.content.document).toMatchObject({ filename: 'Invoice #123 (final).pdf' });
    },
  },
  {
    name: 'animated sticker',
    body: inbound({
      id: 'wamid.sticker',
      type: 'sticker',
      sticker: { mime_type: 'image/webp', sha256: 's=', id: '5003383421387256', animated: true },
    }),
    async check(t) {
      const m = await message(t, 'wamid.sticker');
      expect(m).toMatchObject({ type: 'sticker', text: null });
      expect(m.content.sticker).toMatchObject({ animated: true });
    },
  },
  {
    name: 'location with name, address and url',
    body: inbound({
      id: 'wamid.location',
      type: 'location',
      location: {
        address: '1 Hacker Way, Menlo Park, CA 94025',
        latitude: 37.483307,
        longitude: -122.148981,
        name: 'Meta Headquarters',
        url: 'https://meta.com',
      },
    }),
    async check(t) {
      const m = await message(t, 'wamid.location');
      expect(m).toMatchObject({
        type: 'location',
        text: 'Meta Headquarters, 1 Hacker Way, Menlo Park, CA 94025',
      });
      expect(m.content.location).toMatchObject({ latitude: 37.483307, url: 'https://meta.com' });
    },
  },
  {
    name: 'shared contacts with several phones, emails, org, urls, addresses and birthday',
    body: inbound({
      id: 'wamid.contacts',
      type: 'contacts',
      contacts: [
        {
          addresses: [{ city: 'Menlo Park', country: 'United States', country_code: 'us', type: 'WORK' }],
          birthday: '1990-01-31',
          emails: [
            { email: 'bj@example.com', type: 'WORK' },
            { email: 'barbara@example.org', type: 'HOME' },
          ],
          name: { first_name: 'Barbara', last_name: 'Johnson', formatted_name: 'Barbara J. Johnson' },
          org: { company: 'Lucky Shrub', department: 'Sales', title: 'Manager' },
          phones: [
            { phone: '+1 (650) 555-1234', wa_id: '16505551234', type: 'CELL' },
            { phone: '+1 (650) 555-9999', type: 'WORK' },
          ],
          urls: [{ url: 'https://www.luckyshrub.com', type: 'WORK' }],
        },
        { name: { formatted_name: 'Carl Ng', first_name: 'Carl' }, phones: [{ phone: '+44 20 7946 0000' }] },
      ],
    }),
    async check(t) {
      const m = await message(t, 'wamid.contacts');
      expect(m).toMatchObject({ type: 'contacts', text: 'Barbara J. Johnson, Carl Ng' });
      expect((m.content.contacts as Json[])[0]).toMatchObject({
        birthday: '1990-01-31',
        org: { title: 'Manager' },
      });
    },
  },
  {
    name: 'interactive button_reply (reply to our message)',
    body: inbound({
      id: 'wamid.btnreply',
      type: 'interactive',
      context: { from: '15550783881', id: 'wamid.ours.1' },
      interactive: { type: 'button_reply', button_reply: { id: 'change-button', title: 'Change' } },
    }),
    async check(t) {
      expect(await message(t, 'wamid.btnreply')).toMatchObject({
        type: 'interactive',
        text: 'Change',
        relatesTo: 'wamid.ours.1',
      });
    },
  },
  {
    name: 'interactive list_reply',
    body: inbound({
      id: 'wamid.listreply',
      type: 'interactive',
      context: { from: '15550783881', id: 'wamid.ours.2' },
      interactive: {
        type: 'list_reply',
        list_reply: {
          id: 'priority_express',
          title: 'Priority Mail Express',
          description: 'Next Day to 2 Days',
        },
      },
    }),
    async check(t) {
      expect(await message(t, 'wamid.listreply')).toMatchObject({ text: 'Priority Mail Express' });
    },
  },
  {
    name: 'interactive nfm_reply (WhatsApp Flows) with response_json',
    body: inbound({
      id: 'wamid.flow',
      type: 'interactive',
      context: { from: '15550783881', id: 'wamid.ours.3' },
      interactive: {
        type: 'nfm_reply',
        nfm_reply: {
          response_json:
            '{"flow_token":"AQAAAAACS5FpgQ_cAAAAAD0QI3s.","screen_0_TextInput_0":"Ana","rating":"5"}',
          body: 'Sent',
          name: 'flow',
        },
      },
    }),
    async check(t) {
      const m = await message(t, 'wamid.flow');
      expect(m).toMatchObject({ type: 'interactive', relatesTo: 'wamid.ours.3' });
      expect(
        JSON.parse(String((m.content.interactive as Json & { nfm_reply: Json }).nfm_reply.response_json)),
      ).toMatchObject({
        rating: '5',
      });
    },
  },
  {
    name: 'template quick-reply button with payload',
    body: inbound({
      id: 'wamid.button',
      type: 'button',
      context: { from: '15550783881', id: 'wamid.template.1' },
      button: { payload: 'STOP_PROMOS_PAYLOAD', text: 'Stop promotions' },
    }),
    async check(t) {
      const m = await message(t, 'wamid.button');
      expect(m).toMatchObject({ type: 'button', text: 'Stop promotions', relatesTo: 'wamid.template.1' });
      expect(m.content.button).toMatchObject({ payload: 'STOP_PROMOS_PAYLOAD' });
    },
  },
  {
    name: 'reaction, then reaction removed (emoji absent) and emptied (emoji "")',
    body: envelope([
      {
        field: 'messages',
        value: messagesValue({
          contacts: [contact],
          messages: [
            {
              from: CUSTOMER,
              id: 'wamid.react',
              timestamp: TS,
              type: 'reaction',
              reaction: { message_id: 'wamid.ours.4', emoji: '\u2764\ufe0f' },
            },
            {
              from: CUSTOMER,
              id: 'wamid.unreact',
              timestamp: '1749416384',
              type: 'reaction',
              reaction: { message_id: 'wamid.ours.4' },
            },
            {
              from: CUSTOMER,
              id: 'wamid.unreact2',
              timestamp: '1749416385',
              type: 'reaction',
              reaction: { message_id: 'wamid.ours.4', emoji: '' },
            },
          ],
        }),
      },
    ]),
    async check(t) {
      expect(await message(t, 'wamid.react')).toMatchObject({
        type: 'reaction',
        text: '❤️',
        relatesTo: 'wamid.ours.4',
      });
      expect(await message(t, 'wamid.unreact')).toMatchObject({
        type: 'reaction',
        text: null,
        relatesTo: 'wamid.ours.4',
      });
      expect(await message(t, 'wamid.unreact2')).toMatchObject({
        type: 'reaction',
        text: null,
        relatesTo: 'wamid.ours.4',
      });
    },
  },
  {
    name: 'order with product_items',
    body: inbound({
      id: 'wamid.order',
      type: 'order',
      order: {
        catalog_id: '194836987003835',
        text: 'Please deliver before Friday',
        product_items: [
          { product_retailer_id: 'di9ozbzfi4', quantity: 2, item_price: 30, currency: 'USD' },
          { product_retailer_id: 'nqryix03ez', quantity: '1', item_price: '25.5', currency: 'USD' },
        ],
      },
    }),
    async check(t) {
      const m = await message(t, 'wamid.order');
      expect(m).toMatchObject({ type: 'order', text: 'Please deliver before Friday' });
      expect((m.content.order as { product_items: unknown[] }).product_items).toHaveLength(2);
    },
  },
  {
    name: 'system user_changed_number (wa_id of the new number)',
    body: envelope([
      {
        field: 'messages',
        value: messagesValue({
          messages: [
            {
              from: CUSTOMER,
              id: 'wamid.sys.changed',
              timestamp: TS,
              type: 'system',
              system: {
                body: 'User Sheena Nelson changed from 16505551234 to 12195555358',
                wa_id: '12195555358',
                type: 'user_changed_number',
              },
            },
          ],
        }),
      },
    ]),
    async check(t) {
      expect(await message(t, 'wamid.sys.changed')).toMatchObject({
        type: 'system',
        text: 'User Sheena Nelson changed from 16505551234 to 12195555358',
      });
      expect((await contactOf(t, 'wamid.sys.changed')).waId).toBe('12195555358');
    },
  },
  {
    name: 'system customer_changed_number (older shape: new_wa_id)',
    body: envelope([
      {
        field: 'messages',
        value: messagesValue({
          messages: [
            {
              from: CUSTOMER,
              id: 'wamid.sys.changed.old',
              timestamp: TS,
              type: 'system',
              system: {
                body: 'NAME changed from 16505551234 to 12195555359',
                new_wa_id: '12195555359',
                type: 'customer_changed_number',
              },
            },
          ],
        }),
      },
    ]),
    async check(t) {
      expect(await message(t, 'wamid.sys.changed.old')).toMatchObject({ type: 'system' });
      // The customer's new number must reach the contact, or replies go to the old one.
      expect((await contactOf(t, 'wamid.sys.changed.old')).waId).toBe('12195555359');
    },
  },
  {
    name: 'system customer_identity_changed',
    body: envelope([
      {
        field: 'messages',
        value: messagesValue({
          messages: [
            {
              from: CUSTOMER,
              id: 'wamid.sys.identity',
              timestamp: TS,
              type: 'system',
              system: {
                body: "Sheena Nelson's security code changed",
                customer: CUSTOMER,
                identity: 'aGVsbG8gd29ybGQ=',
                type: 'customer_identity_changed',
              },
            },
          ],
        }),
      },
    ]),
    async check(t) {
      const m = await message(t, 'wamid.sys.identity');
      expect(m).toMatchObject({ type: 'system', text: "Sheena Nelson's security code changed" });
      expect((await contactOf(t, 'wamid.sys.identity')).waId).toBe(CUSTOMER);
    },
  },
  {
    name: 'click-to-WhatsApp ad referral with ctwa_clid and media',
    body: inbound({
      id: 'wamid.ctwa',
      type: 'text',
      text: { body: 'Hi, is this still available?' },
      referral: {
        source_url: 'https://fb.me/3cr4Wqqkv',
        source_id: '120226305854810726',
        source_type: 'ad',
        headline: 'Chat with us',
        body: 'Spring sale — 20% off',
        media_type: 'image',
        image_url: 'https://scontent.xx.fbcdn.net/v/t45.1600-4/ad.jpg',
        thumbnail_url: 'https://scontent.xx.fbcdn.net/v/t45.1600-4/thumb.jpg',
        ctwa_clid:
          'ARAkLkA8rmlFeiCktEJQ-QTwRiyYHAFDLMNDBH0CD3qpjd0HR4irJ6LEkR7JwFF4XvnO2E4Nx0-eM-GABDLOPaOdRMv-_zfUQ2a',
        welcome_message: { text: 'Hi there! How can we help?' },
      },
    }),
    async check(t) {
      const m = await message(t, 'wamid.ctwa');
      expect(m).toMatchObject({ type: 'text', text: 'Hi, is this still available?' });
      expect(m.content.referral).toMatchObject({
        ctwa_clid: expect.stringMatching(/^ARAk/),
        source_type: 'ad',
      });
    },
  },
  {
    name: 'video ad referral and a post referral',
    body: inbound(
      {
        id: 'wamid.ctwa.video',
        type: 'text',
        text: { body: 'Info please' },
        referral: {
          source_url: 'https://fb.me/abc',
          source_id: '1',
          source_type: 'post',
          media_type: 'video',
          video_url: 'https://video.xx.fbcdn.net/v.mp4',
          thumbnail_url: 'https://scontent.xx.fbcdn.net/t.jpg',
        },
      },
      {},
    ),
    async check(t) {
      expect((await message(t, 'wamid.ctwa.video')).content.referral).toMatchObject({ media_type: 'video' });
    },
  },
  {
    name: 'context: reply, forwarded, frequently forwarded, product enquiry',
    body: envelope([
      {
        field: 'messages',
        value: messagesValue({
          contacts: [contact],
          messages: [
            {
              from: CUSTOMER,
              id: 'wamid.reply',
              timestamp: TS,
              type: 'text',
              text: { body: 'yes' },
              context: { from: '15550783881', id: 'wamid.ours.5' },
            },
            {
              from: CUSTOMER,
              id: 'wamid.fwd',
              timestamp: TS,
              type: 'image',
              image: { id: '6', mime_type: 'image/jpeg', sha256: 'x' },
              context: { forwarded: true },
            },
            {
              from: CUSTOMER,
              id: 'wamid.ffwd',
              timestamp: TS,
              type: 'text',
              text: { body: 'pass it on' },
              context: { frequently_forwarded: true },
            },
            {
              from: CUSTOMER,
              id: 'wamid.product',
              timestamp: TS,
              type: 'text',
              text: { body: 'Can I get this in blue?' },
              context: {
                from: '15550783881',
                id: 'wamid.catalog.1',
                referred_product: { catalog_id: '194836987003835', product_retailer_id: 'di9ozbzfi4' },
              },
            },
          ],
        }),
      },
    ]),
    async check(t) {
      expect(await message(t, 'wamid.reply')).toMatchObject({ relatesTo: 'wamid.ours.5', text: 'yes' });
      expect((await message(t, 'wamid.fwd')).content.context).toEqual({ forwarded: true });
      expect((await message(t, 'wamid.ffwd')).content.context).toEqual({ frequently_forwarded: true });
      expect(await message(t, 'wamid.product')).toMatchObject({ relatesTo: 'wamid.catalog.1' });
    },
  },
  {
    name: 'unsupported with errors[], and the older "unknown"',
    body: envelope([
      {
        field: 'messages',
        value: messagesValue({
          contacts: [contact],
          messages: [
            {
              from: CUSTOMER,
              id: 'wamid.unsupported',
              timestamp: TS,
              type: 'unsupported',
              unsupported: { type: 'edit' },
              errors: [
                {
                  code: 131051,
                  title: 'Message type unknown',
                  message: 'Message type unknown',
                  error_data: { details: 'Message type is currently not supported.' },
                },
              ],
            },
            {
              from: CUSTOMER,
              id: 'wamid.unknown',
              timestamp: TS,
              type: 'unknown',
              errors: [
                {
                  code: '131051',
                  details: 'Message type is not currently supported',
                  title: 'Unsupported message type',
                },
              ],
            },
          ],
        }),
      },
    ]),
    async check(t) {
      const m = await message(t, 'wamid.unsupported');
      expect(m).toMatchObject({ type: 'unsupported', text: null });
      expect((m.content.errors as Json[])[0]).toMatchObject({ code: 131051 });
      expect((await message(t, 'wamid.unknown')).type).toBe('unknown');
    },
  },
  {
    name: 'request_welcome',
    body: inbound({ id: 'wamid.welcome', type: 'request_welcome' }),
    async check(t) {
      expect(await message(t, 'wamid.welcome')).toMatchObject({ type: 'request_welcome', text: null });
    },
  },
  {
    name: 'edit and revoke (shapes Meta may start sending) are kept as their own types',
    body: envelope([
      {
        field: 'messages',
        value: messagesValue({
          contacts: [contact],
          messages: [
            {
              from: CUSTOMER,
              id: 'wamid.edit',
              timestamp: TS,
              type: 'edit',
              edit: {
                original_message_id: 'wamid.text',
                message: { type: 'text', text: { body: 'Olá, corrected' } },
              },
            },
            {
              from: CUSTOMER,
              id: 'wamid.revoke',
              timestamp: TS,
              type: 'revoke',
              revoke: { original_message_id: 'wamid.text' },
            },
          ],
        }),
      },
    ]),
    async check(t) {
      expect((await message(t, 'wamid.edit')).content.edit).toMatchObject({
        original_message_id: 'wamid.text',
      });
      expect((await message(t, 'wamid.revoke')).type).toBe('revoke');
    },
  },
  {
    name: 'one unreadable message or status does not take its neighbours with it',
    body: envelope([
      {
        field: 'messages',
        value: messagesValue({
          contacts: [contact, 'not a contact'],
          messages: [
            {
              from: CUSTOMER,
              id: 'wamid.beside.bad',
              timestamp: TS,
              type: 'text',
              text: { body: 'still here' },
            },
            // no id and no timestamp: nothing can be keyed on it
            { from: CUSTOMER, type: 'text', text: { body: 'anonymous' } },
          ],
          statuses: [
            { id: 'wamid.out.ok', status: 'delivered', timestamp: TS, recipient_id: CUSTOMER },
            // a timestamp of a shape nobody documented
            {
              id: 'wamid.out.odd',
              status: 'read',
              timestamp: { seconds: 1749416383 },
              recipient_id: CUSTOMER,
            },
            // an error code spelled as a word is read as it came
            {
              id: 'wamid.out.failed',
              status: 'failed',
              timestamp: TS,
              recipient_id: CUSTOMER,
              errors: [{ code: 'RATE_LIMIT', title: 'Rate limit hit' }],
            },
          ],
        }),
      },
    ]),
    async check(t) {
      expect(await message(t, 'wamid.beside.bad')).toMatchObject({ text: 'still here' });
      // The good message is mirrored like any other.
      const jobs = dbOf(t).all<{ event_type: string }>(
        "SELECT event_type FROM (SELECT event_type FROM jobs UNION ALL SELECT event_type FROM jobs_new, json_each(jobs_new.connectors)) WHERE event_type = 'message.inbound'",
      );
      expect(jobs).toHaveLength(1);
      expect(dbOf(t).all('SELECT wamid, status FROM message_statuses ORDER BY wamid')).toEqual([
        { wamid: 'wamid.out.failed', status: 'failed' },
        { wamid: 'wamid.out.ok', status: 'delivered' },
      ]);
      // What could not be read is kept as it came, in the workspace, element by element.
      const kept = platformEvents(t).map((e) => ({
        workspaceId: e.workspaceId,
        field: e.field,
        payload: e.payload,
      }));
      expect(kept).toEqual(
        expect.arrayContaining([
          {
            workspaceId: t.workspaceId,
            field: 'messages.messages',
            payload: { from: CUSTOMER, type: 'text', text: { body: 'anonymous' } },
          },
          {
            workspaceId: t.workspaceId,
            field: 'messages.statuses',
            payload: {
              id: 'wamid.out.odd',
              status: 'read',
              timestamp: { seconds: 1749416383 },
              recipient_id: CUSTOMER,
            },
          },
          { workspaceId: t.workspaceId, field: 'messages.contacts', payload: 'not a contact' },
        ]),
      );
      expect(kept).toHaveLength(3);
    },
  },
  {
    name: 'future message type and a known type in an unexpected shape',
    body: envelope([
      {
        field: 'messages',
        value: messagesValue({
          contacts: [contact],
          messages: [
            {
              from: CUSTOMER,
              id: 'wamid.poll',
              timestamp: TS,
              type: 'poll',
              poll: { text: 'Which day?', options: ['Mon'] },
            },
            // nulls where objects are expected, a numeric body
            {
              from: CUSTOMER,
              id: 'wamid.nulls',
              timestamp: TS,
              type: 'text',
              text: { body: 'ok' },
              context: null,
              referral: null,
            },
            { from: CUSTOMER, id: 'wamid.oddtext', timestamp: TS, type: 'text', text: { body: 42 } },
            { from: CUSTOMER, id: 'wamid.noimage', timestamp: TS, type: 'image', image: null },
          ],
        }),
      },
    ]),
    async check(t) {
      expect(await message(t, 'wamid.poll')).toMatchObject({ type: 'poll', text: 'Which day?' });
      expect(await message(t, 'wamid.nulls')).toMatchObject({ type: 'text', text: 'ok' });
      expect((await message(t, 'wamid.oddtext')).content.text).toEqual({ body: 42 });
      expect((await message(t, 'wamid.noimage')).type).toBe('image');
    },
  },
  {
    name: 'group message with group_id',
    body: inbound({
      id: 'wamid.group',
      type: 'text',
      text: { body: 'hi all' },
      group_id: '120363025246125486@g.us',
    }),
    async check(t) {
      expect((await message(t, 'wamid.group')).content.group_id).toBe('120363025246125486@g.us');
    },
  },
  {
    name: 'numeric timestamps, ids and phone numbers',
    body: envelope([
      {
        field: 'messages',
        value: {
          messaging_product: 'whatsapp',
          metadata: { display_phone_number: 15550783881, phone_number_id: Number(PN) },
          contacts: [{ profile: { name: 'N' }, wa_id: Number(CUSTOMER) }],
          messages: [
            {
              from: Number(CUSTOMER),
              id: 'wamid.numeric',
              timestamp: Number(TS),
              type: 'text',
              text: { body: 'n' },
            },
          ],
        },
      },
    ]),
    async check(t) {
      expect(await message(t, 'wamid.numeric')).toMatchObject({ text: 'n', timestamp: Number(TS) * 1000 });
      expect((await contactOf(t, 'wamid.numeric')).waId).toBe(CUSTOMER);
    },
  },
  {
    name: '64 KiB of text with emoji',
    body: inbound({ id: 'wamid.long', type: 'text', text: { body: LONG_TEXT } }),
    async check(t) {
      const m = await message(t, 'wamid.long');
      expect(m.text).toBe(LONG_TEXT);
      expect(m.text?.length).toBe(65_536);
    },
  },

  // ---------------------------------------------------------------- identities (§1.16)
  {
    name: 'BSUID and username without wa_id or from',
    body: envelope([
      {
        field: 'messages',
        value: messagesValue({
          contacts: [
            { profile: { name: 'Ana', username: '@ana.b' }, user_id: BSUID, parent_user_id: PARENT_BSUID },
          ],
          messages: [
            {
              from_user_id: BSUID,
              from_parent_user_id: PARENT_BSUID,
              id: 'wamid.bsuid',
              timestamp: TS,
              type: 'text',
              text: { body: 'hello' },
            },
          ],
        }),
      },
    ]),
    async check(t) {
      expect(await contactOf(t, 'wamid.bsuid')).toMatchObject({
        waId: null,
        bsuid: BSUID,
        parentBsuid: PARENT_BSUID,
        username: '@ana.b',
        profileName: 'Ana',
      });
    },
  },
  {
    name: 'contacts[] missing, profile missing',
    body: envelope([
      {
        field: 'messages',
        value: messagesValue({
          contacts: [{ wa_id: '447700900123' }],
          messages: [
            { from: CUSTOMER, id: 'wamid.nocontacts', timestamp: TS, type: 'text', text: { body: 'a' } },
          ],
        }),
      },
      {
        field: 'messages',
        value: messagesValue({
          contacts: [{ wa_id: '447700900123' }],
          messages: [
            { from: '447700900123', id: 'wamid.noprofile', timestamp: TS, type: 'text', text: { body: 'b' } },
          ],
        }),
      },
    ]),
    async check(t) {
      expect((await contactOf(t, 'wamid.nocontacts')).waId).toBe(CUSTOMER);
      expect(await contactOf(t, 'wamid.noprofile')).toMatchObject({
        waId: '447700900123',
        profileName: null,
      });
    },
  },
  {
    name: 'a message with no user identifier at all is kept, and its batch is not lost',
    body: envelope([
      {
        field: 'messages',
        value: messagesValue({
          messages: [
            { id: 'wamid.anonymous', timestamp: TS, type: 'text', text: { body: 'who am I' } },
            { from: CUSTOMER, id: 'wamid.beside', timestamp: TS, type: 'text', text: { body: 'me' } },
          ],
        }),
      },
    ]),
    async check(t) {
      expect((await message(t, 'wamid.beside')).text).toBe('me');
      const kept = platformEvents(t).filter((e) => JSON.stringify(e.payload).includes('wamid.anonymous'));
      expect(kept).toHaveLength(1);
      expect(kept[0]?.workspaceId).toBe(t.workspaceId);
    },
  },

  // ---------------------------------------------------------------- statuses
  {
    name: 'sent, delivered, read with conversation and pricing (CBP and PMP), played, deleted',
    body: statuses([
      {
        id: 'wamid.out.1',
        status: 'sent',
        timestamp: '1750263773',
        recipient_id: CUSTOMER,
        recipient_user_id: BSUID,
        conversation: {
          id: 'CONVERSATION_ID',
          expiration_timestamp: '1750350180',
          origin: { type: 'utility' },
        },
        pricing: { billable: true, pricing_model: 'CBP', category: 'utility' },
        biz_opaque_callback_data: 'msg_unknown',
      },
      {
        id: 'wamid.out.1',
        status: 'delivered',
        timestamp: 1750263774,
        recipient_id: CUSTOMER,
        conversation: { id: 'CONVERSATION_ID', origin: { type: 'utility' } },
        pricing: { billable: 'true', pricing_model: 'PMP', category: 'utility', type: 'regular' },
      },
      {
        id: 'wamid.out.1',
        status: 'read',
        timestamp: '1750263775',
        recipient_id: CUSTOMER,
        pricing: { pricing_model: 'PMP', category: 'service', type: 'free_customer_service' },
      },
      { id: 'wamid.out.2', status: 'played', timestamp: '1750263776', recipient_id: CUSTOMER },
      { id: 'wamid.out.3', status: 'deleted', timestamp: '1750263777', recipient_id: CUSTOMER },
    ]),
    async check(t) {
      const list = await statusesOf(t, 'wamid.out.1');
      expect(list.map((s) => s.status)).toEqual(['sent', 'delivered', 'read']);
      expect(list[0]?.raw).toMatchObject({
        conversation: { origin: { type: 'utility' } },
        pricing: { pricing_model: 'CBP' },
      });
      expect(list[1]?.timestamp).toBe(1750263774000);
      expect((await statusesOf(t, 'wamid.out.2')).map((s) => s.status)).toEqual(['played']);
      expect((await statusesOf(t, 'wamid.out.3')).map((s) => s.status)).toEqual(['deleted']);
    },
  },
  {
    name: 'failed with errors[].error_data.details and href',
    body: statuses([
      {
        id: 'wamid.out.failed',
        status: 'failed',
        timestamp: '1750263778',
        recipient_id: CUSTOMER,
        errors: [
          {
            code: 131047,
            title: 'Re-engagement message',
            message: 'Re-engagement message',
            error_data: {
              details:
                'Message failed to send because more than 24 hours have passed since the customer last replied to this number.',
            },
            href: 'https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/',
          },
        ],
      },
    ]),
    async check(t) {
      const [failed] = await statusesOf(t, 'wamid.out.failed');
      expect(failed?.status).toBe('failed');
      expect(failed?.error).toMatchObject({ code: 131047 });
      expect(failed?.raw).toMatchObject({ errors: [{ href: expect.stringContaining('error-codes') }] });
    },
  },
  {
    name: 'group recipient, and a recipient without recipient_id',
    body: statuses([
      {
        id: 'wamid.out.group',
        status: 'delivered',
        timestamp: '1750263779',
        recipient_id: '120363025246125486',
        recipient_type: 'group',
        recipient_participant_id: CUSTOMER,
      },
      { id: 'wamid.out.bsuid', status: 'sent', timestamp: '1750263780', recipient_user_id: BSUID },
      { id: 'wamid.out.bare', status: 'sent', timestamp: '1750263781' },
      { id: 'wamid.out.future', status: 'warning', timestamp: '1750263782', recipient_id: CUSTOMER },
    ]),
    async check(t) {
      expect((await statusesOf(t, 'wamid.out.group'))[0]?.raw).toMatchObject({ recipient_type: 'group' });
      expect(await statusesOf(t, 'wamid.out.bsuid')).toHaveLength(1);
      expect(await statusesOf(t, 'wamid.out.bare')).toHaveLength(1);
      expect((await statusesOf(t, 'wamid.out.future'))[0]?.status).toBe('warning');
    },
  },

  // ---------------------------------------------------------------- value-level errors
  {
    name: 'value-level errors',
    body: envelope([
      {
        field: 'messages',
        value: messagesValue({
          errors: [
            {
              code: 131000,
              title: 'Something went wrong',
              message: 'Something went wrong',
              error_data: { details: 'Unknown error' },
              href: 'https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/',
            },
          ],
        }),
      },
    ]),
    async check(t) {
      const events = platformEvents(t, 'messages.errors');
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({ workspaceId: t.workspaceId, payload: { code: 131000 } });
    },
  },

  // ---------------------------------------------------------------- batches
  {
    name: 'several messages from several contacts with statuses, in one value',
    body: envelope([
      {
        field: 'messages',
        value: messagesValue({
          contacts: [contact, { profile: { name: 'Ravi' }, wa_id: '919876543210' }],
          messages: [
            { from: CUSTOMER, id: 'wamid.batch.1', timestamp: TS, type: 'text', text: { body: 'one' } },
            { from: '919876543210', id: 'wamid.batch.2', timestamp: TS, type: 'text', text: { body: 'two' } },
          ],
          statuses: [{ id: 'wamid.out.batch', status: 'sent', timestamp: TS, recipient_id: CUSTOMER }],
        }),
      },
    ]),
    async check(t) {
      expect(await contactOf(t, 'wamid.batch.1')).toMatchObject({
        waId: CUSTOMER,
        profileName: 'Sheena Nelson',
      });
      expect(await contactOf(t, 'wamid.batch.2')).toMatchObject({
        waId: '919876543210',
        profileName: 'Ravi',
      });
      expect(await statusesOf(t, 'wamid.out.batch')).toHaveLength(1);
    },
  },
  {
    name: 'several entries and changes: two owned numbers, one unowned, and an account update',
    body: {
      object: 'whatsapp_business_account',
      entry: [
        {
          id: WABA,
          changes: [
            {
              field: 'messages',
              value: messagesValue({
                contacts: [contact],
                messages: [
                  {
                    from: CUSTOMER,
                    id: 'wamid.multi.1',
                    timestamp: TS,
                    type: 'text',
                    text: { body: 'to 1' },
                  },
                ],
              }),
            },
            {
              field: 'messages',
              value: messagesValue(
                {
                  contacts: [contact],
                  messages: [
                    {
                      from: CUSTOMER,
                      id: 'wamid.multi.2',
                      timestamp: TS,
                      type: 'text',
                      text: { body: 'to 2' },
                    },
                  ],
                },
                PN2,
              ),
            },
          ],
        },
        {
          id: '999888777666555',
          time: 1749416390,
          changes: [
            {
              field: 'messages',
              value: messagesValue(
                {
                  contacts: [contact],
                  messages: [
                    {
                      from: CUSTOMER,
                      id: 'wamid.multi.3',
                      timestamp: TS,
                      type: 'text',
                      text: { body: 'to 3' },
                    },
                  ],
                },
                UNOWNED,
              ),
            },
            { field: 'account_update', value: { phone_number: '15550783882', event: 'VERIFIED_ACCOUNT' } },
          ],
        },
      ],
    },
    async check(t) {
      expect((await message(t, 'wamid.multi.1')).text).toBe('to 1');
      expect((await message(t, 'wamid.multi.2')).text).toBe('to 2');
      expect(await t.runtime.store.getMessageByWamid(t.workspaceId, 'wamid.multi.3')).toBeNull();
      const kept = await unrouted(t);
      expect(kept).toHaveLength(1);
      expect(kept[0]).toMatchObject({ phoneNumberId: UNOWNED, field: 'messages' });
      expect(JSON.stringify(kept[0]?.payload)).toContain('wamid.multi.3');
      expect(platformEvents(t, 'account_update')).toHaveLength(1);
    },
  },
  {
    name: 'empty arrays everywhere',
    body: envelope([
      { field: 'messages', value: messagesValue({ contacts: [], messages: [], statuses: [], errors: [] }) },
    ]),
    async check(t) {
      // Nothing Meta sent may vanish: a value with nothing we understand is kept as it came.
      expect(platformEvents(t)).toHaveLength(1);
    },
  },
  {
    name: 'an unknown array beside messages in a messages value',
    body: envelope([
      {
        field: 'messages',
        value: messagesValue({
          contacts: [contact],
          calls: [
            { id: 'wacid.1', from: CUSTOMER, event: 'connect', timestamp: TS, direction: 'USER_INITIATED' },
          ],
        }),
      },
    ]),
    async check(t) {
      const [event] = platformEvents(t);
      expect(event).toMatchObject({ workspaceId: t.workspaceId, field: 'messages' });
      expect(JSON.stringify(event?.payload)).toContain('wacid.1');
    },
  },

  {
    name: 'new fields in a contact and in the metadata beside an ordinary message',
    body: envelope([
      {
        field: 'messages',
        value: {
          messaging_product: 'whatsapp',
          metadata: { ...metadata(), waba_region: 'EU' },
          contacts: [
            {
              profile: { name: 'Sheena Nelson', avatar_hint: 'initials' },
              wa_id: CUSTOMER,
              identity_key_hash: 'NlGYeoNXY6E=',
              country_code: 'US',
            },
          ],
          messages: [
            { from: CUSTOMER, id: 'wamid.newfields', timestamp: TS, type: 'text', text: { body: 'hi' } },
          ],
        },
      },
    ]),
    async check(t) {
      // The message goes through as usual; what we do not store as read is kept beside it.
      expect(await message(t, 'wamid.newfields')).toMatchObject({ text: 'hi' });
      const [event] = platformEvents(t);
      expect(event).toMatchObject({
        workspaceId: t.workspaceId,
        field: 'messages',
        parseIssues: [
          'keys not read: metadata.waba_region, contacts[].identity_key_hash, contacts[].country_code, contacts[].profile.avatar_hint',
        ],
      });
      expect(JSON.stringify(event?.payload)).toContain('NlGYeoNXY6E=');
    },
  },
  {
    name: 'a contact with only the fields we store adds no platform event',
    body: inbound({ id: 'wamid.plaincontact', type: 'text', text: { body: 'hi' } }),
    async check(t) {
      expect(await message(t, 'wamid.plaincontact')).toMatchObject({ text: 'hi' });
      expect(platformEvents(t)).toEqual([]);
    },
  },

  // ---------------------------------------------------------------- other fields
  ...(
    [
      [
        'message_template_status_update',
        {
          event: 'APPROVED',
          message_template_id: 594425479261596,
          message_template_name: 'order_confirmation',
          message_template_language: 'en_US',
          reason: 'NONE',
        },
      ],
      [
        'message_template_quality_update',
        {
          previous_quality_score: 'GREEN',
          new_quality_score: 'YELLOW',
          message_template_id: 806312974732579,
          message_template_name: 'welcome_template',
          message_template_language: 'en_US',
        },
      ],
      [
        'template_category_update',
        {
          message_template_id: 278077987969594,
          message_template_name: 'welcome_template',
          message_template_language: 'en_US',
          previous_category: 'UTILITY',
          new_category: 'MARKETING',
          correct_category: 'MARKETING',
        },
      ],
      [
        'phone_number_quality_update',
        {
          display_phone_number: '15550783881',
          event: 'FLAGGED',
          current_limit: 'TIER_10K',
          old_limit: 'TIER_100K',
        },
      ],
      [
        'phone_number_name_update',
        {
          display_phone_number: '15550783881',
          decision: 'APPROVED',
          requested_verified_name: 'Lucky Shrub',
          rejection_reason: null,
        },
      ],
      [
        'account_update',
        {
          phone_number: '15550783881',
          event: 'ACCOUNT_RESTRICTION',
          restriction_info: [
            { restriction_type: 'RESTRICTED_ADD_PHONE_NUMBER_ACTION', expiration: 1750000000 },
          ],
        },
      ],
      ['account_review_update', { decision: 'APPROVED' }],
      [
        'business_capability_update',
        { max_daily_conversation_per_phone: 1000, max_phone_numbers_per_business: 2 },
      ],
      ['security', { display_phone_number: '15550783881', event: 'PIN_CHANGED', requester: '1234567890' }],
      [
        'flows',
        {
          event: 'FLOW_STATUS_CHANGE',
          message: 'Flow Webhook Notification',
          flow_id: '1234567890',
          old_status: 'DRAFT',
          new_status: 'PUBLISHED',
        },
      ],
      [
        'history',
        {
          messaging_product: 'whatsapp',
          metadata: metadata(),
          history: [
            {
              metadata: { phase: 0, chunk_order: 1, progress: 55 },
              threads: [
                {
                  id: CUSTOMER,
                  messages: [
                    {
                      from: CUSTOMER,
                      id: 'wamid.history.1',
                      timestamp: '1740000000',
                      type: 'text',
                      text: { body: 'old chat' },
                      history_context: { status: 'READ' },
                    },
                  ],
                },
              ],
            },
          ],
        },
      ],
      [
        'smb_app_state_sync',
        {
          messaging_product: 'whatsapp',
          metadata: metadata(),
          state_sync: [
            {
              type: 'contact',
              contact: { full_name: 'Sheena Nelson', first_name: 'Sheena', phone_number: CUSTOMER },
              action: 'add',
              metadata: { timestamp: '1740000000' },
            },
          ],
        },
      ],
      [
        'smb_message_echoes',
        {
          messaging_product: 'whatsapp',
          metadata: metadata(),
          message_echoes: [
            {
              from: '15550783881',
              to: CUSTOMER,
              id: 'wamid.echo.1',
              timestamp: TS,
              type: 'text',
              text: { body: 'sent from the app' },
            },
          ],
        },
      ],
      [
        'message_echoes',
        {
          messaging_product: 'whatsapp',
          metadata: metadata(),
          message_echoes: [
            {
              from: '15550783881',
              to: CUSTOMER,
              id: 'wamid.echo.2',
              timestamp: TS,
              type: 'text',
              text: { body: 'echo' },
            },
          ],
        },
      ],
      [
        'calls',
        {
          messaging_product: 'whatsapp',
          metadata: metadata(),
          contacts: [contact],
          calls: [
            {
              id: 'wacid.2',
              from: CUSTOMER,
              to: '15550783881',
              event: 'connect',
              timestamp: TS,
              direction: 'USER_INITIATED',
            },
          ],
        },
      ],
      ['some_field_from_2027', { anything: [1, 'two', null, { three: true }] }],
    ] as const
  ).map(
    ([name, value]): Case => ({
      name: `field ${name}`,
      body: field(name, value),
      async check(t) {
        const events = platformEvents(t, name);
        expect(events).toHaveLength(1);
        expect(events[0]?.payload).toEqual(value);
        expect(events[0]?.parseIssues).toEqual([]);
      },
    }),
  ),
  {
    name: 'the same event twice, hours apart (entry.time differs), and in two WABAs at once',
    body: {
      object: 'whatsapp_business_account',
      entry: [
        {
          id: WABA,
          time: 1749416390,
          changes: [
            { field: 'security', value: { display_phone_number: '15550783881', event: 'PIN_CHANGED' } },
          ],
        },
        {
          id: WABA,
          time: 1749430000,
          changes: [
            { field: 'security', value: { display_phone_number: '15550783881', event: 'PIN_CHANGED' } },
          ],
        },
        {
          id: '999888777666555',
          time: 1749430000,
          changes: [{ field: 'business_capability_update', value: { max_phone_numbers_per_business: 2 } }],
        },
        {
          id: WABA,
          time: 1749430000,
          changes: [{ field: 'business_capability_update', value: { max_phone_numbers_per_business: 2 } }],
        },
      ],
    },
    async check(t) {
      // Distinct events that happen to carry equal values are not collapsed into one, and each
      // says which WABA it came from and when (Meta's entry.time).
      const origins = async (field: string) =>
        (await t.runtime.store.listPlatformEvents({ field }))
          .map((e) => [e.workspaceId, e.wabaId, e.entryTime])
          .sort();
      expect(await origins('security')).toEqual([
        [null, WABA, 1749416390],
        [null, WABA, 1749430000],
      ]);
      expect(await origins('business_capability_update')).toEqual([
        [null, WABA, 1749430000],
        [null, '999888777666555', 1749430000],
      ]);
    },
  },

  // ---------------------------------------------------------------- user_preferences
  {
    name: 'user_preferences: marketing stop, then resume',
    body: field(
      'user_preferences',
      {
        messaging_product: 'whatsapp',
        metadata: metadata(),
        contacts: [{ wa_id: CUSTOMER, profile: { name: 'Sheena Nelson' } }],
        user_preferences: [
          {
            wa_id: CUSTOMER,
            detail: 'User requested to stop marketing messages',
            category: 'marketing_messages',
            value: 'stop',
            timestamp: 1731705721,
          },
          {
            wa_id: CUSTOMER,
            detail: 'User requested to resume marketing messages',
            category: 'marketing_messages',
            value: 'resume',
            timestamp: '1731705800',
          },
        ],
      },
      {},
    ),
    async check(t) {
      const c = await contactByWaId(t, CUSTOMER);
      expect(c).toMatchObject({ profileName: 'Sheena Nelson' });
      const history = await consentOf(t, c as Contact);
      expect(history.map((e) => [e.category, e.state, e.source, e.occurredAt])).toEqual([
        ['marketing', 'opted_out', 'meta_preference', 1731705721000],
        ['marketing', 'opted_in', 'meta_preference', 1731705800000],
      ]);
      expect((await t.runtime.store.consentSnapshot(t.workspaceId, c?.id ?? '')).marketing?.state).toBe(
        'opted_in',
      );
    },
  },
  {
    name: 'user_preferences: BSUID-only users, each matched to their own contact entry',
    body: field(
      'user_preferences',
      {
        messaging_product: 'whatsapp',
        metadata: metadata(),
        contacts: [
          { user_id: 'US.1111', profile: { username: '@first' } },
          { user_id: BSUID, profile: { username: '@second' } },
        ],
        user_preferences: [
          { user_id: BSUID, category: 'marketing_messages', value: 'stop', timestamp: 1731705721 },
        ],
      },
      {},
    ),
    async check(t) {
      const c = await contactByBsuid(t, BSUID);
      expect(c).toMatchObject({ bsuid: BSUID, username: '@second', waId: null });
      expect((await consentOf(t, c as Contact)).map((e) => e.state)).toEqual(['opted_out']);
    },
  },
  {
    name: 'user_preferences: an unknown value literal is kept as a platform event',
    body: field(
      'user_preferences',
      {
        messaging_product: 'whatsapp',
        metadata: metadata(),
        user_preferences: [
          { wa_id: CUSTOMER, category: 'marketing_messages', value: 'snooze_30d', timestamp: 1731705721 },
        ],
      },
      {},
    ),
    async check(t) {
      const [event] = platformEvents(t, 'user_preferences');
      expect(event).toMatchObject({ workspaceId: t.workspaceId, payload: { value: 'snooze_30d' } });
    },
  },
  {
    name: 'user_preferences for a number nobody owns',
    body: field(
      'user_preferences',
      {
        messaging_product: 'whatsapp',
        metadata: metadata(UNOWNED),
        user_preferences: [
          { wa_id: CUSTOMER, category: 'marketing_messages', value: 'stop', timestamp: 1731705721 },
        ],
      },
      {},
    ),
    async check(t) {
      expect(await unrouted(t)).toMatchObject([{ phoneNumberId: UNOWNED, field: 'user_preferences' }]);
    },
  },

  // ---------------------------------------------------------------- envelopes
  {
    name: 'a messages value of null and a value without metadata',
    body: envelope([
      { field: 'messages', value: null },
      {
        field: 'messages',
        value: {
          messaging_product: 'whatsapp',
          statuses: [{ id: 'wamid.x', status: 'sent', timestamp: TS }],
        },
      },
    ]),
    async check(t) {
      const events = platformEvents(t, 'messages');
      expect(events).toHaveLength(2);
      expect(events.every((e) => e.parseIssues.length > 0)).toBe(true);
    },
  },
  {
    name: 'changes: null, a change that is not an object',
    body: {
      object: 'whatsapp_business_account',
      entry: [
        { id: WABA, changes: null },
        { id: WABA, changes: ['x', 7] },
      ],
    },
    async check(t) {
      expect(platformEvents(t)).toHaveLength(3);
    },
  },
  {
    name: 'entry: [] is kept',
    body: { object: 'whatsapp_business_account', entry: [] },
    async check(t) {
      expect(platformEvents(t)).toMatchObject([
        { payload: { object: 'whatsapp_business_account', entry: [] } },
      ]);
    },
  },
  {
    name: 'an object other than whatsapp_business_account (Messenger-style entry without changes)',
    body: {
      object: 'page',
      entry: [
        {
          id: '1784101',
          time: 1749416390,
          messaging: [
            {
              sender: { id: '1' },
              recipient: { id: '2' },
              timestamp: 1749416390,
              message: { mid: 'm_1', text: 'hi' },
            },
          ],
        },
      ],
    },
    async check(t) {
      const events = platformEvents(t);
      expect(events).toHaveLength(1);
      expect(JSON.stringify(events[0]?.payload)).toContain('m_1');
    },
  },
  {
    name: 'an instagram object with changes',
    body: {
      object: 'instagram',
      entry: [{ id: '1784', time: 1, changes: [{ field: 'comments', value: { id: 'c1', text: 'nice' } }] }],
    },
    async check(t) {
      expect(platformEvents(t, 'comments')).toMatchObject([{ payload: { id: 'c1' } }]);
    },
  },
  {
    name: 'a JSON array body',
    body: [{ entry: [] }],
    async check(t) {
      expect(platformEvents(t)).toMatchObject([{ payload: [{ entry: [] }] }]);
    },
  },
  {
    name: 'a JSON number body',
    body: 42,
    async check(t) {
      expect(platformEvents(t)).toMatchObject([{ payload: 42 }]);
    },
  },
  {
    name: 'a JSON string body',
    body: 'hello',
    async check(t) {
      expect(platformEvents(t)).toMatchObject([{ payload: 'hello' }]);
    },
  },
  {
    name: 'a JSON null body',
    body: null,
    async check(t) {
      expect(platformEvents(t)).toMatchObject([{ payload: null }]);
    },
  },
  {
    name: 'a UTF-8 byte order mark before the JSON',
    raw: true,
    body: `\ufeff${metaJson(inbound({ id: 'wamid.bom', type: 'text', text: { body: 'bom' } }))}`,
    async check(t) {
      expect((await message(t, 'wamid.bom')).text).toBe('bom');
    },
  },
  {
    name: 'an id above 2^53 sent as a JSON number keeps its exact digits',
    raw: true,
    body: `{"object":"whatsapp_business_account","entry":[{"id":"${WABA}","time":1749416390,"changes":[{"value":{"event":"APPROVED","message_template_id":9007199254740993,"message_template_name":"order_update","message_template_language":"en_US","reason":"NONE"},"field":"message_template_status_update"}]}]}`,
    async check(t) {
      const [event] = platformEvents(t, 'message_template_status_update');
      expect(event?.payload).toMatchObject({ message_template_id: '9007199254740993', event: 'APPROVED' });
    },
  },
  {
    name: 'a lone surrogate (text cut inside an emoji) and a NUL character',
    raw: true,
    body: metaJson(inbound({ id: 'wamid.surrogate', type: 'text', text: { body: 'cut here AAA' } })).replace(
      'AAA',
      '\\ud83d and \\u0000 nul',
    ),
    async check(t) {
      const m = await message(t, 'wamid.surrogate');
      // Stored, whatever SQLite makes of the half emoji; the rest of the text is intact.
      expect(m.text?.startsWith('cut here ')).toBe(true);
      expect(m.text?.endsWith(' and \u0000 nul')).toBe(true);
    },
  },
  {
    name: 'raw (unescaped) UTF-8 and pretty-printed JSON',
    raw: true,
    body: JSON.stringify(
      inbound({ id: 'wamid.rawutf8', type: 'text', text: { body: 'Привет 👋 こんにちは' } }),
      null,
      2,
    ),
    async check(t) {
      expect((await message(t, 'wamid.rawutf8')).text).toBe('Привет 👋 こんにちは');
    },
  },
];

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

  for (const c of cases) {
    it(`${c.name}: 200, stored, and a re-delivery changes nothing`, async () => {
      const body = c.raw ? String(c.body) : metaJson(c.body);
      const first = await post(body);
      expect(first.status, await first.clone().text()).toBe(200);
      await c.check(t);
      const before = snapshot(t);
      // Something was stored: every acknowledged body leaves a trace.
      expect(Object.values(before).some((rows) => rows.length > 0)).toBe(true);
      const again = await post(body);
      expect(again.status).toBe(200);
      expect(snapshot(t)).toEqual(before);
      await c.check(t);
    });
  }

  it('the same bodies delivered out of order and repeatedly end in the same state', async () => {
    const bodies = cases.filter((c) => !c.raw).map((c) => metaJson(c.body));
    for (const body of bodies) expect((await post(body)).status).toBe(200);
    const once = snapshot(t);
    for (const body of [...bodies].reverse()) expect((await post(body)).status).toBe(200);
    expect(snapshot(t)).toEqual(once);
  });
});
