import type { ConsentSnapshot, ConsentSource } from '@wabridge/core';
import type { PropertyDefinition } from '../api/client.ts';

/**
 * The custom properties wabridge keeps in HubSpot. HubSpot has no WhatsApp channel in its
 * subscription API (https://developers.hubspot.com/docs/api-reference/legacy/communication-preferences/v3/guide), so WhatsApp consent lives in contact properties that the
 * bridge writes and HubSpot users may change (the change comes back by webhook).
 */
export const GROUP = { name: 'wabridge', label: 'WhatsApp (wabridge)' } as const;

export const CONTACT = {
  consent: 'wabridge_whatsapp_consent',
  consentSource: 'wabridge_whatsapp_consent_source',
  consentUpdatedAt: 'wabridge_whatsapp_consent_updated_at',
  bsuid: 'wabridge_bsuid',
  /** Our contact id, unique: contact creation is an upsert on it, so a retry never duplicates. */
  key: 'wabridge_contact_key',
} as const;

export const COMMUNICATION = {
  /** Our message id, unique: a message is written once whatever the retries (see api/timeline.ts). */
  key: 'wabridge_message_key',
  conversation: 'wabridge_conversation_id',
  direction: 'wabridge_direction',
  deliveryState: 'wabridge_delivery_state',
} as const;

/**
 * Values of the consent property. One property carries both consent categories, the way sales
 * teams read it: everything allowed, marketing refused, or everything refused.
 */
export const CONSENT_VALUES = ['opted_in', 'marketing_opted_out', 'opted_out'] as const;
export type ConsentValue = (typeof CONSENT_VALUES)[number];

const SOURCES: readonly ConsentSource[] = [
  'keyword',
  'meta_preference',
  'hubspot',
  'admin',
  'api',
  'platform_error',
];

const option = (value: string, label: string, displayOrder: number) => ({ value, label, displayOrder });

export const CONTACT_PROPERTIES: PropertyDefinition[] = [
  {
    name: CONTACT.consent,
    label: 'WhatsApp consent',
    type: 'enumeration',
    fieldType: 'select',
    groupName: GROUP.name,
    description:
      'Whether this contact may receive WhatsApp messages. Changing it here stops (or allows) messages from every channel wabridge bridges.',
    options: [
      option('opted_in', 'Opted in', 0),
      option('marketing_opted_out', 'Opted out of marketing', 1),
      option('opted_out', 'Opted out', 2),
    ],
  },
  {
    name: CONTACT.consentSource,
    label: 'WhatsApp consent source',
    type: 'enumeration',
    fieldType: 'select',
    groupName: GROUP.name,
    description: 'Where the last WhatsApp consent change came from.',
    options: SOURCES.map((s, i) => option(s, s.replace('_', ' '), i)),
  },
  {
    name: CONTACT.consentUpdatedAt,
    label: 'WhatsApp consent updated at',
    type: 'datetime',
    fieldType: 'date',
    groupName: GROUP.name,
    description: 'When the WhatsApp consent last changed.',
  },
  {
    name: CONTACT.bsuid,
    label: 'WhatsApp user id (BSUID)',
    type: 'string',
    fieldType: 'text',
    groupName: GROUP.name,
    description: 'Business-scoped WhatsApp user id, for users who hide their phone number.',
  },
  {
    name: CONTACT.key,
    label: 'wabridge contact key',
    type: 'string',
    fieldType: 'text',
    groupName: GROUP.name,
    description: 'Internal: the wabridge contact this HubSpot contact was created for.',
    hasUniqueValue: true,
  },
];

export const COMMUNICATION_PROPERTIES: PropertyDefinition[] = [
  {
    name: COMMUNICATION.key,
    label: 'wabridge message key',
    type: 'string',
    fieldType: 'text',
    groupName: GROUP.name,
    description: 'Internal: the wabridge message this entry mirrors.',
    hasUniqueValue: true,
  },
  {
    name: COMMUNICATION.conversation,
    label: 'wabridge conversation',
    type: 'string',
    fieldType: 'text',
    groupName: GROUP.name,
    description: 'Internal: the wabridge conversation this entry belongs to.',
  },
  {
    name: COMMUNICATION.direction,
    label: 'WhatsApp direction',
    type: 'enumeration',
    fieldType: 'select',
    groupName: GROUP.name,
    description: 'Received from the customer, or sent to them.',
    options: [option('inbound', 'Received', 0), option('outbound', 'Sent', 1)],
  },
  {
    name: COMMUNICATION.deliveryState,
    label: 'WhatsApp delivery',
    type: 'enumeration',
    fieldType: 'select',
    groupName: GROUP.name,
    description: 'Whether WhatsApp reported a sent message as not delivered.',
    options: [option('sent', 'Sent', 0), option('failed', 'Not delivered', 1)],
  },
];

/** The HubSpot property value for a consent snapshot. */
export function consentValue(consent: ConsentSnapshot): ConsentValue {
  if (consent.all.state === 'opted_out') return 'opted_out';
  if (consent.marketing.state === 'opted_out') return 'marketing_opted_out';
  return 'opted_in';
}

/** The consent properties to write for a snapshot: state, the source and time of what decides it. */
export function consentProperties(consent: ConsentSnapshot): Record<string, string> {
  const value = consentValue(consent);
  const deciding =
    value === 'opted_out'
      ? consent.all
      : value === 'marketing_opted_out'
        ? consent.marketing
        : [consent.all, consent.marketing].sort((a, b) => (b.at ?? 0) - (a.at ?? 0))[0];
  return {
    [CONTACT.consent]: value,
    [CONTACT.consentSource]: deciding?.source ?? '',
    [CONTACT.consentUpdatedAt]: deciding?.at ? String(deciding.at) : '',
  };
}
