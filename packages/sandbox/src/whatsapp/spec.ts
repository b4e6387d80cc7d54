/**
 * Meta's WhatsApp Business Messaging OpenAPI spec (vendored, v23.0) and the patches that make it
 * agree with Meta's own examples and documented behaviour.
 *
 * The vendored file is a merge of several per-product specs: schema names that collided were given
 * suffixes (`TextMessage_2`, `BaseMessageProperties_1`, …) but the `$ref`s of the webhook section
 * were not updated, so as published `WebhookPayload` rejects every real webhook (it validates inbound
 * messages against the *outbound* send schemas). A few other schemas contradict the examples printed
 * next to them. Each patch below names its evidence; `spec.test.ts` checks that every patch still
 * applies and that Meta's examples validate after patching, so an updated spec that fixes (or moves)
 * something makes a test fail instead of silently changing behaviour.
 */
import { fileURLToPath } from 'node:url';
import {
  loadOpenApiSpec,
  type OpenApiDocument,
  type OpenApiSpec,
  pointer,
  type SpecPatch,
} from '../shared/openapi.ts';

/** Absolute path of the vendored spec. */
export const WHATSAPP_SPEC_FILE = fileURLToPath(
  new URL('../../vendor/meta/business-messaging-api_v23.0.yaml', import.meta.url),
);

/** Path templates of the operations the emulator serves, as written in the spec. */
export const OPERATIONS = {
  sendMessage: '/{Version}/{Phone-Number-ID}/messages',
  uploadMedia: '/{Version}/{Phone-Number-ID}/media',
  media: '/{Version}/{Media-ID}',
  messageTemplates: '/{Version}/{WABA-ID}/message_templates',
  webhook: '/whatsapp/webhooks',
} as const;

const schema = (doc: OpenApiDocument, name: string) => pointer(doc, `/components/schemas/${name}`);

const removeRequired = (target: { required?: string[] }, ...names: string[]) => {
  const before = target.required?.length ?? 0;
  target.required = (target.required ?? []).filter((n) => !names.includes(n));
  if (target.required.length === before) throw new Error(`none of ${names.join(', ')} is required any more`);
};

/** Member of an `allOf` that declares `properties` (the type-specific half of a message schema). */
const ownPart = (doc: OpenApiDocument, name: string) => {
  const part = (schema(doc, name).allOf as Array<Record<string, unknown>>).find(
    (m) => m.properties !== undefined,
  );
  if (part === undefined) throw new Error(`${name} has no allOf member with properties`);
  return part as { properties: Record<string, Record<string, unknown>>; required?: string[] };
};

export const WHATSAPP_SPEC_PATCHES: readonly SpecPatch[] = [
  {
    id: 'webhook-refs-target-webhook-schemas',
    reason:
      'The webhook schemas (WebhookPayload … SystemMessage) reference TextMessage, BaseMessageProperties, ' +
      'ContactObject, ErrorObject … which, after the merge, are the outbound send schemas; their webhook ' +
      'twins carry a suffix (TextMessage_2, BaseMessageProperties_1, ContactObject_1, ErrorObject_2). ' +
      'Evidence: every "/whatsapp/webhooks" example in the same file fails without this patch.',
    apply(doc) {
      const schemas = pointer(doc, '/components/schemas') as Record<string, unknown>;
      const names = Object.keys(schemas);
      const start = names.indexOf('WebhookPayload');
      if (start < 0) throw new Error('WebhookPayload is gone');
      const section = names.slice(start);
      const renames = new Map<string, string>();
      for (const name of section) {
        const match = /^(.+)_(\d+)$/.exec(name);
        if (match?.[1] !== undefined && schemas[match[1]] !== undefined) {
          renames.set(`#/components/schemas/${match[1]}`, `#/components/schemas/${name}`);
        }
      }
      let rewritten = 0;
      const visit = (node: unknown): void => {
        if (Array.isArray(node)) {
          for (const item of node) visit(item);
          return;
        }
        if (typeof node !== 'object' || node === null) return;
        const record = node as Record<string, unknown>;
        for (const [key, value] of Object.entries(record)) {
          if (key === 'example' || key === 'examples') continue;
          if (
            (key === '$ref' || typeof value === 'string') &&
            typeof value === 'string' &&
            renames.has(value)
          ) {
            // `$ref`s and discriminator mapping values
            record[key] = renames.get(value);
            rewritten++;
          } else visit(value);
        }
      };
      for (const name of section) visit(schemas[name]);
      if (rewritten === 0) throw new Error('no webhook $ref needed rewriting');
    },
  },
  {
    id: 'webhook-from-optional-with-bsuid',
    reason:
      'Since 2026 users with a username may have their phone number withheld: messages[].from is omitted and ' +
      'from_user_id (BSUID) / from_parent_user_id are sent instead (https://developers.facebook.com/documentation/business-messaging/whatsapp/business-scoped-user-ids/, Meta "Business-scoped ' +
      'user IDs" page). The v23 spec still requires from.',
    apply(doc) {
      const base = schema(doc, 'BaseMessageProperties_1');
      removeRequired(base, 'from');
      base.properties.from_user_id = { type: 'string', description: 'Business-scoped user ID (BSUID).' };
      base.properties.from_parent_user_id = { type: 'string', description: 'Parent BSUID.' };
    },
  },
  {
    id: 'webhook-context-without-referred-product',
    reason:
      'ContextObject requires referred_product, but a reply that quotes a business message carries only ' +
      '{from, id} (Meta webhook reference for text messages; referred_product is only set for product enquiries).',
    apply(doc) {
      removeRequired(schema(doc, 'ContextObject'), 'referred_product');
    },
  },
  {
    id: 'webhook-location-pin-without-name',
    reason:
      'A location shared from the map picker has only latitude/longitude; name/address are set only for places ' +
      '(Meta webhook reference, location messages). The spec requires all four.',
    apply(doc) {
      const location = ownPart(doc, 'LocationMessage_1').properties.location as { required?: string[] };
      removeRequired(location, 'name', 'address');
    },
  },
  {
    id: 'webhook-reaction-removal',
    reason:
      'When a user removes a reaction the webhook has reaction.message_id and no emoji (https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/messages, Meta ' +
      'webhook reference for reactions). The spec requires emoji.',
    apply(doc) {
      const reaction = ownPart(doc, 'ReactionMessage_1').properties.reaction as { required?: string[] };
      removeRequired(reaction, 'emoji');
    },
  },
  {
    id: 'webhook-system-message-types',
    reason:
      'system.type only lists user_changed_number; Meta also sends user_changed_user_id (BSUID change, with ' +
      'user_id/parent_user_id), customer_changed_number (older name) and customer_identity_changed ' +
      '(https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/messages, https://developers.facebook.com/documentation/business-messaging/whatsapp/business-scoped-user-ids/).',
    apply(doc) {
      const system = ownPart(doc, 'SystemMessage').properties.system as {
        properties: Record<string, Record<string, unknown>>;
      };
      const type = system.properties.type as { enum: string[] };
      type.enum.push('user_changed_user_id', 'customer_changed_number', 'customer_identity_changed');
      system.properties.user_id = { type: 'string', description: 'New BSUID.' };
      system.properties.parent_user_id = { type: 'string', description: 'New parent BSUID.' };
    },
  },
  {
    id: 'webhook-request-welcome',
    reason:
      'Meta sends type "request_welcome" when a user opens a chat for the first time (welcome-message trigger; ' +
      'https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/messages); the spec has no schema for it.',
    apply(doc) {
      const schemas = pointer(doc, '/components/schemas');
      schemas.RequestWelcomeMessage = {
        allOf: [
          { $ref: '#/components/schemas/BaseMessageProperties_1' },
          {
            type: 'object',
            properties: { type: { type: 'string', enum: ['request_welcome'] } },
            required: ['type'],
          },
        ],
      };
      const incoming = schema(doc, 'IncomingMessage');
      incoming.oneOf.push({ $ref: '#/components/schemas/RequestWelcomeMessage' });
      incoming.discriminator.mapping.request_welcome = '#/components/schemas/RequestWelcomeMessage';
    },
  },
  {
    id: 'webhook-user-preferences',
    reason:
      'The user_preferences webhook field (marketing stop/resume) is documented by Meta (webhooks reference ' +
      '"user_preferences", https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/user_preferences) but absent from the spec.',
    apply(doc) {
      const schemas = pointer(doc, '/components/schemas');
      schemas.UserPreferencesValue = {
        type: 'object',
        required: ['messaging_product', 'metadata', 'user_preferences'],
        properties: {
          messaging_product: { type: 'string' },
          metadata: { $ref: '#/components/schemas/Metadata' },
          contacts: { type: 'array', items: { $ref: '#/components/schemas/ContactProfile' } },
          user_preferences: {
            type: 'array',
            items: {
              type: 'object',
              required: ['detail', 'category', 'value', 'timestamp'],
              properties: {
                wa_id: { type: 'string' },
                user_id: { type: 'string' },
                detail: { type: 'string' },
                category: { type: 'string' },
                value: { type: 'string' },
                timestamp: { type: ['integer', 'string'] },
              },
            },
          },
        },
      };
      const change = schema(doc, 'Change');
      change.properties.value.oneOf.push({ $ref: '#/components/schemas/UserPreferencesValue' });
      change.properties.field.enum.push('user_preferences');
    },
  },
  {
    id: 'status-recipient-bsuid',
    reason:
      'Statuses for a recipient known only by BSUID carry recipient_user_id and may omit recipient_id ' +
      '(https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/messages/status, https://developers.facebook.com/documentation/business-messaging/whatsapp/business-scoped-user-ids/).',
    apply(doc) {
      const statuses = schema(doc, 'Statuses');
      removeRequired(statuses, 'recipient_id');
      statuses.properties.recipient_user_id = { type: 'string' };
      statuses.properties.parent_recipient_user_id = { type: 'string' };
      statuses.properties.recipient_type = { type: 'string' };
      statuses.properties.biz_opaque_callback_data = { type: 'string' };
    },
  },
  {
    id: 'send-recipient-type-optional',
    reason:
      'recipient_type defaults to "individual"; Meta\'s own examples "Send Contact Message", "Send Test Message" ' +
      'and the template samples in this file omit it.',
    apply(doc) {
      removeRequired(schema(doc, 'BaseMessageProperties'), 'recipient_type');
    },
  },
  {
    id: 'send-biz-opaque-callback-data',
    reason:
      'Meta documents biz_opaque_callback_data (an arbitrary string of up to 512 characters echoed in the ' +
      "message's status webhooks) on every send; the spec's message schemas forbid unknown properties and omit it.",
    apply(doc) {
      const base = schema(doc, 'BaseMessageProperties');
      if (base.properties.biz_opaque_callback_data !== undefined) throw new Error('already in the spec');
      base.properties.biz_opaque_callback_data = { type: 'string', maxLength: 512 };
    },
  },
  {
    id: 'send-template-language-policy-optional',
    reason:
      'language.policy is optional ("deterministic" is the only value and the default); most examples in this file ' +
      'send only {code}.',
    apply(doc) {
      removeRequired(schema(doc, 'LanguageObject'), 'policy');
    },
  },
  {
    id: 'send-template-button-index',
    reason:
      'The index pattern ^[2-6, 11-14]$ is a malformed character class that rejects "0", the spec\'s own example; ' +
      'Meta documents index 0–9 and its examples send it as a string or an integer.',
    apply(doc) {
      const fixed = { type: ['string', 'integer'], pattern: '^[0-9]$', minimum: 0, maximum: 9 };
      const base = schema(doc, 'TemplateComponent');
      const button = ownPart(doc, 'ButtonComponent');
      if (base.properties.index === undefined || button.properties.index === undefined) {
        throw new Error('index property moved');
      }
      base.properties.index = { ...fixed, description: base.properties.index.description };
      button.properties.index = fixed;
    },
  },
  {
    id: 'send-template-button-sub-types',
    reason:
      'sub_type lists quick_reply/url/catalog only; Meta examples in this file send "flow" and "CATALOG", and the ' +
      'template docs add copy_code and mpm. Parameter type "action" (flow/catalog buttons) and "coupon_code" are ' +
      'missing from ButtonParameterObject.',
    apply(doc) {
      const subTypes = ['quick_reply', 'url', 'catalog', 'flow', 'copy_code', 'mpm', 'voice_call'];
      const all = [...subTypes, ...subTypes.map((s) => s.toUpperCase())];
      schema(doc, 'TemplateComponent').properties.sub_type.enum = all;
      ownPart(doc, 'ButtonComponent').properties.sub_type = { type: 'string', enum: all };
      schema(doc, 'ButtonParameterObject').properties.type.enum.push('action', 'coupon_code');
    },
  },
  {
    id: 'send-location-coordinates-numeric',
    reason:
      'The send LocationMessage types latitude/longitude as strings while Meta documents numbers and both send ' +
      'examples in this file use numbers; accept either.',
    apply(doc) {
      const location = ownPart(doc, 'LocationMessage').properties.location as {
        properties: Record<string, { type: unknown }>;
      };
      for (const key of ['latitude', 'longitude']) {
        const property = location.properties[key];
        if (property === undefined) throw new Error(`location.${key} is gone`);
        property.type = ['number', 'string'];
      }
    },
  },
];

/** The vendored spec with the patches above (loaded and cached once per process). */
export function loadWhatsAppSpec(): OpenApiSpec {
  return loadOpenApiSpec(WHATSAPP_SPEC_FILE, { patches: WHATSAPP_SPEC_PATCHES });
}
