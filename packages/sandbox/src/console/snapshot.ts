/**
 * What the console shows, built from the emulators' own state (never from the bridge's): the
 * customer's WhatsApp chat, the Slack channel with its threads, the Teams channel with its threads
 * and the HubSpot contact with its timeline and consent. Every piece of text is turned into
 * segments (see `rich-text.ts`) so the page never handles markup.
 */
import type { GraphEmulator } from '../graph/index.ts';
import type { ChatMessageRecord } from '../graph/types.ts';
import type { HubSpotEmulator } from '../hubspot/index.ts';
import { escapeHtml } from '../shared/html.ts';
import type { SlackEmulator, SlackMessageView } from '../slack/index.ts';
import type { WhatsAppEmulator } from '../whatsapp/index.ts';
import { coreOf } from '../whatsapp/internal.ts';
import {
  emojiFor,
  fromCardMarkdown,
  fromHtml,
  fromSlackText,
  fromWhatsAppText,
  plain,
  type Segment,
  textOf,
} from './rich-text.ts';

// ---- Shapes the page renders ------------------------------------------------------------------

export type MessageStatus = 'accepted' | 'sent' | 'delivered' | 'read' | 'failed';

export interface WhatsAppMessageView {
  id: string;
  direction: 'in' | 'out';
  /** Epoch ms: the customer's timestamp, or when WhatsApp accepted a business message. */
  at: number;
  type: string;
  /** Short label for non-text types, e.g. "📷 Photo", "📍 Location". */
  label: string | null;
  segments: Segment[];
  /** Console URL of the media bytes when the emulator has them (images only are shown). */
  media: { url: string; mimeType: string; filename: string | null } | null;
  location: { latitude: number; longitude: number; name: string | null; address: string | null } | null;
  /** The message this one answers, as a quote. */
  quote: string | null;
  /** Template parts around the body. */
  header: string | null;
  footer: string | null;
  /** Quick-reply buttons of a template the customer can tap. */
  buttons: string[];
  /** Reactions on this message: from the customer (`in`) or the business (`out`). */
  reactions: { emoji: string; from: 'in' | 'out' }[];
  status: MessageStatus | null;
  error: string | null;
}

export interface WhatsAppPane {
  business: { name: string; displayPhoneNumber: string };
  customer: { waId: string; name: string };
  /** WhatsApp's 24-hour customer service window, on the emulator's clock. */
  windowOpen: boolean;
  lastInboundAt: number | null;
  messages: WhatsAppMessageView[];
}

export interface SlackBlockView {
  kind: 'header' | 'section' | 'context' | 'field';
  segments: Segment[];
}

export interface SlackPickerView {
  actionId: string;
  placeholder: string;
  options: { label: string; value: string; description: string | null }[];
}

export interface SlackMessageCard {
  ts: string;
  at: number;
  author: string;
  bot: boolean;
  segments: Segment[];
  blocks: SlackBlockView[];
  files: { id: string; name: string; mimetype: string; size: number; url: string | null }[];
  reactions: { name: string; emoji: string; count: number }[];
  picker: SlackPickerView | null;
  edited: boolean;
}

export interface SlackPane {
  channel: { id: string; name: string };
  agent: { id: string; name: string };
  threads: { root: SlackMessageCard; replies: SlackMessageCard[] }[];
}

export interface TeamsMessageCard {
  id: string;
  at: number;
  author: string;
  /** Written by a person in Teams (not by the bridge's service account). */
  human: boolean;
  subject: string | null;
  segments: Segment[];
  /** Adaptive Cards attached, as lines of text. */
  cards: Segment[][];
  reactions: { type: string; emoji: string; count: number }[];
  deleted: boolean;
  edited: boolean;
}

export interface TeamsPane {
  team: string;
  channel: string;
  agent: { id: string; name: string };
  threads: { root: TeamsMessageCard; replies: TeamsMessageCard[] }[];
}

export interface HubSpotPane {
  consentProperty: string;
  consentOptions: string[];
  contact: {
    id: string;
    name: string;
    properties: { name: string; value: string }[];
    consent: string | null;
    /** Every change of the consent property, oldest first: who made it and how. */
    consentHistory: { at: number; value: string; by: string }[];
  } | null;
  timeline: {
    id: string;
    at: number;
    direction: string | null;
    channel: string | null;
    state: string | null;
    segments: Segment[];
  }[];
}

export interface ConsoleActionView {
  id: string;
  label: string;
  title: string | null;
  running: boolean;
  error: string | null;
}

export interface ConsoleState {
  title: string;
  /** The emulators' clock (it jumps when a demo makes a day pass). */
  now: number;
  clockOffsetMs: number;
  links: Record<string, string>;
  actions: ConsoleActionView[];
  whatsapp: WhatsAppPane;
  slack: SlackPane | null;
  teams: TeamsPane | null;
  hubspot: HubSpotPane | null;
}

// ---- Inputs ----------------------------------------------------------------------------------

export interface SnapshotSources {
  whatsapp: WhatsAppEmulator;
  slack: SlackEmulator | undefined;
  graph: GraphEmulator | undefined;
  hubspot: HubSpotEmulator | undefined;
  customer: { waId: string; name: string; phoneNumberId: string };
  slackChannel: string;
  slackAgent: { id: string; name: string };
  teams: { teamId: string; channelId: string };
  teamsAgent: { id: string; name: string };
  consentProperty: string;
  consentOptions: string[];
  /** Slack and Teams user ids → names, for mentions and authors. */
  people: ReadonlyMap<string, string>;
}

// ---- WhatsApp ---------------------------------------------------------------------------------

// biome-ignore lint/suspicious/noExplicitAny: webhook and send payloads are Meta's JSON, read defensively.
type Json = any;

const MEDIA_LABELS: Record<string, string> = {
  image: '📷 Photo',
  video: '🎥 Video',
  audio: '🎤 Audio',
  document: '📄 Document',
  sticker: '💟 Sticker',
};

export function whatsappPane(sources: SnapshotSources): WhatsAppPane {
  const core = coreOf(sources.whatsapp);
  const phone = core.phone(sources.customer.phoneNumberId) ?? [...core.phoneNumbers.values()][0];
  const user = core.directory.find(sources.customer.waId);
  const pane: WhatsAppPane = {
    business: {
      name: phone?.verifiedName ?? 'Business',
      displayPhoneNumber: phone?.displayPhoneNumber ?? '',
    },
    customer: { waId: sources.customer.waId, name: user?.name ?? sources.customer.name },
    windowOpen: false,
    lastInboundAt: null,
    messages: [],
  };
  if (!user || !phone) return pane;
  const conversation = core.directory
    .conversations()
    .find((c) => c.userKey === user.key && c.phoneNumberId === phone.phoneNumberId);
  if (!conversation) return pane;
  pane.windowOpen = core.windowOpen(phone.phoneNumberId, user);
  pane.lastInboundAt = conversation.lastInboundAt ?? null;
  const byId = new Map<string, WhatsAppMessageView>();
  const reactions: { target: string; emoji: string; from: 'in' | 'out' }[] = [];
  const mediaView = (payload: Json): WhatsAppMessageView['media'] => {
    const id = typeof payload?.id === 'string' ? payload.id : null;
    const record = id ? core.media.get(id) : undefined;
    if (!record) return null;
    return {
      url: `/media/whatsapp/${encodeURIComponent(record.id)}`,
      mimeType: record.mimeType,
      filename: record.filename ?? (typeof payload?.filename === 'string' ? payload.filename : null),
    };
  };
  for (const entry of conversation.messages) {
    const base: WhatsAppMessageView = {
      id: entry.wamid,
      direction: entry.direction,
      at: 0,
      type: 'text',
      label: null,
      segments: [],
      media: null,
      location: null,
      quote: null,
      header: null,
      footer: null,
      buttons: [],
      reactions: [],
      status: null,
      error: null,
    };
    let view: WhatsAppMessageView | null = base;
    if (entry.direction === 'in') {
      const record = core.directory.inbound.get(entry.wamid);
      if (!record) continue;
      const message = record.message as Json;
      base.at = record.sentAt;
      base.type = record.type;
      base.quote = typeof message?.context?.id === 'string' ? message.context.id : null;
      switch (record.type) {
        case 'text':
          base.segments = fromWhatsAppText(String(message?.text?.body ?? ''));
          break;
        case 'image':
        case 'video':
        case 'audio':
        case 'document':
        case 'sticker': {
          const payload = message?.[record.type];
          base.label = MEDIA_LABELS[record.type] ?? record.type;
          base.media = mediaView(payload);
          base.segments = fromWhatsAppText(String(payload?.caption ?? ''));
          break;
        }
        case 'location': {
          const l = message?.location ?? {};
          base.label = '📍 Location';
          base.location = {
            latitude: Number(l.latitude),
            longitude: Number(l.longitude),
            name: typeof l.name === 'string' ? l.name : null,
            address: typeof l.address === 'string' ? l.address : null,
          };
          break;
        }
        case 'button':
          base.segments = plain(String(message?.button?.text ?? ''));
          break;
        case 'interactive': {
          const i = message?.interactive ?? {};
          base.segments = plain(String(i.button_reply?.title ?? i.list_reply?.title ?? ''));
          break;
        }
        case 'reaction':
          reactions.push({
            target: String(message?.reaction?.message_id ?? ''),
            emoji: String(message?.reaction?.emoji ?? ''),
            from: 'in',
          });
          view = null;
          break;
        case 'contacts':
          base.label = '👤 Contact';
          base.segments = plain(
            (Array.isArray(message?.contacts) ? message.contacts : [])
              .map((c: Json) => String(c?.name?.formatted_name ?? ''))
              .join(', '),
          );
          break;
        default:
          base.label = `[${record.type}]`;
      }
    } else {
      const record = core.directory.outbound.get(entry.wamid);
      if (!record) continue;
      const body = record.body as Json;
      base.at = record.acceptedAt;
      base.type = record.type;
      base.status = record.status;
      base.error = record.failure ? `Not delivered (${record.failure.code})` : null;
      base.quote = typeof body?.context?.message_id === 'string' ? body.context.message_id : null;
      switch (record.type) {
        case 'text':
          base.segments = fromWhatsAppText(String(body?.text?.body ?? ''));
          break;
        case 'template': {
          const rendered = record.template;
          const template = core.templates
            .list()
            .find((t) => t.name === rendered?.name && t.language === rendered?.language);
          base.segments = fromWhatsAppText(rendered?.rendered ?? '');
          base.header = template?.header ?? null;
          base.footer = template?.footer ?? null;
          base.buttons = template?.quickReplies ?? [];
          break;
        }
        case 'reaction':
          reactions.push({
            target: String(body?.reaction?.message_id ?? ''),
            emoji: String(body?.reaction?.emoji ?? ''),
            from: 'out',
          });
          view = null;
          break;
        case 'image':
        case 'video':
        case 'audio':
        case 'document':
        case 'sticker': {
          const payload = body?.[record.type];
          base.label = MEDIA_LABELS[record.type] ?? record.type;
          base.media = mediaView(payload);
          base.segments = fromWhatsAppText(String(payload?.caption ?? ''));
          break;
        }
        default:
          base.label = `[${record.type}]`;
      }
    }
    if (view) {
      byId.set(view.id, view);
      pane.messages.push(view);
    }
  }
  // A reaction is shown on the message it reacts to; a newer one from the same side replaces it.
  for (const { target, emoji, from } of reactions) {
    const message = byId.get(target);
    if (!message) continue;
    message.reactions = message.reactions.filter((r) => r.from !== from);
    if (emoji !== '') message.reactions.push({ emoji, from });
  }
  for (const message of pane.messages) {
    if (message.quote === null) continue;
    const quoted = byId.get(message.quote);
    message.quote = quoted ? textOf(quoted.segments) || quoted.label || '' : null;
  }
  return pane;
}

// ---- Slack ------------------------------------------------------------------------------------

const tsToMs = (ts: string) => Math.round(Number(ts) * 1000);

function slackBlocks(blocks: unknown[] | undefined, people: ReadonlyMap<string, string>) {
  const views: SlackBlockView[] = [];
  let picker: SlackPickerView | null = null;
  const text = (t: Json) =>
    t?.type === 'mrkdwn' ? fromSlackText(String(t.text ?? ''), people) : plain(String(t?.text ?? ''));
  for (const block of (blocks ?? []) as Json[]) {
    switch (block?.type) {
      case 'header':
        views.push({ kind: 'header', segments: text(block.text) });
        break;
      case 'section':
        if (block.text) views.push({ kind: 'section', segments: text(block.text) });
        for (const field of block.fields ?? []) views.push({ kind: 'field', segments: text(field) });
        break;
      case 'context':
        for (const element of block.elements ?? []) {
          if (element?.type === 'mrkdwn' || element?.type === 'plain_text')
            views.push({ kind: 'context', segments: text(element) });
        }
        break;
      case 'rich_text':
        // Agents' messages: the text is shown from `text`.
        break;
      default:
        break;
    }
    for (const element of [block?.accessory, ...(block?.elements ?? [])] as Json[]) {
      if (element?.type !== 'static_select' || picker) continue;
      picker = {
        actionId: String(element.action_id ?? ''),
        placeholder: String(element.placeholder?.text ?? 'Choose'),
        options: ((element.options ?? []) as Json[]).map((o) => ({
          label: String(o?.text?.text ?? o?.value ?? ''),
          value: String(o?.value ?? ''),
          description: typeof o?.description?.text === 'string' ? o.description.text : null,
        })),
      };
    }
  }
  return { views, picker };
}

function slackCard(
  message: SlackMessageView,
  people: ReadonlyMap<string, string>,
  botName: string,
): SlackMessageCard {
  const { views, picker } = message.bot ? slackBlocks(message.blocks, people) : { views: [], picker: null };
  return {
    ts: message.ts,
    at: tsToMs(message.ts),
    author: message.bot ? (message.username ?? botName) : (people.get(message.user) ?? message.user),
    bot: message.bot,
    // A bot message with blocks is shown by its blocks; `text` is its notification fallback.
    segments: views.length > 0 ? [] : fromSlackText(message.text, people),
    blocks: views,
    files: message.files.map((f) => ({
      id: f.id,
      name: f.name,
      mimetype: f.mimetype,
      size: f.size,
      url: f.mimetype.startsWith('image/') ? `/media/slack/${encodeURIComponent(f.id)}` : null,
    })),
    reactions: message.reactions.map((r) => ({
      name: r.name,
      emoji: emojiFor(r.name),
      count: r.users.length,
    })),
    picker,
    edited: message.edited,
  };
}

export function slackPane(sources: SnapshotSources): SlackPane | null {
  const slack = sources.slack;
  if (!slack) return null;
  const channel = slack.channels.find((c) => c.id === sources.slackChannel) ?? slack.channels[0];
  if (!channel) return null;
  const people = new Map(sources.people);
  people.set(slack.botUserId, 'WhatsApp');
  return {
    channel: { id: channel.id, name: channel.name },
    agent: sources.slackAgent,
    threads: slack.history(channel.id).map((root) => {
      const [parent = root, ...replies] = slack.thread(channel.id, root.ts);
      return {
        root: slackCard(parent, people, 'WhatsApp'),
        replies: replies.map((r) => slackCard(r, people, 'WhatsApp')),
      };
    }),
  };
}

// ---- Teams ------------------------------------------------------------------------------------

function cardLines(card: Json, lines: Segment[][]): void {
  if (!card || typeof card !== 'object') return;
  if (Array.isArray(card)) {
    for (const item of card) cardLines(item, lines);
    return;
  }
  switch (card.type) {
    case 'TextBlock':
      if (typeof card.text === 'string' && card.text !== '') lines.push(fromCardMarkdown(card.text));
      break;
    case 'RichTextBlock':
      lines.push(plain(((card.inlines ?? []) as Json[]).map((i) => String(i?.text ?? i ?? '')).join('')));
      break;
    case 'FactSet':
      for (const fact of card.facts ?? [])
        lines.push([{ t: 'b', v: `${fact?.title ?? ''} ` }, ...fromCardMarkdown(String(fact?.value ?? ''))]);
      break;
    case 'Action.OpenUrl': {
      const link = fromCardMarkdown(`[${card.title ?? 'Open'}](${card.url ?? ''})`);
      lines.push(link);
      break;
    }
    default:
      break;
  }
  for (const key of ['body', 'items', 'columns', 'actions']) cardLines(card[key], lines);
}

function teamsCard(message: ChatMessageRecord, people: ReadonlyMap<string, string>): TeamsMessageCard {
  const cards: Segment[][] = [];
  for (const attachment of message.attachments) {
    if (attachment.contentType !== 'application/vnd.microsoft.card.adaptive' || !attachment.content) continue;
    try {
      const lines: Segment[][] = [];
      cardLines(JSON.parse(attachment.content), lines);
      cards.push(...lines);
    } catch {
      // A card we cannot read is left out, not shown raw.
    }
  }
  const counts = new Map<string, number>();
  for (const r of message.reactions) counts.set(r.reactionType, (counts.get(r.reactionType) ?? 0) + 1);
  const userId = message.from.user?.id;
  return {
    id: message.id,
    at: Date.parse(message.createdDateTime),
    author:
      (userId ? people.get(userId) : undefined) ??
      message.from.user?.displayName ??
      message.from.application?.displayName ??
      'Unknown',
    human: message.postedBy === 'human',
    subject: message.subject,
    segments: message.deletedDateTime
      ? []
      : fromHtml(
          message.body.contentType === 'html' ? message.body.content : escapeHtml(message.body.content),
        ),
    cards: message.deletedDateTime ? [] : cards,
    reactions: [...counts].map(([type, count]) => ({ type, emoji: emojiFor(type), count })),
    deleted: message.deletedDateTime !== null,
    edited: message.lastEditedDateTime !== null,
  };
}

export function teamsPane(sources: SnapshotSources): TeamsPane | null {
  const graph = sources.graph;
  if (!graph) return null;
  const { teamId, channelId } = sources.teams;
  return {
    team: teamId,
    channel: channelId,
    agent: sources.teamsAgent,
    threads: graph.roots(teamId, channelId).map((root) => ({
      root: teamsCard(root, sources.people),
      replies: graph.replies(root.id, teamId, channelId).map((r) => teamsCard(r, sources.people)),
    })),
  };
}

// ---- HubSpot ----------------------------------------------------------------------------------

const SHOWN_PROPERTIES = [
  'firstname',
  'lastname',
  'phone',
  'mobilephone',
  'email',
  'country',
  'wabridge_whatsapp_consent',
  'wabridge_whatsapp_consent_source',
  'wabridge_whatsapp_consent_updated_at',
];

const digits = (value: string | undefined) => (value ?? '').replace(/\D/g, '');

export function hubspotPane(sources: SnapshotSources): HubSpotPane | null {
  const hubspot = sources.hubspot;
  if (!hubspot) return null;
  const waId = digits(sources.customer.waId);
  const contact = hubspot
    .contacts()
    .find((c) => [c.properties.phone, c.properties.mobilephone].some((p) => p && digits(p) === waId));
  const pane: HubSpotPane = {
    consentProperty: sources.consentProperty,
    consentOptions: sources.consentOptions,
    contact: null,
    timeline: [],
  };
  if (!contact) return pane;
  const p = contact.properties;
  const shown = [...new Set([...SHOWN_PROPERTIES, sources.consentProperty])];
  pane.contact = {
    id: contact.id,
    name: [p.firstname, p.lastname].filter(Boolean).join(' ') || p.email || `Contact ${contact.id}`,
    properties: shown.filter((name) => p[name]).map((name) => ({ name, value: p[name] ?? '' })),
    consent: p[sources.consentProperty] ?? null,
    consentHistory: [
      ...hubspot.ledger.filter('object.created', (e) => e.objectType === 'contacts' && e.id === contact.id),
      ...hubspot.ledger.filter('object.updated', (e) => e.objectType === 'contacts' && e.id === contact.id),
    ]
      .sort((a, b) => a.seq - b.seq)
      .flatMap((e) => {
        const value =
          'changed' in e ? e.changed[sources.consentProperty] : e.properties[sources.consentProperty];
        if (value === undefined) return [];
        const by =
          e.source.changeSource === 'INTEGRATION'
            ? 'wabridge (integration)'
            : e.source.changeSource === 'CRM_UI'
              ? `a HubSpot user (${e.source.sourceId})`
              : e.source.changeSource;
        return [{ at: e.at, value, by }];
      }),
  };
  pane.timeline = hubspot.timeline(contact.id).map((c) => ({
    id: c.id,
    at: Date.parse(c.properties.hs_timestamp ?? '') || c.createdAt,
    direction: c.properties.wabridge_direction ?? null,
    channel: c.properties.hs_communication_channel_type ?? null,
    state: c.properties.wabridge_delivery_state ?? null,
    segments: fromHtml(c.properties.hs_communication_body ?? ''),
  }));
  return pane;
}
