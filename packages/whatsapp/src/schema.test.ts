import { describe, expect, it } from 'vitest';
import { classifyWebhookError } from './cloud-api-errors.ts';
import {
  type ClassifiedChange,
  changedMessageId,
  classifyChange,
  echoRecipient,
  editedText,
  type InboundMessage,
  inboundMessageSchema,
  isKnownMessage,
  type MessagesValue,
  messagesValueSchema,
  messageText,
  parseWebhookPayload,
  statusUpdateSchema,
  userPreferencesValueSchema,
  webhookTimestampToDate,
} from './schema.ts';

const METADATA = { display_phone_number: '15550783881', phone_number_id: '106540352242922' };

function envelope(field: string, value: unknown) {
  return {
    object: 'whatsapp_business_account',
    entry: [{ id: '102290129340398', changes: [{ field, value }] }],
  };
}

function onlyChange(json: unknown): ClassifiedChange {
  const result = parseWebhookPayload(json);
  if (!result.ok) throw new Error(result.issues.join('; '));
  expect(result.changes).toHaveLength(1);
  const change = result.changes[0];
  if (!change) throw new Error('no change');
  return change;
}

function messagesOf(json: unknown): MessagesValue {
  const change = onlyChange(json);
  if (change.kind !== 'messages') {
    const issues = change.kind === 'other' ? change.parseIssues : undefined;
    throw new Error(`expected messages, got ${change.kind}: ${issues}`);
  }
  return change.value;
}

function message(extra: Record<string, unknown>): Record<string, unknown> {
  return { from: '16505551234', id: 'wamid.IN1', timestamp: '1750000000', ...extra };
}

const parseMessage = (raw: unknown): InboundMessage => inboundMessageSchema.parse(raw);

describe('inbound messages', () => {
  it('a message of an unknown type is kept whole through the fallback, not rejected', () => {
    const raw = message({
      type: 'poll',
      poll: { body: 'Which day suits you?', options: ['Mon', 'Tue'] },
      future: [1],
    });
    const value = messagesOf(
      envelope('messages', { messaging_product: 'whatsapp', metadata: METADATA, messages: [raw] }),
    );
    const parsed = value.messages?.[0];
    if (!parsed) throw new Error('message lost');
    expect(isKnownMessage(parsed)).toBe(false);
    expect(parsed).toEqual(raw);
    expect(parsed.type).toBe('poll');
    expect(messageText(parsed)).toBe('Which day suits you?');
  });

  it('an edit and a revoke parse as known types naming the message they change', () => {
    // Shapes of Meta's edit and revoke references (coexistence numbers).
    const edit = parseMessage(
      message({
        id: 'wamid.EDIT',
        type: 'edit',
        edit: {
          original_message_id: 'wamid.ORIG',
          message: { context: { from: '15550783881', id: 'wamid.Q' }, type: 'text', text: { body: 'fixed' } },
        },
      }),
    );
    expect(isKnownMessage(edit)).toBe(true);
    expect(changedMessageId(edit)).toBe('wamid.ORIG');
    expect(messageText(edit)).toBe('fixed');
    // The new version's type may be left out; a caption is its text then.
    expect(editedText({ image: { caption: 'new caption' } })).toBe('new caption');
    const revoke = parseMessage(
      message({ id: 'wamid.REV', type: 'revoke', revoke: { original_message_id: 'wamid.ORIG' } }),
    );
    expect(isKnownMessage(revoke)).toBe(true);
    expect(changedMessageId(revoke)).toBe('wamid.ORIG');
    expect(messageText(revoke)).toBeUndefined();
  });

  it('a known type with an unexpected shape falls back to unknown without losing its batch', () => {
    const odd = message({ id: 'wamid.ODD', type: 'text', text: { body: { rich: true } } });
    const fine = message({ id: 'wamid.FINE', type: 'text', text: { body: 'hello' } });
    const value = messagesOf(
      envelope('messages', { messaging_product: 'whatsapp', metadata: METADATA, messages: [odd, fine] }),
    );
    const [first, second] = value.messages ?? [];
    if (!first || !second) throw new Error('messages lost');
    expect(isKnownMessage(first)).toBe(false);
    expect(first).toEqual(odd);
    expect(isKnownMessage(second)).toBe(true);
    expect(messageText(second)).toBe('hello');
  });

  it('a BSUID-only message without `from` parses and exposes the business-scoped ids', () => {
    const raw = {
      messaging_product: 'whatsapp',
      metadata: METADATA,
      contacts: [
        {
          profile: { name: 'Sheena', username: '@sheena' },
          user_id: 'US.13491208655302741918',
          parent_user_id: 'US.ENT.11815799212886844830',
        },
      ],
      messages: [
        {
          from_user_id: 'US.13491208655302741918',
          from_parent_user_id: 'US.ENT.11815799212886844830',
          id: 'wamid.BSUID',
          timestamp: '1750000000',
          type: 'text',
          text: { body: 'hi from a username' },
        },
      ],
    };
    const value = messagesOf(envelope('messages', raw));
    const parsed = value.messages?.[0];
    if (!parsed || !isKnownMessage(parsed)) throw new Error('not parsed as known');
    expect(parsed.from).toBeUndefined();
    expect(parsed.from_user_id).toBe('US.13491208655302741918');
    expect(parsed.from_parent_user_id).toBe('US.ENT.11815799212886844830');
    expect(value.contacts?.[0]?.wa_id).toBeUndefined();
    expect(value.contacts?.[0]?.profile?.username).toBe('@sheena');
    expect(value).toEqual(raw);
  });

  it('a reaction without an emoji is a known reaction meaning "removed"', () => {
    const parsed = parseMessage(message({ type: 'reaction', reaction: { message_id: 'wamid.OUT' } }));
    if (!isKnownMessage(parsed) || parsed.type !== 'reaction') throw new Error('not a reaction');
    expect(parsed.reaction.emoji).toBeUndefined();
    expect(parsed.reaction.message_id).toBe('wamid.OUT');
    expect(messageText(parsed)).toBeUndefined();
  });

  it('timestamps and ids sent as numbers are normalised to strings; numeric strings become numbers', () => {
    const parsed = parseMessage({
      from: 16505551234,
      id: 'wamid.N',
      timestamp: 1750000000,
      type: 'location',
      location: { latitude: '37.44', longitude: -122.16, name: 'Philz' },
    });
    if (!isKnownMessage(parsed) || parsed.type !== 'location') throw new Error('not a location');
    expect(parsed.timestamp).toBe('1750000000');
    expect(parsed.from).toBe('16505551234');
    expect(parsed.location.latitude).toBe(37.44);
  });

  it('every interactive reply kind parses as a known interactive message, including future kinds', () => {
    const replies = [
      { type: 'button_reply', button_reply: { id: 'b1', title: 'Yes' } },
      { type: 'list_reply', list_reply: { id: 'r1', title: 'Express', description: 'Next day' } },
      { type: 'nfm_reply', nfm_reply: { name: 'flow', body: 'Sent', response_json: '{"flow_token":"t"}' } },
      {
        type: 'call_permission_reply',
        call_permission_reply: { response: 'accept', is_permanent: false, expiration_timestamp: 1750086400 },
      },
      { type: 'some_future_reply', some_future_reply: { anything: true } },
    ];
    for (const interactive of replies) {
      const parsed = parseMessage(
        message({ type: 'interactive', interactive, context: { from: '15550783881', id: 'wamid.OUT' } }),
      );
      expect(isKnownMessage(parsed), interactive.type).toBe(true);
    }
  });

  it('request_welcome, system, order, sticker, audio, video and document parse as known types', () => {
    const raws = [
      message({ type: 'request_welcome' }),
      {
        id: 'wamid.S',
        timestamp: '1',
        type: 'system',
        system: { body: 'changed', type: 'user_changed_user_id' },
      },
      message({
        type: 'order',
        order: { catalog_id: '1', text: '', product_items: [{ product_retailer_id: 'x', quantity: 1 }] },
      }),
      message({
        type: 'sticker',
        sticker: { id: '1', mime_type: 'image/webp', sha256: 'h', animated: false },
      }),
      message({ type: 'audio', audio: { id: '2', mime_type: 'audio/ogg', voice: true } }),
      message({ type: 'video', video: { id: '3', caption: 'clip' } }),
      message({ type: 'document', document: { id: '4', filename: 'STOP.pdf', caption: 'invoice' } }),
      message({ type: 'unknown', errors: [{ code: 131051, title: 'Message type unknown' }] }),
    ];
    for (const raw of raws) {
      const parsed = parseMessage(raw);
      expect(isKnownMessage(parsed), String(raw.type)).toBe(true);
      expect(parsed).toEqual(raw);
    }
  });
});

describe('messageText', () => {
  const cases: Array<[string, Record<string, unknown>, string | undefined]> = [
    ['text body', { type: 'text', text: { body: 'STOP' } }, 'STOP'],
    ['image caption', { type: 'image', image: { id: '1', caption: 'look' } }, 'look'],
    [
      'document caption, never the file name',
      { type: 'document', document: { id: '1', filename: 'STOP.pdf' } },
      undefined,
    ],
    [
      'template button text, not its payload',
      { type: 'button', button: { text: 'Stop promotions', payload: 'P1' } },
      'Stop promotions',
    ],
    [
      'list reply title',
      { type: 'interactive', interactive: { type: 'list_reply', list_reply: { id: 'r', title: 'Express' } } },
      'Express',
    ],
    [
      'button reply title',
      { type: 'interactive', interactive: { type: 'button_reply', button_reply: { id: 'b', title: 'Yes' } } },
      'Yes',
    ],
    [
      'flow reply: the button text, then the answers without the flow token',
      {
        type: 'interactive',
        interactive: {
          type: 'nfm_reply',
          nfm_reply: {
            body: 'Sent',
            response_json: '{"flow_token":"t-1","name":"Ada","size":"M","extras":["gift wrap"]}',
          },
        },
      },
      'Sent\nname: Ada\nsize: M\nextras: ["gift wrap"]',
    ],
    [
      'flow reply whose response is not JSON: the button text',
      {
        type: 'interactive',
        interactive: { type: 'nfm_reply', nfm_reply: { body: 'Sent', response_json: '{' } },
      },
      'Sent',
    ],
    ['reaction emoji', { type: 'reaction', reaction: { message_id: 'w', emoji: '👍' } }, '👍'],
    [
      'location name and address',
      { type: 'location', location: { latitude: 1, longitude: 2, name: 'Philz', address: '101 Forest Ave' } },
      'Philz, 101 Forest Ave',
    ],
    [
      'shared contact names',
      {
        type: 'contacts',
        contacts: [{ name: { formatted_name: 'Lucía Gómez' } }, { name: { first_name: 'Ana' } }],
      },
      'Lucía Gómez, Ana',
    ],
    [
      'system notice body',
      { type: 'system', system: { body: 'User changed number' } },
      'User changed number',
    ],
    ['voice note has none', { type: 'audio', audio: { id: '1', voice: true } }, undefined],
    ['whitespace-only text is none', { type: 'text', text: { body: '   ' } }, undefined],
  ];
  it.each(cases)('%s', (_title, extra, expected) => {
    expect(messageText(parseMessage(message(extra)))).toBe(expected);
  });
});

describe('statuses and errors', () => {
  it('a failed status keeps its errors with error_data, and the error classifies like a send error', () => {
    const raw = {
      id: 'wamid.OUT',
      status: 'failed',
      timestamp: '1750000000',
      recipient_id: '16505551234',
      recipient_user_id: 'US.13491208655302741918',
      recipient_type: 'individual',
      biz_opaque_callback_data: 'outbound-42',
      errors: [
        {
          code: 131047,
          title: 'Re-engagement message',
          message: 'Re-engagement message',
          error_data: { details: 'Message failed to send because more than 24 hours have passed' },
          href: 'https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/',
        },
      ],
    };
    const value = messagesOf(
      envelope('messages', { messaging_product: 'whatsapp', metadata: METADATA, statuses: [raw] }),
    );
    const status = value.statuses?.[0];
    expect(status).toEqual(raw);
    const error = status?.errors?.[0];
    if (!error) throw new Error('errors lost');
    expect(error.error_data?.details).toContain('24 hours');
    const verdict = classifyWebhookError(error);
    expect(verdict.code).toBe('window_closed');
    expect(verdict.details).toMatchObject({ metaCode: 131047, needsTemplate: true });
  });

  it('a delivered status with conversation and pricing parses, and an unknown future status is kept', () => {
    const delivered = statusUpdateSchema.parse({
      id: 'wamid.OUT',
      status: 'delivered',
      timestamp: '1750000000',
      recipient_id: '16505551234',
      conversation: { id: 'c1', expiration_timestamp: '1750086400', origin: { type: 'service' } },
      pricing: { billable: false, pricing_model: 'PMP', type: 'free_customer_service', category: 'service' },
    });
    expect(delivered.pricing?.type).toBe('free_customer_service');
    const future = statusUpdateSchema.parse({ id: 'wamid.OUT', status: 'deleted', timestamp: 1750000001 });
    expect(future.status).toBe('deleted');
    expect(future.timestamp).toBe('1750000001');
  });

  it('value-level errors (no messages, no statuses) parse as a messages change', () => {
    const raw = {
      messaging_product: 'whatsapp',
      metadata: METADATA,
      errors: [
        {
          code: 130429,
          title: 'Rate limit hit',
          message: '(#130429) Rate limit hit',
          error_data: { details: 'Cloud API message throughput has been reached.' },
          href: 'https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/',
        },
      ],
    };
    const value = messagesOf(envelope('messages', raw));
    expect(value.errors?.[0]?.code).toBe(130429);
    expect(value.messages).toBeUndefined();
    expect(value).toEqual(raw);
  });
});

describe('smb_message_echoes', () => {
  it('the documented payload parses as echoes, each with the customer it went to', () => {
    const change = onlyChange(
      envelope('smb_message_echoes', {
        messaging_product: 'whatsapp',
        metadata: METADATA,
        message_echoes: [
          {
            from: '15550783881',
            to: '16505551234',
            id: 'wamid.E1',
            timestamp: '1750000000',
            type: 'text',
            text: { body: 'hi' },
          },
          {
            from: '15550783881',
            to_user_id: 'US.1',
            id: 'wamid.E2',
            timestamp: 1750000001,
            type: 'revoke',
            revoke: { original_message_id: 'wamid.E1' },
          },
        ],
      }),
    );
    if (change.kind !== 'echoes') throw new Error(`expected echoes, got ${change.kind}`);
    const [first, second] = change.value.message_echoes;
    if (!first || !second) throw new Error('echo lost');
    expect(echoRecipient(first)).toEqual({ waId: '16505551234', bsuid: undefined, parentBsuid: undefined });
    expect(echoRecipient(second)).toMatchObject({ bsuid: 'US.1' });
    expect(changedMessageId(second)).toBe('wamid.E1');
  });

  it('an echo that does not parse is set aside without losing its neighbours', () => {
    const change = classifyChange({
      field: 'smb_message_echoes',
      value: {
        metadata: METADATA,
        message_echoes: [
          { to: '1', type: 'text' },
          { to: '1', id: 'wamid.OK', timestamp: '1', type: 'text', text: { body: 'ok' } },
        ],
      },
    });
    if (change.kind !== 'echoes') throw new Error(`expected echoes, got ${change.kind}`);
    expect(change.value.message_echoes.map((m) => m.id)).toEqual(['wamid.OK']);
    expect(change.rejected).toMatchObject([{ key: 'message_echoes', item: { to: '1', type: 'text' } }]);
  });
});

describe('user_preferences', () => {
  it('the documented payload (integer timestamp, contact without profile) parses as user_preferences', () => {
    const raw = {
      messaging_product: 'whatsapp',
      metadata: METADATA,
      contacts: [{ wa_id: '16505551234' }],
      user_preferences: [
        {
          wa_id: '16505551234',
          detail: 'User requested to resume marketing messages',
          category: 'marketing_messages',
          value: 'resume',
          timestamp: 1731705721,
        },
      ],
    };
    const change = onlyChange(envelope('user_preferences', raw));
    if (change.kind !== 'user_preferences') throw new Error(`got ${change.kind}`);
    const preference = change.value.user_preferences[0];
    expect(preference?.value).toBe('resume');
    expect(preference?.timestamp).toBe('1731705721');
  });

  it('an unconfirmed preference literal or a BSUID-only user is accepted, not rejected', () => {
    const parsed = userPreferencesValueSchema.parse({
      user_preferences: [{ user_id: 'US.1', category: 'marketing_messages', value: 'pause', timestamp: '1' }],
    });
    expect(parsed.user_preferences[0]?.value).toBe('pause');
  });
});

describe('changes and the envelope', () => {
  it('a change of an unknown field (account_update) is kept as "other" with its raw value', () => {
    const value = {
      phone_number: '15550783881',
      event: 'VERIFIED_ACCOUNT',
      ban_info: { waba_ban_state: [] },
    };
    const change = onlyChange(envelope('account_update', value));
    expect(change).toMatchObject({ kind: 'other', field: 'account_update' });
    expect(change.value).toBe(value);
    if (change.kind === 'other') expect(change.parseIssues).toBeUndefined();
  });

  it('a messages value that does not match is kept as "other" with the reasons', () => {
    const value = { messaging_product: 'whatsapp', messages: [{ id: 'wamid.X' }] };
    const change = onlyChange(envelope('messages', value));
    if (change.kind !== 'other') throw new Error('should not parse');
    expect(change.value).toBe(value);
    expect(change.parseIssues?.some((issue) => issue.startsWith('metadata'))).toBe(true);
    expect(change.parseIssues?.some((issue) => issue.startsWith('messages[0]'))).toBe(true);
  });

  it('only a top level without an entry array fails; malformed entries and changes are kept', () => {
    for (const bad of [null, 'x', [], {}, { entry: {} }, { object: 'page' }]) {
      const result = parseWebhookPayload(bad);
      expect(result.ok, JSON.stringify(bad)).toBe(false);
      if (!result.ok) expect(result.issues.length).toBeGreaterThan(0);
    }
    const result = parseWebhookPayload({
      object: 42,
      entry: [42, { id: 7, changes: [null, { field: 'messages' }] }],
    });
    if (!result.ok) throw new Error(result.issues.join('; '));
    expect(result.changes.map((c) => c.kind)).toEqual(['other', 'other', 'other']);
    expect(result.changes[0]?.value).toBe(42);
    expect(result.changes[1]?.entryId).toBe('7');
    expect(result.changes.every((c) => c.kind === 'other' && (c.parseIssues?.length ?? 0) > 0)).toBe(true);
  });

  it('classifyChange and the payload agree, and changes keep entry order with their WABA id', () => {
    const json = {
      object: 'whatsapp_business_account',
      entry: [
        { id: 'A', changes: [{ field: 'account_update', value: {} }] },
        {
          id: 'B',
          changes: [
            {
              field: 'messages',
              value: { metadata: METADATA, messages: [message({ type: 'text', text: { body: 'x' } })] },
            },
          ],
        },
      ],
    };
    const result = parseWebhookPayload(json);
    if (!result.ok) throw new Error('rejected');
    expect(result.changes.map((c) => [c.entryId, c.kind])).toEqual([
      ['A', 'other'],
      ['B', 'messages'],
    ]);
    expect(result.payload.entry[1]?.changes[0]).toEqual(classifyChange(json.entry[1]?.changes[0]));
  });

  it('messagesValueSchema is usable on its own for a stored value', () => {
    expect(messagesValueSchema.safeParse({ metadata: METADATA, statuses: [] }).success).toBe(true);
  });

  it('webhookTimestampToDate reads unix seconds and rejects non-numbers', () => {
    expect(webhookTimestampToDate('1750000000')?.toISOString()).toBe('2025-06-15T15:06:40.000Z');
    expect(webhookTimestampToDate('soon')).toBeUndefined();
    expect(webhookTimestampToDate('')).toBeUndefined();
  });
});
