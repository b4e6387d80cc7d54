/**
 * Builders for the webhook bodies Meta POSTs to a business (field `messages` for inbound messages
 * and statuses, field `user_preferences`), shaped after the examples of the vendored spec's
 * `/whatsapp/webhooks` operation and https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/messages, https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/user_preferences. Pure functions: no I/O, no state.
 */
import type { WebhookErrorObject } from './errors.ts';

export interface WebhookPayload {
  object: 'whatsapp_business_account';
  entry: Array<{ id: string; changes: Array<{ field: string; value: Record<string, unknown> }> }>;
}

export interface WebhookMetadata {
  display_phone_number: string;
  phone_number_id: string;
}

export interface WebhookContact {
  profile: { name: string; username?: string };
  wa_id?: string;
  user_id?: string;
  parent_user_id?: string;
}

/** An inbound `messages[]` item: common fields plus the type-specific object. */
export interface InboundMessage {
  from?: string;
  from_user_id?: string;
  from_parent_user_id?: string;
  id: string;
  timestamp: string;
  type: string;
  context?: Record<string, unknown>;
  [content: string]: unknown;
}

export type StatusValue = 'sent' | 'delivered' | 'read' | 'failed';

export interface StatusObject {
  id: string;
  status: StatusValue;
  timestamp: string;
  recipient_id?: string;
  recipient_user_id?: string;
  recipient_type?: 'individual';
  biz_opaque_callback_data?: string;
  conversation?: { id: string; expiration_timestamp?: string; origin: { type: string } };
  pricing?: { billable: boolean; pricing_model: 'PMP'; category: string; type: string };
  errors?: WebhookErrorObject[];
}

export interface UserPreference {
  wa_id?: string;
  user_id?: string;
  detail: string;
  category: 'marketing_messages';
  value: 'stop' | 'resume';
  timestamp: number;
}

/** `{ object, entry: [{ id: wabaId, changes: [{ field, value }] }] }`. */
export function envelope(wabaId: string, field: string, value: Record<string, unknown>): WebhookPayload {
  return { object: 'whatsapp_business_account', entry: [{ id: wabaId, changes: [{ value, field }] }] };
}

/** Value of a `messages` change carrying inbound messages; `contacts` is omitted for `system` messages. */
export function inboundValue(
  metadata: WebhookMetadata,
  contacts: WebhookContact[] | undefined,
  messages: InboundMessage[],
): Record<string, unknown> {
  return {
    messaging_product: 'whatsapp',
    metadata,
    ...(contacts === undefined ? {} : { contacts }),
    messages,
  };
}

/** Value of a `messages` change carrying delivery statuses. */
export function statusesValue(metadata: WebhookMetadata, statuses: StatusObject[]): Record<string, unknown> {
  return { messaging_product: 'whatsapp', metadata, statuses };
}

/** Value of a `user_preferences` change (marketing stop/resume). */
export function userPreferencesValue(
  metadata: WebhookMetadata,
  contacts: WebhookContact[],
  preferences: UserPreference[],
): Record<string, unknown> {
  return { messaging_product: 'whatsapp', metadata, contacts, user_preferences: preferences };
}

/** Every inbound message found in a webhook payload (any shape; used to learn from raw webhooks). */
export function inboundMessagesOf(
  payload: unknown,
): Array<{ phoneNumberId: string | undefined; message: InboundMessage; contacts: WebhookContact[] }> {
  const found: Array<{
    phoneNumberId: string | undefined;
    message: InboundMessage;
    contacts: WebhookContact[];
  }> = [];
  const entries = (payload as WebhookPayload | undefined)?.entry;
  if (!Array.isArray(entries)) return found;
  for (const entry of entries) {
    for (const change of Array.isArray(entry?.changes) ? entry.changes : []) {
      const value = change?.value as
        | { metadata?: WebhookMetadata; contacts?: WebhookContact[]; messages?: InboundMessage[] }
        | undefined;
      if (change?.field !== 'messages' || !Array.isArray(value?.messages)) continue;
      for (const message of value.messages) {
        if (typeof message?.id === 'string') {
          found.push({
            phoneNumberId: value.metadata?.phone_number_id,
            message,
            contacts: Array.isArray(value.contacts) ? value.contacts : [],
          });
        }
      }
    }
  }
  return found;
}
