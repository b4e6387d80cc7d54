/**
 * One description of a WhatsApp message for every mirror. Slack, Teams and HubSpot each format a
 * {@link MessageView} into their own markup (mrkdwn, HTML), so what a message says cannot drift
 * between them, and the workspace's number masking is applied here, once, for every target.
 *
 * Everything in a view is plain, unescaped text: each connector escapes it for its markup.
 * Types and fields follow Meta's webhook reference
 * (https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/messages).
 */
import { type Message, maskNumber, type NumberMasking, type Sender } from '../domain/types.ts';

export interface MessageView {
  /** A pictogram for the kind of message (unicode emoji; targets may map it to their own). */
  icon: string;
  /** One line saying what happened ("Chose “Yes”", "Placed an order (2 items)"); null for plain text. */
  title: string | null;
  /** What the author wrote: the text, a caption, an order note. */
  text: string | null;
  /** Further lines: order items, form answers, contact cards. */
  lines: string[];
  /** Facts as label and value ("Total": "85.50 USD"). */
  fields: ViewField[];
  links: ViewLink[];
  /** Short remarks shown beside the message: forwarded, the ad it came from, edited. */
  flags: string[];
  /** The message quoted or reacted to, as a short excerpt. */
  quote: string | null;
  /** The file the message carries, for the connector to re-host or link. */
  media: ViewMedia | null;
  /** The author deleted the message: everything above is empty but this note. */
  revoked: { at: number; note: string } | null;
  /** The author edited the message: the text above is the newest version. */
  edited: { at: number; count: number } | null;
}

export interface ViewField {
  label: string;
  value: string;
}

export interface ViewLink {
  label: string;
  url: string;
}

export interface ViewMedia {
  kind: 'image' | 'video' | 'audio' | 'document' | 'sticker';
  /** "Photo", "Voice message", "Document", … */
  label: string;
  filename: string | null;
  mimeType: string | null;
}

export interface DescribeOptions {
  /** The workspace's policy for phone numbers shown in mirrors (shared contacts, number changes). */
  masking: NumberMasking;
  /** The message this one replies or reacts to, when it is stored. */
  related?: Message | null;
}

/** What every target says when a file cannot be fetched from WhatsApp any more. */
export const MEDIA_UNAVAILABLE_NOTE =
  'This file is no longer available from WhatsApp (media is kept there for a limited time). Ask the customer to send it again if you need it.';

/** What every target shows in place of a message its author deleted for everyone. */
export function revokedNote(direction: Message['direction']): string {
  return direction === 'inbound'
    ? 'This message was deleted by the customer.'
    : 'This message was deleted by the business (in the WhatsApp Business app).';
}

// The bridge's own senders; a connector's name comes with the message (`Sender.viaName`).
const SENDER_NAMES: Record<string, string> = {
  api: 'the API',
  admin: 'an administrator',
  whatsapp_business_app: 'the WhatsApp Business app',
};

/** Where an outbound message was written, in words: "Slack", "the WhatsApp Business app". */
export function senderVia(sender: Sender | null): string | null {
  if (!sender?.via) return null;
  return sender.viaName ?? SENDER_NAMES[sender.via] ?? sender.via;
}

/** True for a message the business sent from the WhatsApp Business app (an echo). */
export function isBusinessAppMessage(message: Message): boolean {
  return message.sender?.via === 'whatsapp_business_app';
}

const MEDIA_KINDS = new Set<ViewMedia['kind']>(['image', 'video', 'audio', 'document', 'sticker']);

type Content = Record<string, unknown>;
const obj = (value: unknown): Content =>
  typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Content) : {};
const list = (value: unknown): Content[] => (Array.isArray(value) ? value.map(obj) : []);
const str = (value: unknown): string | undefined => {
  if (typeof value === 'string') return value.trim() === '' ? undefined : value;
  return typeof value === 'number' && Number.isFinite(value) ? String(value) : undefined;
};
const num = (value: unknown): number | undefined => {
  const n = typeof value === 'number' ? value : typeof value === 'string' ? Number(value) : Number.NaN;
  return Number.isFinite(n) ? n : undefined;
};

function excerpt(text: string, max = 140): string {
  const chars = Array.from(text.replace(/\s+/g, ' ').trim());
  return chars.length > max ? `${chars.slice(0, max - 1).join('')}…` : chars.join('');
}

/** Phone numbers inside free text (a system notice names both numbers) shown per the policy. */
function maskNumbersIn(text: string, masking: NumberMasking): string {
  if (masking === 'none') return text;
  return text.replace(/\+?\d[\d ()-]{6,}\d/g, (found) => maskNumber(found, masking) ?? found);
}

function blank(): MessageView {
  return {
    icon: '💬',
    title: null,
    text: null,
    lines: [],
    fields: [],
    links: [],
    flags: [],
    quote: null,
    media: null,
    revoked: null,
    edited: null,
  };
}

/**
 * Describes one message (inbound, or outbound: an agent's reply, a template, an echo of the
 * WhatsApp Business app) as it stands now, its edits and deletion included.
 *
 * @example const view = describeMessage(event.message, { masking: policies.numberMasking, related: event.related })
 */
export function describeMessage(message: Message, options: DescribeOptions): MessageView {
  const view = blank();
  const revision = message.revision ?? null;
  if (revision?.revokedAt !== null && revision?.revokedAt !== undefined) {
    view.icon = '🗑️';
    view.revoked = { at: revision.revokedAt, note: revokedNote(message.direction) };
    return view;
  }
  const content = message.content;
  const related = options.related ?? null;
  if (related && message.type !== 'reaction') {
    view.quote = related.revision?.revokedAt
      ? '(a deleted message)'
      : excerpt(related.text ?? `(${related.type})`);
  } else if (str(obj(content.context).id) && message.type !== 'reaction') {
    view.quote = '(an earlier message)';
  }
  describeType(view, message, options);
  if (revision && revision.edits > 0 && revision.editedAt !== null) {
    view.edited = { at: revision.editedAt, count: revision.edits };
    view.text = revision.text;
  }
  addContext(view, content);
  // Files an agent attached to a reply (sent to WhatsApp as media).
  for (const attachment of list(content.attachments))
    view.lines.push(`📎 ${str(attachment.filename) ?? 'file'}`);
  return view;
}

function describeType(view: MessageView, message: Message, options: DescribeOptions): void {
  const content = message.content;
  const type = message.type;
  const inner = obj(content[type]);
  if (MEDIA_KINDS.has(type as ViewMedia['kind'])) {
    describeMedia(view, type as ViewMedia['kind'], inner, message.text);
    return;
  }
  switch (type) {
    case 'text':
      view.text = str(inner.body) ?? message.text;
      return;
    case 'location':
      describeLocation(view, inner);
      return;
    case 'contacts':
      describeContacts(view, list(content.contacts), options.masking);
      return;
    case 'interactive':
      describeInteractive(view, inner, message);
      return;
    case 'button':
      view.icon = '🔘';
      view.title = `Tapped “${str(inner.text) ?? str(inner.payload) ?? 'a button'}”`;
      if (str(inner.payload)) view.fields.push({ label: 'Button payload', value: String(inner.payload) });
      return;
    case 'reaction': {
      const emoji = str(inner.emoji);
      view.icon = emoji ?? '↩️';
      view.title = emoji ? `Reacted ${emoji}` : 'Removed a reaction';
      const related = options.related;
      if (related) view.quote = excerpt(related.text ?? `(${related.type})`, 80);
      return;
    }
    case 'order':
      describeOrder(view, inner);
      return;
    case 'system':
      describeSystem(view, inner, message, options.masking);
      return;
    case 'request_welcome':
      view.icon = '👋';
      view.title = 'Opened the chat for the first time';
      view.lines.push(
        'WhatsApp sends this when someone opens a chat with this number for the first time, before they write anything: a good moment for a welcome message.',
      );
      return;
    case 'unsupported':
    case 'unknown':
      describeWithheld(view, message);
      return;
    case 'edit': {
      const edit = obj(content.edit);
      view.icon = '✏️';
      view.title = 'Edited an earlier message';
      view.text = message.text;
      if (str(edit.original_message_id))
        view.fields.push({ label: 'Edited message', value: String(edit.original_message_id) });
      return;
    }
    case 'revoke': {
      const revoke = obj(content.revoke);
      view.icon = '🗑️';
      view.title = 'Deleted an earlier message for everyone';
      if (str(revoke.original_message_id))
        view.fields.push({ label: 'Deleted message', value: String(revoke.original_message_id) });
      return;
    }
    case 'template':
      describeTemplate(view, message);
      return;
    default:
      describeOther(view, message);
      return;
  }
}

function describeMedia(
  view: MessageView,
  kind: ViewMedia['kind'],
  inner: Content,
  text: string | null,
): void {
  const labels: Record<ViewMedia['kind'], [string, string]> = {
    image: ['🖼️', 'Photo'],
    video: ['🎥', 'Video'],
    audio: inner.voice === true ? ['🎤', 'Voice message'] : ['🎵', 'Audio'],
    document: ['📄', 'Document'],
    sticker: inner.animated === true ? ['✨', 'Animated sticker'] : ['🏷️', 'Sticker'],
  };
  const [icon, label] = labels[kind];
  const filename = str(inner.filename);
  view.icon = icon;
  view.title = filename ? `${label} “${filename}”` : label;
  view.text = str(inner.caption) ?? text ?? null;
  view.media = {
    kind,
    label,
    filename: str(inner.filename) ?? null,
    mimeType: str(inner.mime_type) ?? null,
  };
}

function describeLocation(view: MessageView, inner: Content): void {
  const lat = num(inner.latitude);
  const lng = num(inner.longitude);
  const name = str(inner.name);
  const address = str(inner.address);
  view.icon = '📍';
  view.title = name ? `Location: ${name}` : 'Location';
  if (address) view.fields.push({ label: 'Address', value: address });
  if (lat !== undefined && lng !== undefined) {
    view.fields.push({ label: 'Coordinates', value: `${lat}, ${lng}` });
    view.links.push({
      label: 'Open in Maps',
      url: `https://www.google.com/maps/search/?api=1&query=${lat},${lng}`,
    });
  }
  const url = str(inner.url);
  if (url && /^https?:\/\//i.test(url)) view.links.push({ label: 'Website', url });
  else if (url) view.fields.push({ label: 'Website', value: url });
}

function describeContacts(view: MessageView, cards: Content[], masking: NumberMasking): void {
  view.icon = '👤';
  view.title = cards.length === 1 ? 'Shared a contact card' : `Shared ${cards.length} contact cards`;
  for (const card of cards) {
    const name = obj(card.name);
    const org = obj(card.org);
    const phones = list(card.phones)
      .map((p) => {
        const number = maskNumber(str(p.phone) ?? str(p.wa_id) ?? null, masking);
        return number && str(p.type) ? `${number} (${String(p.type).toLowerCase()})` : number;
      })
      .filter((p): p is string => p !== null);
    const emails = list(card.emails)
      .map((e) => str(e.email))
      .filter((e): e is string => e !== undefined);
    const urls = list(card.urls)
      .map((u) => str(u.url))
      .filter((u): u is string => u !== undefined);
    const work = [str(org.title), str(org.department), str(org.company)].filter(Boolean).join(', ');
    const places = list(card.addresses)
      .map((a) => [str(a.street), str(a.city), str(a.country)].filter(Boolean).join(', '))
      .filter((a) => a !== '');
    const parts = [
      str(name.formatted_name) ??
        ([str(name.first_name), str(name.last_name)].filter(Boolean).join(' ') || 'Unnamed contact'),
      ...phones,
      ...emails,
      ...(work ? [work] : []),
      ...urls,
      ...places,
      ...(str(card.birthday) ? [`born ${String(card.birthday)}`] : []),
    ];
    view.lines.push(parts.join(' · '));
  }
}

function describeInteractive(view: MessageView, inner: Content, message: Message): void {
  view.icon = '🔘';
  const kind = str(inner.type) ?? 'unknown';
  const chosen = obj(inner.button_reply ?? inner.list_reply);
  if (str(chosen.title) || str(chosen.id)) {
    view.title = `Chose “${str(chosen.title) ?? str(chosen.id)}”`;
    if (str(chosen.description)) view.text = String(chosen.description);
    if (str(chosen.id)) view.fields.push({ label: 'Option id', value: String(chosen.id) });
    return;
  }
  if (inner.nfm_reply !== undefined) {
    const flow = obj(inner.nfm_reply);
    view.icon = '📋';
    const name = str(flow.name);
    view.title =
      name === 'address_message'
        ? 'Sent an address'
        : `Submitted a form${name && name !== 'flow' ? ` (${name})` : ''}`;
    view.lines.push(...formAnswers(str(flow.response_json)));
    return;
  }
  if (inner.call_permission_reply !== undefined) {
    const reply = obj(inner.call_permission_reply);
    const response = str(reply.response)?.toLowerCase();
    view.icon = '📞';
    view.title =
      response === 'accept'
        ? 'Allowed calls from this business'
        : response === 'reject'
          ? 'Declined calls from this business'
          : `Answered a call permission request (${response ?? 'no answer given'})`;
    if (reply.is_permanent !== undefined)
      view.fields.push({
        label: 'Permanent',
        value: reply.is_permanent === true || reply.is_permanent === 'true' ? 'yes' : 'no',
      });
    const expires = num(reply.expiration_timestamp);
    if (expires !== undefined) view.fields.push({ label: 'Valid until', value: utc(expires * 1000) });
    if (str(reply.response_source))
      view.fields.push({ label: 'Answered from', value: String(reply.response_source) });
    return;
  }
  // A business's own interactive message (an echo), or a reply of a type Meta added later.
  const body = str(obj(inner.body).text);
  if (message.direction === 'outbound' && body) {
    view.title = `Sent an interactive message (${kind})`;
    view.text = body;
    return;
  }
  view.title = `Answered an interactive message (${kind})`;
  view.text = message.text;
  const details = inner[kind];
  if (details !== undefined && !view.text) view.lines.push(excerpt(JSON.stringify(details), 500));
}

/** A Flows (or address) reply's answers as `field: value` lines; the flow token is ours, not theirs. */
function formAnswers(json: string | undefined): string[] {
  if (!json) return [];
  try {
    const parsed: unknown = JSON.parse(json);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return [excerpt(json, 500)];
    const lines: string[] = [];
    // Answers nest (an address message keeps them under `values`): one line per answer.
    const visit = (entries: [string, unknown][], prefix: string, depth: number) => {
      for (const [key, value] of entries) {
        if (key === 'flow_token') continue;
        const name = key === 'values' && prefix === '' ? '' : `${prefix}${key}`;
        if (value && typeof value === 'object' && !Array.isArray(value) && depth < 3) {
          visit(Object.entries(value), name ? `${name} › ` : '', depth + 1);
        } else {
          lines.push(`${name || key}: ${typeof value === 'string' ? value : JSON.stringify(value)}`);
        }
      }
    };
    visit(Object.entries(parsed), '', 0);
    return lines;
  } catch {
    return [excerpt(json, 500)];
  }
}

function describeOrder(view: MessageView, inner: Content): void {
  const items = list(inner.product_items);
  view.icon = '🛒';
  view.title = `Placed an order (${items.length} item${items.length === 1 ? '' : 's'})`;
  view.text = str(inner.text) ?? null;
  const totals = new Map<string, number>();
  let complete = true;
  for (const item of items) {
    const quantity = num(item.quantity) ?? 1;
    const price = num(item.item_price);
    const currency = str(item.currency) ?? '';
    const product = str(item.product_retailer_id) ?? 'unknown product';
    if (price === undefined) {
      complete = false;
      view.lines.push(`${quantity} × ${product}`);
      continue;
    }
    const sum = quantity * price;
    totals.set(currency, (totals.get(currency) ?? 0) + sum);
    view.lines.push(
      `${quantity} × ${product} at ${money(price, currency)}${quantity === 1 ? '' : ` = ${money(sum, currency)}`}`,
    );
  }
  if (totals.size > 0) {
    view.fields.push({
      label: complete ? 'Total' : 'Total of the priced items',
      value: [...totals].map(([currency, sum]) => money(sum, currency)).join(' + '),
    });
  }
  if (str(inner.catalog_id)) view.fields.push({ label: 'Catalog', value: String(inner.catalog_id) });
}

function money(amount: number, currency: string): string {
  const fixed = Number.isInteger(amount) ? String(amount) : amount.toFixed(2);
  return currency ? `${fixed} ${currency}` : fixed;
}

function describeSystem(view: MessageView, inner: Content, message: Message, masking: NumberMasking): void {
  const kind = str(inner.type);
  view.icon = 'ℹ️';
  const from = str(obj(message.content).from) ?? str(inner.customer);
  switch (kind) {
    case 'user_changed_number':
    case 'customer_changed_number': {
      const next = str(inner.new_wa_id) ?? str(inner.wa_id);
      view.title = 'Changed their phone number';
      if (from) view.fields.push({ label: 'Old number', value: maskNumber(from, masking) ?? from });
      if (next) view.fields.push({ label: 'New number', value: maskNumber(next, masking) ?? next });
      view.lines.push('This conversation continues with the new number; replies go there.');
      return;
    }
    case 'user_changed_user_id':
      view.title = 'Changed their WhatsApp user id';
      view.lines.push('This conversation continues under the new id; replies go there.');
      return;
    case 'customer_identity_changed':
      view.title = 'Their WhatsApp security code changed';
      view.lines.push(
        'They may have reinstalled WhatsApp or moved to a new phone. If you expected no change, confirm who you are talking to before sharing anything sensitive.',
      );
      return;
    default: {
      view.title = 'WhatsApp system message';
      const body = str(inner.body) ?? message.text;
      view.text = body ? maskNumbersIn(body, masking) : null;
    }
  }
}

/** `unsupported` and the older `unknown`: say what WhatsApp held back, and where it can be seen. */
function describeWithheld(view: MessageView, message: Message): void {
  const content = message.content;
  const error = list(content.errors)[0] ?? {};
  const kind = str(obj(content.unsupported).type);
  const why = [str(error.title), str(obj(error.error_data).details) ?? str(error.details)]
    .filter(Boolean)
    .join(': ');
  const code = str(error.code);
  view.icon = '⚠️';
  if (kind === 'edit' || kind === 'revoke') {
    view.title =
      kind === 'edit'
        ? 'The customer edited an earlier message; WhatsApp did not pass the edit on'
        : 'The customer deleted an earlier message; WhatsApp did not pass the deletion on';
  } else {
    view.title = `WhatsApp did not pass this message on${kind ? ` (a ${kind} message)` : ''}`;
  }
  view.text = `WhatsApp withholds some messages from business apps${kind ? ` (here: ${kind})` : ''}, such as polls, view-once media and some newer message kinds.${why ? ` WhatsApp said: ${why}${code ? ` (error ${code})` : ''}.` : ''}`;
  view.lines.push(
    'To see it, open the chat on the customer’s phone or in the WhatsApp Business app if this number is also used there, or ask the customer to send it another way (as text, a photo or a document).',
  );
}

function describeTemplate(view: MessageView, message: Message): void {
  const template = obj(message.content.template);
  const name = str(template.name) ?? 'template';
  const language = str(obj(template.language).code) ?? str(template.language);
  view.icon = '📃';
  view.title = `Template ${name}${language ? ` (${language})` : ''}`;
  view.text = message.text;
}

/** Outbound text and attachments, a future inbound type, or anything else with text. */
function describeOther(view: MessageView, message: Message): void {
  if (message.direction === 'outbound') {
    view.text = message.text;
    return;
  }
  view.icon = '❔';
  view.title = `A ${message.type} message`;
  view.text = message.text;
  view.lines.push(
    'A kind of WhatsApp message wabridge does not know yet: everything WhatsApp sent is kept in the archive.',
  );
}

/** Forwarding, product enquiries and click-to-WhatsApp ads, for every type. */
function addContext(view: MessageView, content: Content): void {
  const context = obj(content.context);
  if (context.frequently_forwarded === true || context.frequently_forwarded === 'true')
    view.flags.push('Forwarded many times');
  else if (context.forwarded === true || context.forwarded === 'true') view.flags.push('Forwarded');
  const product = obj(context.referred_product);
  if (str(product.product_retailer_id)) {
    view.fields.push({ label: 'Asks about product', value: String(product.product_retailer_id) });
    if (str(product.catalog_id))
      view.fields.push({ label: 'Product catalog', value: String(product.catalog_id) });
  }
  const referral = obj(content.referral);
  if (Object.keys(referral).length === 0) return;
  const source = str(referral.source_type);
  view.flags.push(
    source === 'post' ? 'Came from a Facebook or Instagram post' : 'Came from a click-to-WhatsApp ad',
  );
  if (str(referral.headline)) view.fields.push({ label: 'Ad headline', value: String(referral.headline) });
  if (str(referral.body)) view.fields.push({ label: 'Ad text', value: String(referral.body) });
  if (source) view.fields.push({ label: 'Source type', value: source });
  if (str(referral.source_id)) view.fields.push({ label: 'Source id', value: String(referral.source_id) });
  if (str(referral.ctwa_clid))
    view.fields.push({ label: 'Ad click id (ctwa_clid)', value: String(referral.ctwa_clid) });
  const url = str(referral.source_url);
  // Shown as text as well as a link: sales want to see at a glance which ad brought the lead.
  if (url) view.fields.push({ label: 'Source URL', value: url });
  if (url && /^https?:\/\//i.test(url))
    view.links.push({ label: source === 'post' ? 'Open the post' : 'Open the ad', url });
  const media = str(referral.image_url) ?? str(referral.video_url);
  const what = source === 'post' ? 'Post' : 'Ad';
  if (media && /^https?:\/\//i.test(media))
    view.links.push({ label: `${what} ${str(referral.image_url) ? 'image' : 'video'}`, url: media });
}

/** `2026-11-23 14:05 UTC` for a time in epoch ms. */
export function utc(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}
