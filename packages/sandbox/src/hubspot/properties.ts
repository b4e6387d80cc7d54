/**
 * Property definitions: the built-in properties the emulator knows per object type, and the
 * validation HubSpot applies to values written through the API (unknown property, read-only
 * property, value not an option of an enumeration, not a number, not a date).
 */
import type { ErrorDetail } from './errors.ts';
import type { ObjectType } from './types.ts';

export type PropertyType = 'string' | 'number' | 'datetime' | 'date' | 'enumeration' | 'bool';

export interface PropertyOption {
  label: string;
  value: string;
  displayOrder: number;
  hidden: boolean;
  description?: string;
}

export interface PropertyDef {
  name: string;
  label: string;
  type: PropertyType;
  fieldType: string;
  groupName: string;
  description: string;
  options: PropertyOption[];
  hasUniqueValue: boolean;
  /** Calculated by HubSpot; writes are refused. */
  readOnlyValue: boolean;
  hubspotDefined: boolean;
  displayOrder: number;
  createdAt: number;
  updatedAt: number;
}

export interface PropertyGroup {
  name: string;
  label: string;
  displayOrder: number;
  archived: boolean;
}

type Seed = [name: string, type: PropertyType, extra?: Partial<PropertyDef>];

const enumOf = (...values: string[]): Partial<PropertyDef> => ({
  fieldType: 'select',
  options: values.map((value, i) => ({ label: value, value, displayOrder: i, hidden: false })),
});
const readOnly: Partial<PropertyDef> = { readOnlyValue: true };

const BUILT_IN: Record<ObjectType, { group: string; seeds: Seed[] }> = {
  contacts: {
    group: 'contactinformation',
    seeds: [
      ['firstname', 'string'],
      ['lastname', 'string'],
      ['email', 'string', { hasUniqueValue: true }],
      ['phone', 'string'],
      ['mobilephone', 'string'],
      ['country', 'string'],
      ['hs_whatsapp_phone_number', 'string'],
      ['hs_searchable_calculated_phone_number', 'string', readOnly],
      ['hs_searchable_calculated_mobile_number', 'string', readOnly],
      ['hs_merged_object_ids', 'enumeration', { ...readOnly, fieldType: 'checkbox' }],
      ['hubspot_owner_id', 'enumeration', { fieldType: 'select' }],
      ['hs_object_id', 'number', readOnly],
      ['createdate', 'datetime', readOnly],
      ['lastmodifieddate', 'datetime', readOnly],
    ],
  },
  communications: {
    group: 'communicationinformation',
    seeds: [
      ['hs_communication_channel_type', 'enumeration', enumOf('WHATS_APP', 'LINKEDIN_MESSAGE', 'SMS')],
      ['hs_communication_logged_from', 'enumeration', enumOf('CRM')],
      ['hs_communication_body', 'string', { fieldType: 'html' }],
      ['hs_timestamp', 'datetime'],
      ['hs_attachment_ids', 'enumeration', { fieldType: 'checkbox' }],
      ['hubspot_owner_id', 'enumeration', { fieldType: 'select' }],
      ['hs_object_id', 'number', readOnly],
      ['hs_createdate', 'datetime', readOnly],
      ['hs_lastmodifieddate', 'datetime', readOnly],
    ],
  },
  deals: {
    group: 'dealinformation',
    seeds: [
      ['dealname', 'string'],
      [
        'dealstage',
        'enumeration',
        enumOf(
          'appointmentscheduled',
          'qualifiedtobuy',
          'presentationscheduled',
          'decisionmakerboughtin',
          'contractsent',
          'closedwon',
          'closedlost',
        ),
      ],
      ['pipeline', 'enumeration', enumOf('default')],
      ['amount', 'number'],
      ['hs_is_closed', 'bool', readOnly],
      ['hs_object_id', 'number', readOnly],
      ['createdate', 'datetime', readOnly],
      ['hs_lastmodifieddate', 'datetime', readOnly],
    ],
  },
  tickets: {
    group: 'ticketinformation',
    seeds: [
      ['subject', 'string'],
      ['hs_pipeline', 'enumeration', enumOf('0')],
      // Default support pipeline: 1 new, 2 waiting on contact, 3 waiting on us, 4 closed.
      ['hs_pipeline_stage', 'enumeration', enumOf('1', '2', '3', '4')],
      ['hs_is_closed', 'bool', readOnly],
      ['hs_object_id', 'number', readOnly],
      ['createdate', 'datetime', readOnly],
      ['hs_lastmodifieddate', 'datetime', readOnly],
    ],
  },
  companies: {
    group: 'companyinformation',
    seeds: [
      ['name', 'string'],
      ['domain', 'string'],
      ['hs_object_id', 'number', readOnly],
      ['createdate', 'datetime', readOnly],
      ['hs_lastmodifieddate', 'datetime', readOnly],
    ],
  },
};

export function builtInProperties(
  type: ObjectType,
  now: number,
): { group: PropertyGroup; properties: PropertyDef[] } {
  const { group, seeds } = BUILT_IN[type];
  return {
    group: { name: group, label: `${type} information`, displayOrder: -1, archived: false },
    properties: seeds.map(([name, propertyType, extra], i) => ({
      name,
      label: name,
      type: propertyType,
      fieldType: defaultFieldType(propertyType),
      groupName: group,
      description: '',
      options: [],
      hasUniqueValue: false,
      readOnlyValue: false,
      hubspotDefined: true,
      displayOrder: i,
      createdAt: now,
      updatedAt: now,
      ...extra,
    })),
  };
}

function defaultFieldType(type: PropertyType): string {
  switch (type) {
    case 'number':
      return 'number';
    case 'datetime':
    case 'date':
      return 'date';
    case 'enumeration':
      return 'select';
    case 'bool':
      return 'booleancheckbox';
    case 'string':
      return 'text';
  }
}

/**
 * Checks and normalises one value as HubSpot does on write. Returns the stored form (datetimes
 * become ISO-8601 UTC) or an error detail.
 */
export function normaliseValue(def: PropertyDef, raw: unknown): { value: string } | { error: ErrorDetail } {
  const context = { propertyName: [def.name] };
  if (raw === null || raw === undefined) return { value: '' };
  const value = typeof raw === 'string' ? raw : String(raw);
  if (value === '') return { value };
  switch (def.type) {
    case 'number':
      return Number.isFinite(Number(value))
        ? { value }
        : { error: { message: `${value} was not a valid number.`, code: 'INVALID_INTEGER', context } };
    case 'datetime':
    case 'date': {
      const ms = /^\d+$/.test(value) ? Number(value) : Date.parse(value);
      if (!Number.isFinite(ms)) {
        return {
          error: {
            message: `${value} was not a valid long or ISO 8601 date.`,
            code: 'INVALID_DATE',
            context,
          },
        };
      }
      return { value: new Date(ms).toISOString() };
    }
    case 'bool':
      return value === 'true' || value === 'false'
        ? { value }
        : { error: { message: `${value} was not a valid boolean.`, code: 'INVALID_BOOLEAN', context } };
    case 'enumeration': {
      // Options are only enforced where a property defines them (owner ids and the like do not here).
      if (def.options.length === 0) return { value };
      const allowed = new Set(def.options.map((o) => o.value));
      const parts = def.fieldType === 'checkbox' ? value.split(';') : [value];
      const bad = parts.find((p) => !allowed.has(p));
      return bad === undefined
        ? { value }
        : {
            error: {
              message: `${bad} was not one of the allowed options: [${def.options.map((o) => o.value).join(', ')}]`,
              code: 'INVALID_OPTION',
              context,
            },
          };
    }
    case 'string':
      return value.length > 65_536
        ? { error: { message: 'Value exceeds 65536 characters.', code: 'INVALID_STRING', context } }
        : { value };
  }
}

/** The property JSON HubSpot answers with (`Property` in the SDK). */
export function propertyJson(def: PropertyDef) {
  return {
    name: def.name,
    label: def.label,
    type: def.type,
    fieldType: def.fieldType,
    description: def.description,
    groupName: def.groupName,
    options: def.options,
    displayOrder: def.displayOrder,
    calculated: def.readOnlyValue,
    externalOptions: false,
    hasUniqueValue: def.hasUniqueValue,
    hidden: false,
    hubspotDefined: def.hubspotDefined,
    formField: !def.readOnlyValue,
    modificationMetadata: {
      archivable: !def.hubspotDefined,
      readOnlyDefinition: def.hubspotDefined,
      readOnlyValue: def.readOnlyValue,
    },
    createdAt: new Date(def.createdAt).toISOString(),
    updatedAt: new Date(def.updatedAt).toISOString(),
    archived: false,
  };
}
