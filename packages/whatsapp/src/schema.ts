/**
 * Zod schemas for the WhatsApp Cloud API webhook payloads (https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/messages, https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/user_preferences, https://developers.facebook.com/documentation/business-messaging/whatsapp/business-scoped-user-ids/).
 *
 * These schemas PARSE LIBERALLY. The signature check is the gate; once a POST is authentic, nothing
 * Meta sends may be rejected here, because a rejected webhook is a lost customer message. So:
 * - every object keeps unknown keys (`z.looseObject`), so new Meta fields survive into the archive;
 * - a message with an unknown `type` parses through a fallback that keeps the whole object;
 * - scalars Meta documents as strings also accept numbers (and are normalised to strings), numbers
 *   also accept numeric strings, and booleans also accept "true"/"false";
 * - a change whose value does not match its field's schema is kept as `kind: 'other'` with the
 *   reasons in `parseIssues`, so the caller can store it rather than lose it.
 */
import { z } from 'zod';

// ---------------------------------------------------------------------------------------------
// Liberal scalars
// ---------------------------------------------------------------------------------------------

/** A value Meta documents as a string; numbers are accepted because YAML/JSON producers differ. */
const metaString = z.union([z.string(), z.number().transform((n) => String(n))]);

/** Unix seconds. Messages send a string, `user_preferences` sends an integer; both become a string. */
const metaTimestamp = metaString;

/** A number that some producers quote (spec types `latitude` as string but shows numbers). */
const metaNumber = z.union([
  z.number(),
  z
    .string()
    .regex(/^\s*-?\d+(\.\d+)?\s*$/)
    .transform((s) => Number(s)),
]);

const metaBoolean = z.union([z.boolean(), z.enum(['true', 'false']).transform((s) => s === 'true')]);

// ---------------------------------------------------------------------------------------------
// Shared pieces
// ---------------------------------------------------------------------------------------------

/** `{code, title?, message?, error_data?: {details?}, href?}` as used in statuses, messages and values. */
export const webhookErrorSchema = z.looseObject({
  // A number as documented; a code Meta spells otherwise is kept as it came (toMessageError copes).
  code: z.union([metaNumber, z.string()]),
  title: z.string().optional(),
  message: z.string().optional(),
  error_data: z.looseObject({ details: z.string().optional() }).optional(),
  href: z.string().optional(),
});
export type WebhookError = z.output<typeof webhookErrorSchema>;

/** Value `metadata`: which business number the event belongs to (route on `phone_number_id`). */
export const webhookMetadataSchema = z.looseObject({
  display_phone_number: metaString.optional(),
  phone_number_id: metaString,
});
export type WebhookMetadata = z.output<typeof webhookMetadataSchema>;

/**
 * One `contacts[]` entry of a value. `wa_id` may be absent for users who adopted a username; key
 * contacts on `parent_user_id ?? user_id` and keep the phone as an attribute (https://developers.facebook.com/documentation/business-messaging/whatsapp/business-scoped-user-ids/).
 */
export const waContactSchema = z.looseObject({
  profile: z
    .looseObject({
      name: z.string().optional(),
      username: z.string().optional(),
    })
    .optional(),
  wa_id: metaString.optional(),
  user_id: metaString.optional(),
  parent_user_id: metaString.optional(),
  identity_key_hash: z.string().optional(),
});
export type WaContact = z.output<typeof waContactSchema>;

/** `messages[].context`: the business message replied to, forwarding flags, product enquiry. */
export const messageContextSchema = z.looseObject({
  from: metaString.optional(),
  id: metaString.optional(),
  forwarded: metaBoolean.optional(),
  frequently_forwarded: metaBoolean.optional(),
  referred_product: z
    .looseObject({
      catalog_id: metaString.optional(),
      product_retailer_id: metaString.optional(),
    })
    .optional(),
});
export type MessageContext = z.output<typeof messageContextSchema>;

/** Click-to-WhatsApp ad / post referral. */
export const referralSchema = z.looseObject({
  source_url: z.string().optional(),
  source_id: metaString.optional(),
  source_type: z.string().optional(),
  headline: z.string().optional(),
  body: z.string().optional(),
  media_type: z.string().optional(),
  image_url: z.string().optional(),
  video_url: z.string().optional(),
  thumbnail_url: z.string().optional(),
  ctwa_clid: z.string().optional(),
  welcome_message: z.looseObject({ text: z.string().optional() }).optional(),
});
export type Referral = z.output<typeof referralSchema>;

// ---------------------------------------------------------------------------------------------
// Inbound messages
// ---------------------------------------------------------------------------------------------

const messageCommonShape = {
  id: metaString,
  timestamp: metaTimestamp,
  from: metaString.optional(),
  from_user_id: metaString.optional(),
  from_parent_user_id: metaString.optional(),
  context: messageContextSchema.optional(),
  referral: referralSchema.optional(),
  errors: z.array(webhookErrorSchema).optional(),
  group_id: metaString.optional(),
};

const mediaShape = {
  id: metaString,
  mime_type: z.string().optional(),
  sha256: z.string().optional(),
  // Newer payloads carry a direct URL too; it still needs the bearer token (see downloadMedia).
  url: z.string().optional(),
};

const textMessageSchema = z.looseObject({
  ...messageCommonShape,
  type: z.literal('text'),
  text: z.looseObject({ body: z.string() }),
});

const imageMessageSchema = z.looseObject({
  ...messageCommonShape,
  type: z.literal('image'),
  image: z.looseObject({ ...mediaShape, caption: z.string().optional() }),
});

const audioMessageSchema = z.looseObject({
  ...messageCommonShape,
  type: z.literal('audio'),
  audio: z.looseObject({ ...mediaShape, voice: metaBoolean.optional() }),
});

const videoMessageSchema = z.looseObject({
  ...messageCommonShape,
  type: z.literal('video'),
  video: z.looseObject({ ...mediaShape, caption: z.string().optional() }),
});

const documentMessageSchema = z.looseObject({
  ...messageCommonShape,
  type: z.literal('document'),
  document: z.looseObject({
    ...mediaShape,
    caption: z.string().optional(),
    filename: z.string().optional(),
  }),
});

const stickerMessageSchema = z.looseObject({
  ...messageCommonShape,
  type: z.literal('sticker'),
  sticker: z.looseObject({ ...mediaShape, animated: metaBoolean.optional() }),
});

const locationMessageSchema = z.looseObject({
  ...messageCommonShape,
  type: z.literal('location'),
  location: z.looseObject({
    latitude: metaNumber,
    longitude: metaNumber,
    name: z.string().optional(),
    address: z.string().optional(),
    url: z.string().optional(),
  }),
});

const sharedContactSchema = z.looseObject({
  name: z
    .looseObject({
      formatted_name: z.string().optional(),
      first_name: z.string().optional(),
      last_name: z.string().optional(),
      middle_name: z.string().optional(),
      suffix: z.string().optional(),
      prefix: z.string().optional(),
    })
    .optional(),
  phones: z
    .array(
      z.looseObject({
        phone: metaString.optional(),
        wa_id: metaString.optional(),
        type: z.string().optional(),
      }),
    )
    .optional(),
  emails: z.array(z.looseObject({ email: z.string().optional(), type: z.string().optional() })).optional(),
  org: z
    .looseObject({
      company: z.string().optional(),
      department: z.string().optional(),
      title: z.string().optional(),
    })
    .optional(),
  addresses: z.array(z.looseObject({})).optional(),
  urls: z.array(z.looseObject({ url: z.string().optional(), type: z.string().optional() })).optional(),
  birthday: z.string().optional(),
});
export type SharedContact = z.output<typeof sharedContactSchema>;

const contactsMessageSchema = z.looseObject({
  ...messageCommonShape,
  type: z.literal('contacts'),
  contacts: z.array(sharedContactSchema),
});

/**
 * Interactive replies are one object with optional sub-objects rather than a nested union, so a
 * future `interactive.type` parses without a fallback and callers read `interactive.button_reply?.id`.
 */
const interactiveMessageSchema = z.looseObject({
  ...messageCommonShape,
  type: z.literal('interactive'),
  interactive: z.looseObject({
    /** `button_reply` | `list_reply` | `nfm_reply` | `call_permission_reply` | future types. */
    type: z.string(),
    button_reply: z.looseObject({ id: metaString, title: z.string().optional() }).optional(),
    list_reply: z
      .looseObject({
        id: metaString,
        title: z.string().optional(),
        description: z.string().optional(),
      })
      .optional(),
    /** WhatsApp Flows / address message reply; `response_json` is a JSON string. */
    nfm_reply: z
      .looseObject({
        name: z.string().optional(),
        body: z.string().optional(),
        response_json: z.string().optional(),
      })
      .optional(),
    call_permission_reply: z
      .looseObject({
        response: z.string().optional(),
        is_permanent: metaBoolean.optional(),
        expiration_timestamp: metaTimestamp.optional(),
        response_source: z.string().optional(),
      })
      .optional(),
  }),
});

/** A quick-reply button of a template (not an interactive message). */
const buttonMessageSchema = z.looseObject({
  ...messageCommonShape,
  type: z.literal('button'),
  button: z.looseObject({ text: z.string(), payload: z.string().optional() }),
});

/** `emoji` absent (or empty) means the user removed their reaction. */
const reactionMessageSchema = z.looseObject({
  ...messageCommonShape,
  type: z.literal('reaction'),
  reaction: z.looseObject({ message_id: metaString, emoji: z.string().optional() }),
});

const orderMessageSchema = z.looseObject({
  ...messageCommonShape,
  type: z.literal('order'),
  order: z.looseObject({
    catalog_id: metaString.optional(),
    text: z.string().optional(),
    product_items: z.array(
      z.looseObject({
        product_retailer_id: metaString,
        quantity: metaNumber.optional(),
        item_price: metaNumber.optional(),
        currency: z.string().optional(),
      }),
    ),
  }),
});

/**
 * System notices. Arrive without `contacts[]`. `system.type` seen: `user_changed_number`
 * (older `customer_changed_number`), `customer_identity_changed`, `user_changed_user_id`,
 * `user_preference_changed` (with `marketing`). Since August 2026 both identity changes also carry
 * the previous BSUIDs (`previous_user_id`, `previous_parent_user_id`) beside the new ones
 * (https://developers.facebook.com/documentation/business-messaging/whatsapp/changelog/).
 */
const systemMessageSchema = z.looseObject({
  ...messageCommonShape,
  type: z.literal('system'),
  system: z.looseObject({
    body: z.string().optional(),
    type: z.string().optional(),
    wa_id: metaString.optional(),
    new_wa_id: metaString.optional(),
    user_id: metaString.optional(),
    parent_user_id: metaString.optional(),
    previous_user_id: metaString.optional(),
    previous_parent_user_id: metaString.optional(),
    customer: metaString.optional(),
    identity: z.string().optional(),
    marketing: z.string().optional(),
  }),
});

/** Meta's spec maps both `unsupported` and the older `unknown` to this shape; details are in `errors`. */
const unsupportedMessageSchema = z.looseObject({
  ...messageCommonShape,
  type: z.literal(['unsupported', 'unknown']),
  unsupported: z.looseObject({ type: z.string().optional() }).optional(),
});

/** The user opened the chat for the first time (welcome-message trigger). */
const requestWelcomeMessageSchema = z.looseObject({
  ...messageCommonShape,
  type: z.literal('request_welcome'),
});

/**
 * The user edited a message they sent earlier (text, or a caption) within 15 minutes; `message`
 * is the new version, shaped like a message of its own type. Only sent to numbers that also use
 * the WhatsApp Business app (coexistence), and in `smb_message_echoes` when the business edits.
 * https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/messages/edit
 */
const editMessageSchema = z.looseObject({
  ...messageCommonShape,
  type: z.literal('edit'),
  edit: z.looseObject({
    original_message_id: metaString,
    message: z.looseObject({ type: z.string().optional() }).optional(),
  }),
});

/**
 * The user deleted a message for everyone (within two days of sending it). Coexistence only, like
 * edits. https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/messages/revoke
 */
const revokeMessageSchema = z.looseObject({
  ...messageCommonShape,
  type: z.literal('revoke'),
  revoke: z.looseObject({ original_message_id: metaString }),
});

/** Every documented inbound message type, discriminated by `type`. */
export const knownInboundMessageSchema = z.discriminatedUnion('type', [
  textMessageSchema,
  imageMessageSchema,
  audioMessageSchema,
  videoMessageSchema,
  documentMessageSchema,
  stickerMessageSchema,
  locationMessageSchema,
  contactsMessageSchema,
  interactiveMessageSchema,
  buttonMessageSchema,
  reactionMessageSchema,
  orderMessageSchema,
  systemMessageSchema,
  unsupportedMessageSchema,
  requestWelcomeMessageSchema,
  editMessageSchema,
  revokeMessageSchema,
]);
export type KnownInboundMessage = z.output<typeof knownInboundMessageSchema>;
export type KnownMessageType = KnownInboundMessage['type'];
/** @example const m: InboundMessageOfType<'image'> — narrow after `isKnownMessage`. */
export type InboundMessageOfType<T extends KnownMessageType> = Extract<KnownInboundMessage, { type: T }>;

export const KNOWN_MESSAGE_TYPES: ReadonlySet<string> = new Set<KnownMessageType>([
  'text',
  'image',
  'audio',
  'video',
  'document',
  'sticker',
  'location',
  'contacts',
  'interactive',
  'button',
  'reaction',
  'order',
  'system',
  'unsupported',
  'unknown',
  'request_welcome',
  'edit',
  'revoke',
]);

/**
 * Any message the known union rejects: a future `type`, or a known type with a shape we did not
 * expect. Only the routing fields are typed; a malformed `context`/`from` is dropped (that field
 * alone is lost) rather than failing the whole batch; every other field is kept as it came.
 */
export const unknownInboundMessageSchema = z.looseObject({
  id: metaString,
  type: z.string(),
  timestamp: metaTimestamp,
  from: metaString.optional().catch(undefined),
  from_user_id: metaString.optional().catch(undefined),
  from_parent_user_id: metaString.optional().catch(undefined),
  context: messageContextSchema.optional().catch(undefined),
});
export type UnknownInboundMessage = z.output<typeof unknownInboundMessageSchema>;

/**
 * An inbound message: one of the documented types, or the fallback that keeps the whole object.
 * Because the fallback's `type` is `string`, narrow with {@link isKnownMessage} before switching.
 *
 * @example if (isKnownMessage(m) && m.type === 'image') download(m.image.id)
 */
export const inboundMessageSchema = z.union([knownInboundMessageSchema, unknownInboundMessageSchema]);
export type InboundMessage = KnownInboundMessage | UnknownInboundMessage;

/** True when the message matched a documented type's schema (not the fallback). */
export function isKnownMessage(message: InboundMessage): message is KnownInboundMessage {
  // Re-validating keeps this stateless (works on messages reloaded from storage) and is cheap:
  // a known type name that failed its schema was routed to the fallback and must stay unknown.
  return KNOWN_MESSAGE_TYPES.has(message.type) && knownInboundMessageSchema.safeParse(message).success;
}

// ---------------------------------------------------------------------------------------------
// Statuses
// ---------------------------------------------------------------------------------------------

/** Known delivery states; future values are kept as plain strings. */
export type StatusKind = 'sent' | 'delivered' | 'read' | 'failed' | 'played' | (string & {});

/** One `statuses[]` entry: the fate of a message we sent. Order is not guaranteed (https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/messages/status). */
export const statusUpdateSchema = z.looseObject({
  id: metaString,
  status: z.custom<StatusKind>((v) => typeof v === 'string', 'Expected a status string'),
  timestamp: metaTimestamp,
  recipient_id: metaString.optional(),
  recipient_user_id: metaString.optional(),
  parent_recipient_user_id: metaString.optional(),
  recipient_type: z.string().optional(),
  group_id: metaString.optional(),
  biz_opaque_callback_data: z.string().optional(),
  conversation: z
    .looseObject({
      id: metaString.optional(),
      expiration_timestamp: metaTimestamp.optional(),
      origin: z.looseObject({ type: z.string().optional() }).optional(),
    })
    .optional(),
  pricing: z
    .looseObject({
      billable: metaBoolean.optional(),
      pricing_model: z.string().optional(),
      type: z.string().optional(),
      category: z.string().optional(),
    })
    .optional(),
  errors: z.array(webhookErrorSchema).optional(),
});
export type StatusUpdate = z.output<typeof statusUpdateSchema>;

// ---------------------------------------------------------------------------------------------
// Field values
// ---------------------------------------------------------------------------------------------

/** Value of the `messages` field: inbound messages, statuses, or value-level errors. */
export const messagesValueSchema = z.looseObject({
  messaging_product: z.string().optional(),
  metadata: webhookMetadataSchema,
  contacts: z.array(waContactSchema).optional(),
  messages: z.array(inboundMessageSchema).optional(),
  statuses: z.array(statusUpdateSchema).optional(),
  errors: z.array(webhookErrorSchema).optional(),
});
export type MessagesValue = z.output<typeof messagesValueSchema>;

/**
 * Value of `smb_message_echoes`: messages the business sent from the WhatsApp Business app or a
 * linked device, on a number that also uses the Cloud API (coexistence), and its edits and
 * deletions of them. Each echo is shaped like an inbound message of its type, with `to` (the
 * customer) beside `from` (the business number); `to_user_id` / `to_parent_user_id` carry the
 * customer's BSUIDs where Meta sends them.
 * https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/smb_message_echoes
 */
export const echoesValueSchema = z.looseObject({
  messaging_product: z.string().optional(),
  metadata: webhookMetadataSchema,
  contacts: z.array(waContactSchema).optional(),
  message_echoes: z.array(inboundMessageSchema),
});
export type EchoesValue = z.output<typeof echoesValueSchema>;

/** Who an echo went to: the customer's number and BSUIDs, as far as the echo says. */
export function echoRecipient(message: InboundMessage): {
  waId: string | undefined;
  bsuid: string | undefined;
  parentBsuid: string | undefined;
} {
  const fields = message as Record<string, unknown>;
  const id = (value: unknown) =>
    typeof value === 'string' && value !== '' ? value : typeof value === 'number' ? String(value) : undefined;
  return {
    waId: id(fields.to),
    bsuid: id(fields.to_user_id),
    parentBsuid: id(fields.to_parent_user_id),
  };
}

/**
 * A marketing preference change. Meta's reference lists `category: "marketing_messages"` and
 * `value: "stop" | "resume"` [V?]; any string is accepted so a new literal is stored, not dropped.
 */
export const userPreferenceSchema = z.looseObject({
  wa_id: metaString.optional(),
  user_id: metaString.optional(),
  parent_user_id: metaString.optional(),
  detail: z.string().optional(),
  category: z.string(),
  value: z.string(),
  timestamp: metaTimestamp,
});
export type UserPreference = z.output<typeof userPreferenceSchema>;

/** Value of the `user_preferences` field. */
export const userPreferencesValueSchema = z.looseObject({
  messaging_product: z.string().optional(),
  metadata: webhookMetadataSchema.optional(),
  contacts: z.array(waContactSchema).optional(),
  user_preferences: z.array(userPreferenceSchema),
});
export type UserPreferencesValue = z.output<typeof userPreferencesValueSchema>;

/**
 * Value of the group fields (`group_lifecycle_update`, `group_settings_update`,
 * `group_participant(s)_update`) from Meta's spec. The bridge does not handle groups, so
 * {@link classifyChange} returns these as `kind: 'other'`; the schema is here for callers that opt in.
 */
export const groupsValueSchema = z.looseObject({
  messaging_product: z.string().optional(),
  metadata: webhookMetadataSchema.optional(),
  groups: z.array(
    z.looseObject({
      timestamp: metaTimestamp,
      group_id: metaString,
      type: z.string(),
      request_id: metaString.optional(),
      subject: z.string().optional(),
      description: z.string().optional(),
      added_participants: z
        .array(z.looseObject({ input: metaString.optional(), wa_id: metaString.optional() }))
        .optional(),
      removed_participants: z
        .array(z.looseObject({ input: metaString.optional(), wa_id: metaString.optional() }))
        .optional(),
      profile_picture: z
        .looseObject({ mime_type: z.string().optional(), sha256: z.string().optional() })
        .optional(),
    }),
  ),
});
export type GroupsValue = z.output<typeof groupsValueSchema>;

// ---------------------------------------------------------------------------------------------
// Changes and the envelope
// ---------------------------------------------------------------------------------------------

/**
 * One `entry[].changes[]` item, classified by `field`:
 * - `messages` / `user_preferences` whose value matched its schema carry the parsed value;
 * - anything else (another field such as `account_update`, or a value that did not match) is
 *   `other` with the raw value, plus `parseIssues` when a known field's value was rejected.
 */
export type ClassifiedChange =
  | { kind: 'messages'; field: 'messages'; value: MessagesValue; rejected?: RejectedItem[] }
  | { kind: 'user_preferences'; field: 'user_preferences'; value: UserPreferencesValue }
  | { kind: 'echoes'; field: 'smb_message_echoes'; value: EchoesValue; rejected?: RejectedItem[] }
  | { kind: 'other'; field: string; value: unknown; parseIssues?: string[] };

/**
 * A classified change with the WABA id and `time` of the entry it came in. Meta's account and
 * template fields carry their event time only in `entry.time`, so it is what tells two equal
 * events apart (a number flagged twice) while a retry repeats it.
 */
export type EntryChange = ClassifiedChange & { entryId: string | undefined; entryTime?: unknown };

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * An element of a `messages` value's arrays that did not parse (a message without an id, a status
 * with a timestamp of a new shape), as it came. The rest of its value is still read: one odd
 * element must not take its neighbours' routing with it.
 */
export interface RejectedItem {
  /** The array it came from: `messages`, `statuses`, `contacts` or `errors`. */
  key: string;
  item: unknown;
  issues: string[];
}

const MESSAGES_VALUE_ARRAYS = {
  messages: inboundMessageSchema,
  statuses: statusUpdateSchema,
  contacts: waContactSchema,
  errors: webhookErrorSchema,
} as const;

/**
 * A `messages` value read element by element, when it failed as a whole: the elements that parse,
 * and the ones that do not. Null when what is left still does not parse (no routable metadata).
 */
function readMessagesLeniently(value: unknown): { value: MessagesValue; rejected: RejectedItem[] } | null {
  if (!isRecord(value)) return null;
  const kept: Record<string, unknown> = { ...value };
  const rejected: RejectedItem[] = [];
  for (const [key, schema] of Object.entries(MESSAGES_VALUE_ARRAYS)) {
    const items = value[key];
    if (items === undefined) continue;
    if (!Array.isArray(items)) {
      rejected.push({ key, item: items, issues: [`${key} is not an array`] });
      delete kept[key];
      continue;
    }
    kept[key] = items.filter((item) => {
      const parsed = (schema as z.ZodType).safeParse(item);
      if (!parsed.success) rejected.push({ key, item, issues: formatIssues(parsed.error.issues) });
      return parsed.success;
    });
  }
  const parsed = messagesValueSchema.safeParse(kept);
  return parsed.success ? { value: parsed.data, rejected } : null;
}

/** An echoes value read echo by echo, like {@link readMessagesLeniently}. */
function readEchoesLeniently(value: unknown): { value: EchoesValue; rejected: RejectedItem[] } | null {
  if (!isRecord(value) || !Array.isArray(value.message_echoes)) return null;
  const rejected: RejectedItem[] = [];
  const echoes = value.message_echoes.filter((item) => {
    const parsed = inboundMessageSchema.safeParse(item);
    if (!parsed.success)
      rejected.push({ key: 'message_echoes', item, issues: formatIssues(parsed.error.issues) });
    return parsed.success;
  });
  const contacts = Array.isArray(value.contacts)
    ? value.contacts.filter((item) => {
        const parsed = waContactSchema.safeParse(item);
        if (!parsed.success)
          rejected.push({ key: 'contacts', item, issues: formatIssues(parsed.error.issues) });
        return parsed.success;
      })
    : value.contacts;
  const parsed = echoesValueSchema.safeParse({ ...value, message_echoes: echoes, contacts });
  return parsed.success ? { value: parsed.data, rejected } : null;
}

/**
 * Classifies one raw `changes[]` item. Never throws.
 *
 * @example for (const c of entry.changes) if (c.kind === 'messages') handle(c.value)
 */
export function classifyChange(change: unknown): ClassifiedChange {
  if (!isRecord(change) || typeof change.field !== 'string') {
    return {
      kind: 'other',
      field: '',
      value: isRecord(change) && 'value' in change ? change.value : change,
      parseIssues: ['change is not an object with a string "field"'],
    };
  }
  const { field, value } = change;
  if (field === 'messages') {
    const parsed = messagesValueSchema.safeParse(value);
    if (parsed.success) return { kind: 'messages', field, value: parsed.data };
    const lenient = readMessagesLeniently(value);
    if (lenient) return { kind: 'messages', field, value: lenient.value, rejected: lenient.rejected };
    return { kind: 'other', field, value, parseIssues: formatIssues(parsed.error.issues) };
  }
  if (field === 'smb_message_echoes') {
    const parsed = echoesValueSchema.safeParse(value);
    if (parsed.success) return { kind: 'echoes', field, value: parsed.data };
    const lenient = readEchoesLeniently(value);
    if (lenient) return { kind: 'echoes', field, value: lenient.value, rejected: lenient.rejected };
    return { kind: 'other', field, value, parseIssues: formatIssues(parsed.error.issues) };
  }
  if (field === 'user_preferences') {
    const parsed = userPreferencesValueSchema.safeParse(value);
    if (parsed.success) return { kind: 'user_preferences', field, value: parsed.data };
    return { kind: 'other', field, value, parseIssues: formatIssues(parsed.error.issues) };
  }
  return { kind: 'other', field, value };
}

export interface WebhookEntry {
  /** WABA id. */
  id?: string | undefined;
  changes: ClassifiedChange[];
  [key: string]: unknown;
}

// Entries are normalised by hand so a malformed entry becomes a stored `other` change instead of
// failing the whole POST (only a missing top-level `entry` array is a hard failure). An entry
// without a `changes` array (another product's shape, e.g. Messenger's `messaging[]`) is kept
// whole too: it is signed data we cannot read, not an empty entry.
const webhookEntrySchema = z.unknown().transform((raw): WebhookEntry => {
  if (isRecord(raw) && Array.isArray(raw.changes)) {
    const entry: WebhookEntry = { ...raw, changes: raw.changes.map(classifyChange) };
    if (typeof raw.id === 'number') entry.id = String(raw.id);
    else if (raw.id !== undefined && typeof raw.id !== 'string') delete entry.id;
    return entry;
  }
  return {
    changes: [
      { kind: 'other', field: '', value: raw, parseIssues: ['entry is not an object with a changes array'] },
    ],
  };
});

/**
 * The POST body. Parsing classifies every change (see {@link ClassifiedChange}), so
 * `payload.entry[i].changes[j].kind` is ready to switch on.
 */
export const webhookPayloadSchema = z.looseObject({
  /** Always `whatsapp_business_account` for these webhooks; not enforced. */
  object: z.string().optional().catch(undefined),
  entry: z.array(webhookEntrySchema),
});
export type WebhookPayload = z.output<typeof webhookPayloadSchema>;

export type ParseWebhookPayloadResult =
  | { ok: true; payload: WebhookPayload; changes: EntryChange[] }
  | { ok: false; issues: string[] };

/**
 * Parses a webhook body that passed signature verification. Fails only when the top level is not
 * an object with an `entry` array; everything inside is kept. `changes` is every change of every
 * entry, in order, with its entry's WABA id.
 *
 * @example
 * const r = parseWebhookPayload(JSON.parse(raw));
 * if (r.ok) for (const c of r.changes) if (c.kind === 'messages') for (const m of c.value.messages ?? []) …
 */
export function parseWebhookPayload(json: unknown): ParseWebhookPayloadResult {
  const parsed = webhookPayloadSchema.safeParse(json);
  if (!parsed.success) return { ok: false, issues: formatIssues(parsed.error.issues) };
  const changes = parsed.data.entry.flatMap((entry) =>
    entry.changes.map((change): EntryChange => ({ ...change, entryId: entry.id, entryTime: entry.time })),
  );
  return { ok: true, payload: parsed.data, changes };
}

// ---------------------------------------------------------------------------------------------
// Reading messages
// ---------------------------------------------------------------------------------------------

const nonEmpty = (value: unknown): string | undefined =>
  typeof value === 'string' && value.trim() !== '' ? value : undefined;

/**
 * The human-readable text of a message: what the user typed (text body, media caption), tapped
 * (button / list titles) or sent as content (reaction emoji, location name, shared contact names,
 * system notice). Button payloads, ids and file names are not included, so the result is safe for
 * opt-out keyword matching as well as previews. `undefined` when the message carries no text.
 */
export function messageText(message: InboundMessage): string | undefined {
  if (!isKnownMessage(message)) return unknownMessageText(message);
  switch (message.type) {
    case 'text':
      return nonEmpty(message.text.body);
    case 'image':
      return nonEmpty(message.image.caption);
    case 'video':
      return nonEmpty(message.video.caption);
    case 'document':
      return nonEmpty(message.document.caption);
    case 'button':
      return nonEmpty(message.button.text);
    case 'interactive':
      return (
        nonEmpty(message.interactive.button_reply?.title) ??
        nonEmpty(message.interactive.list_reply?.title) ??
        flowReplyText(message.interactive.nfm_reply)
      );
    case 'reaction':
      return nonEmpty(message.reaction.emoji);
    case 'location': {
      const parts = [message.location.name, message.location.address].filter((p) => nonEmpty(p));
      return parts.length > 0 ? parts.join(', ') : undefined;
    }
    case 'contacts': {
      const names = message.contacts
        .map((c) => nonEmpty(c.name?.formatted_name) ?? nonEmpty(c.name?.first_name))
        .filter((n): n is string => n !== undefined);
      return names.length > 0 ? names.join(', ') : undefined;
    }
    case 'order':
      return nonEmpty(message.order.text);
    case 'system':
      return nonEmpty(message.system.body);
    case 'edit':
      return editedText(message.edit.message);
    case 'audio':
    case 'sticker':
    case 'unsupported':
    case 'unknown':
    case 'request_welcome':
    case 'revoke':
      return undefined;
  }
}

/**
 * The text of an edit's new version: its body, or its caption for media. Meta's reference shows
 * the new version shaped like a message of its type; its `type` may be left out, so every place
 * a text can live is looked at.
 */
export function editedText(message: Record<string, unknown> | undefined): string | undefined {
  if (!message) return undefined;
  const kinds = typeof message.type === 'string' ? [message.type] : ['text', 'image', 'video', 'document'];
  for (const kind of kinds) {
    const inner = message[kind];
    if (!isRecord(inner)) continue;
    const text = nonEmpty(inner.body) ?? nonEmpty(inner.caption) ?? nonEmpty(inner.text);
    if (text) return text;
  }
  return undefined;
}

/** The wamid an edit or a revoke changes, when the message is one. */
export function changedMessageId(message: InboundMessage): string | undefined {
  if ((message.type !== 'edit' && message.type !== 'revoke') || !isKnownMessage(message)) return undefined;
  if (message.type === 'edit') return message.edit.original_message_id;
  if (message.type === 'revoke') return message.revoke.original_message_id;
  return undefined;
}

/**
 * A WhatsApp Flows (or address) form reply as an agent can read it: what the customer saw on the
 * button (`body`, usually "Sent"), then each answer as `field: value`. The flow token is ours, not
 * the customer's words; answers that are not plain values are shown as JSON.
 */
function flowReplyText(reply: { body?: string | undefined; response_json?: string | undefined } | undefined) {
  if (!reply) return undefined;
  let answers: string[] = [];
  try {
    const parsed: unknown = reply.response_json ? JSON.parse(reply.response_json) : null;
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) {
      answers = Object.entries(parsed)
        .filter(([key]) => key !== 'flow_token')
        .map(([key, value]) => `${key}: ${typeof value === 'string' ? value : JSON.stringify(value)}`);
    }
  } catch {
    // Not JSON: the body alone says a form was sent.
  }
  return nonEmpty([nonEmpty(reply.body), ...answers].filter(Boolean).join('\n'));
}

// Forward compatibility: a future type usually nests its content under its own name, like the
// documented ones do (`{type: 'x', x: {body | caption | text}}`).
function unknownMessageText(message: UnknownInboundMessage): string | undefined {
  const inner = message[message.type];
  if (!isRecord(inner)) return undefined;
  return nonEmpty(inner.body) ?? nonEmpty(inner.caption) ?? nonEmpty(inner.text);
}

/** Converts a webhook timestamp (unix seconds) to a Date; `undefined` if it is not a number. */
export function webhookTimestampToDate(timestamp: string): Date | undefined {
  const seconds = Number(timestamp);
  return Number.isFinite(seconds) && timestamp.trim() !== '' ? new Date(seconds * 1000) : undefined;
}

// ---------------------------------------------------------------------------------------------
// Issue formatting
// ---------------------------------------------------------------------------------------------

const MAX_ISSUES = 20;

/** Flattens zod issues (including every branch of a failed union) to `path: message` lines. */
function formatIssues(issues: readonly z.core.$ZodIssue[], prefix: readonly PropertyKey[] = []): string[] {
  const lines = new Set<string>();
  const visit = (list: readonly z.core.$ZodIssue[], base: readonly PropertyKey[]) => {
    for (const issue of list) {
      if (lines.size >= MAX_ISSUES) return;
      const path = [...base, ...issue.path];
      if (issue.code === 'invalid_union' && issue.errors.length > 0) {
        for (const branch of issue.errors) visit(branch, path);
        continue;
      }
      lines.add(`${formatPath(path)}: ${issue.message}`);
    }
  };
  visit(issues, prefix);
  return [...lines];
}

function formatPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return '(root)';
  return path
    .map((segment, index) =>
      typeof segment === 'number' ? `[${segment}]` : `${index === 0 ? '' : '.'}${String(segment)}`,
    )
    .join('');
}
