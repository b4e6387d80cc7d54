import { describe, expect, it } from 'vitest';
import { deriveRevision, type Message } from '../domain/types.ts';
import { describeMessage, MEDIA_UNAVAILABLE_NOTE, revokedNote, senderVia } from './index.ts';

const message = (partial: Partial<Message> & { content: Record<string, unknown> }): Message => ({
  id: 'msg_1',
  workspaceId: 'ws',
  conversationId: 'cv',
  direction: 'inbound',
  wamid: 'wamid.1',
  type: String(partial.content.type ?? 'text'),
  timestamp: 1_750_000_000_000,
  text: null,
  state: null,
  error: null,
  sender: null,
  relatesTo: null,
  createdAt: 0,
  ...partial,
});

const partial = { masking: 'partial' as const };

describe('one description of a message for every mirror', () => {
  it('shows a shared contact card with its numbers masked by the workspace policy', () => {
    const view = describeMessage(
      message({
        content: {
          type: 'contacts',
          contacts: [
            {
              name: { formatted_name: 'Lucía Gómez' },
              org: { company: 'Google', title: 'Engineer' },
              phones: [{ phone: '+1 (983) 555-2319', wa_id: '19835552319', type: 'MOBILE' }],
              emails: [{ email: 'lucia@example.com' }],
            },
          ],
        },
      }),
      partial,
    );
    expect(view.title).toBe('Shared a contact card');
    expect(view.lines).toEqual([
      'Lucía Gómez · +19•••••2319 (mobile) · lucia@example.com · Engineer, Google',
    ]);
    expect(JSON.stringify(view)).not.toContain('555-2319');
    const open = describeMessage(
      message({ content: { type: 'contacts', contacts: [{ phones: [{ phone: '+1 983 555 2319' }] }] } }),
      { masking: 'none' },
    );
    expect(open.lines).toEqual(['Unnamed contact · +19835552319']);
  });

  it('shows an order with its items and its total', () => {
    const view = describeMessage(
      message({
        content: {
          type: 'order',
          order: {
            catalog_id: '194836987003835',
            text: 'Before Friday please',
            product_items: [
              { product_retailer_id: 'di9ozbzfi4', quantity: 2, item_price: 30, currency: 'USD' },
              { product_retailer_id: 'nqryix03ez', quantity: '1', item_price: '25.5', currency: 'USD' },
            ],
          },
        },
      }),
      partial,
    );
    expect(view.title).toBe('Placed an order (2 items)');
    expect(view.text).toBe('Before Friday please');
    expect(view.lines).toEqual(['2 × di9ozbzfi4 at 30 USD = 60 USD', '1 × nqryix03ez at 25.50 USD']);
    expect(view.fields).toEqual([
      { label: 'Total', value: '85.50 USD' },
      { label: 'Catalog', value: '194836987003835' },
    ]);
  });

  it('shows a location with its name, address, map and the place’s own link', () => {
    const view = describeMessage(
      message({
        content: {
          type: 'location',
          location: {
            latitude: 37.483307,
            longitude: -122.148981,
            name: 'Meta Headquarters',
            address: '1 Hacker Way, Menlo Park, CA 94025',
            url: 'https://meta.com',
          },
        },
      }),
      partial,
    );
    expect(view.title).toBe('Location: Meta Headquarters');
    expect(view.fields).toContainEqual({ label: 'Address', value: '1 Hacker Way, Menlo Park, CA 94025' });
    expect(view.links).toEqual([
      { label: 'Open in Maps', url: 'https://www.google.com/maps/search/?api=1&query=37.483307,-122.148981' },
      { label: 'Website', url: 'https://meta.com' },
    ]);
  });

  it('names the ad a lead came from, keeps its click id, and marks forwarded messages', () => {
    const view = describeMessage(
      message({
        content: {
          type: 'text',
          text: { body: 'Hello! Can I get more info on this?' },
          context: { frequently_forwarded: true },
          referral: {
            source_url: 'https://fb.me/3cr4Wqqkv',
            source_id: '120226305854810726',
            source_type: 'ad',
            headline: 'Chat with us',
            body: 'Summer Succulents are here!',
            ctwa_clid: 'Aff-n8ZT',
          },
        },
      }),
      partial,
    );
    expect(view.text).toBe('Hello! Can I get more info on this?');
    expect(view.flags).toEqual(['Forwarded many times', 'Came from a click-to-WhatsApp ad']);
    expect(view.fields).toEqual([
      { label: 'Ad headline', value: 'Chat with us' },
      { label: 'Ad text', value: 'Summer Succulents are here!' },
      { label: 'Source type', value: 'ad' },
      { label: 'Source id', value: '120226305854810726' },
      { label: 'Ad click id (ctwa_clid)', value: 'Aff-n8ZT' },
      { label: 'Source URL', value: 'https://fb.me/3cr4Wqqkv' },
    ]);
    expect(view.links).toEqual([{ label: 'Open the ad', url: 'https://fb.me/3cr4Wqqkv' }]);
  });

  it('reads every interactive reply: buttons, lists, flows, addresses, call permissions', () => {
    const of = (interactive: Record<string, unknown>) =>
      describeMessage(message({ content: { type: 'interactive', interactive } }), partial);
    expect(
      of({ type: 'button_reply', button_reply: { id: 'change-button', title: 'Change' } }),
    ).toMatchObject({
      title: 'Chose “Change”',
      fields: [{ label: 'Option id', value: 'change-button' }],
    });
    expect(
      of({
        type: 'list_reply',
        list_reply: { id: 'p1', title: 'Priority Mail Express', description: 'Next Day' },
      }),
    ).toMatchObject({ title: 'Chose “Priority Mail Express”', text: 'Next Day' });
    expect(
      of({
        type: 'nfm_reply',
        nfm_reply: {
          name: 'flow',
          body: 'Sent',
          response_json: '{"flow_token":"secret","rating":"5","size":["M"]}',
        },
      }),
    ).toMatchObject({ title: 'Submitted a form', lines: ['rating: 5', 'size: ["M"]'] });
    expect(
      of({
        type: 'nfm_reply',
        nfm_reply: { name: 'address_message', response_json: '{"values":{"city":"Lisbon"}}' },
      }),
    ).toMatchObject({ title: 'Sent an address', lines: ['city: Lisbon'] });
    expect(
      of({
        type: 'call_permission_reply',
        call_permission_reply: { response: 'accept', is_permanent: false, expiration_timestamp: 1750000000 },
      }),
    ).toMatchObject({
      title: 'Allowed calls from this business',
      fields: [
        { label: 'Permanent', value: 'no' },
        { label: 'Valid until', value: '2025-06-15 15:06 UTC' },
      ],
    });
  });

  it('says plainly what WhatsApp withheld and where to see it', () => {
    const view = describeMessage(
      message({
        content: {
          type: 'unsupported',
          unsupported: { type: 'poll' },
          errors: [
            { code: 131051, title: 'Message type unknown', error_data: { details: 'Not supported.' } },
          ],
        },
      }),
      partial,
    );
    expect(view.title).toBe('WhatsApp did not pass this message on (a poll message)');
    expect(view.text).toContain('WhatsApp said: Message type unknown: Not supported. (error 131051)');
    expect(view.lines.join(' ')).toContain('WhatsApp Business app');
  });

  it('shows a number change with both numbers masked, never the raw notice', () => {
    const view = describeMessage(
      message({
        content: {
          type: 'system',
          from: '16505551234',
          system: {
            body: 'User Sheena Nelson changed from 16505551234 to 12195555358',
            wa_id: '12195555358',
            type: 'user_changed_number',
          },
        },
      }),
      partial,
    );
    expect(view.title).toBe('Changed their phone number');
    expect(view.fields).toEqual([
      { label: 'Old number', value: '+16•••••1234' },
      { label: 'New number', value: '+12•••••5358' },
    ]);
    expect(JSON.stringify(view)).not.toContain('16505551234');
  });

  it('shows the newest edit, says it was edited, and a deletion removes the content', () => {
    const original = message({ text: 'Olá', content: { type: 'text', text: { body: 'Olá' } } });
    const edit = (text: string, timestamp: number): Message =>
      message({
        type: 'edit',
        text,
        timestamp,
        content: {
          type: 'edit',
          edit: { original_message_id: 'wamid.1', message: { text: { body: text } } },
        },
      });
    original.revision = deriveRevision([edit('Olá, corrected', 2000), edit('Olá again', 1000)]);
    expect(describeMessage(original, partial)).toMatchObject({
      text: 'Olá, corrected',
      edited: { at: 2000, count: 2 },
      revoked: null,
    });
    original.revision = deriveRevision([
      edit('Olá, corrected', 2000),
      message({ type: 'revoke', timestamp: 3000, content: { type: 'revoke', revoke: {} } }),
    ]);
    const revoked = describeMessage(original, partial);
    expect(revoked.revoked).toEqual({ at: 3000, note: 'This message was deleted by the customer.' });
    expect(JSON.stringify(revoked)).not.toContain('Olá');
    expect(revokedNote('outbound')).toContain('WhatsApp Business app');
  });

  it('has a readable title for every documented type, and no placeholder', () => {
    const contents: Record<string, unknown>[] = [
      { type: 'image', image: { id: '1', caption: 'the part' } },
      { type: 'audio', audio: { id: '1', voice: true } },
      { type: 'sticker', sticker: { id: '1', animated: true } },
      { type: 'document', document: { id: '1', filename: 'a.pdf' } },
      { type: 'video', video: { id: '1' } },
      { type: 'button', button: { text: 'Stop promotions', payload: 'STOP' } },
      { type: 'reaction', reaction: { message_id: 'w', emoji: '❤️' } },
      { type: 'reaction', reaction: { message_id: 'w' } },
      { type: 'request_welcome' },
      { type: 'unknown', errors: [{ code: '131051', title: 'Unsupported message type' }] },
      { type: 'system', system: { type: 'customer_identity_changed', body: 'code changed' } },
      { type: 'system', system: { type: 'user_changed_user_id', user_id: 'US.2' } },
      { type: 'edit', edit: { original_message_id: 'w', message: { text: { body: 'x' } } } },
      { type: 'revoke', revoke: { original_message_id: 'w' } },
    ];
    for (const content of contents) {
      const view = describeMessage(message({ content }), partial);
      expect(view.title, JSON.stringify(content)).toMatch(/\w/);
      expect(JSON.stringify(view)).not.toMatch(/cannot show|undefined|\[object Object\]/);
    }
    expect(
      describeMessage(message({ content: { type: 'audio', audio: { voice: true } } }), partial).media,
    ).toEqual({
      kind: 'audio',
      label: 'Voice message',
      filename: null,
      mimeType: null,
    });
  });

  it('names where an outbound message was written', () => {
    expect(senderVia({ via: 'whatsapp_business_app', agentId: null, agentName: null })).toBe(
      'the WhatsApp Business app',
    );
    expect(senderVia({ via: 'slack', viaName: 'Slack', agentId: 'U1', agentName: 'Grace' })).toBe('Slack');
    // Written before connectors' names came with the message: the connector id.
    expect(senderVia({ via: 'slack', agentId: 'U1', agentName: 'Grace' })).toBe('slack');
    expect(MEDIA_UNAVAILABLE_NOTE).toContain('no longer available from WhatsApp');
  });
});
