/**
 * The emulated portal's CRM: objects, properties and groups, unique-value indexes, associations,
 * merges and deletions. Everything the HTTP layer does goes through here, and every effect is
 * recorded in the ledger and reported to `onChange` (which turns it into webhooks).
 *
 * Semantics worth knowing:
 * - ids are numeric strings; a merged-away contact id keeps resolving to the surviving contact
 *   (reads, updates, associations), and the survivor lists it in `hs_merged_object_ids`;
 * - a deleted contact is gone: its id no longer resolves;
 * - a value of a `hasUniqueValue` property can belong to one object only (409 CONFLICT);
 * - search sees objects as they were `searchIndexLagMs` ago (see `searchable`).
 */
import { type ErrorDetail, hubspotErrors } from './errors.ts';
import { type PhoneDefaults, searchablePhone } from './phone.ts';
import {
  builtInProperties,
  normaliseValue,
  type PropertyDef,
  type PropertyGroup,
  type PropertyOption,
} from './properties.ts';
import type { ChangeSource, HubSpotEvent, ObjectType } from './types.ts';

export interface CrmObject {
  id: string;
  type: ObjectType;
  properties: Record<string, string>;
  createdAt: number;
  updatedAt: number;
  archived: boolean;
  archivedAt: number | null;
  mergedInto: string | null;
  /** What search sees: snapshots of the properties by time written (newest last). */
  indexed: { at: number; properties: Record<string, string> }[];
}

/** HUBSPOT_DEFINED association types (https://developers.hubspot.com/docs/api-reference/2026-03/crm/objects/communications/guide and the SDK's `AssociationTypes`). */
const ASSOCIATION_TYPES: readonly [from: ObjectType, to: ObjectType, id: number, inverse: number][] = [
  ['communications', 'contacts', 81, 82],
  ['contacts', 'communications', 82, 81],
  ['communications', 'tickets', 83, 84],
  ['tickets', 'communications', 84, 83],
  ['communications', 'deals', 85, 86],
  ['deals', 'communications', 86, 85],
  ['communications', 'companies', 87, 88],
  ['companies', 'communications', 88, 87],
  ['contacts', 'deals', 4, 3],
  ['deals', 'contacts', 3, 4],
  ['contacts', 'tickets', 15, 16],
  ['tickets', 'contacts', 16, 15],
  ['contacts', 'companies', 279, 280],
  ['companies', 'contacts', 280, 279],
];

export function associationType(from: ObjectType, typeId: number) {
  const found = ASSOCIATION_TYPES.find(([f, , id]) => f === from && id === typeId);
  return found ? { to: found[1], inverse: found[3] } : null;
}

export function defaultAssociationType(from: ObjectType, to: ObjectType): number | null {
  return ASSOCIATION_TYPES.find(([f, t]) => f === from && t === to)?.[2] ?? null;
}

export type CrmChange =
  | {
      kind: 'created';
      type: ObjectType;
      id: string;
      properties: Record<string, string>;
      source: ChangeSource;
    }
  | { kind: 'updated'; type: ObjectType; id: string; changed: Record<string, string>; source: ChangeSource }
  | { kind: 'deleted'; type: ObjectType; id: string; privacy: boolean; source: ChangeSource }
  | { kind: 'merged'; primaryId: string; mergedId: string; moved: number; source: ChangeSource };

export interface AssociationInput {
  to: { id: string };
  types: { associationCategory?: string; associationTypeId: number }[];
}

export interface CrmOptions {
  now: () => number;
  /** Where events are written (the emulator's ledger, stamped with the portal). */
  ledger: { record(event: HubSpotEvent): unknown };
  uniqueTypes: ReadonlySet<ObjectType>;
  phoneDefaults: PhoneDefaults;
  searchIndexLagMs: number;
  onChange: (change: CrmChange) => void;
}

const ID_BASE: Record<ObjectType, number> = {
  contacts: 100_000,
  companies: 200_000,
  deals: 300_000,
  tickets: 400_000,
  communications: 500_000,
};

const CREATED_PROPERTY: Record<ObjectType, [created: string, modified: string]> = {
  contacts: ['createdate', 'lastmodifieddate'],
  companies: ['createdate', 'hs_lastmodifieddate'],
  deals: ['createdate', 'hs_lastmodifieddate'],
  tickets: ['createdate', 'hs_lastmodifieddate'],
  communications: ['hs_createdate', 'hs_lastmodifieddate'],
};

export class Crm {
  readonly objects = new Map<ObjectType, Map<string, CrmObject>>();
  readonly properties = new Map<ObjectType, Map<string, PropertyDef>>();
  readonly groups = new Map<ObjectType, Map<string, PropertyGroup>>();
  searchIndexLagMs: number;
  readonly #o: CrmOptions;
  readonly #unique = new Map<string, string>();
  /** `type:id` → `toType:toId` → association type ids. */
  readonly #associations = new Map<string, Map<string, Set<number>>>();
  readonly #nextId = new Map<ObjectType, number>();

  constructor(options: CrmOptions) {
    this.#o = options;
    this.searchIndexLagMs = options.searchIndexLagMs;
    const now = options.now();
    for (const type of Object.keys(ID_BASE) as ObjectType[]) {
      const { group, properties } = builtInProperties(type, now);
      this.groups.set(type, new Map([[group.name, group]]));
      this.properties.set(type, new Map(properties.map((p) => [p.name, p])));
      this.objects.set(type, new Map());
      this.#nextId.set(type, ID_BASE[type]);
    }
  }

  // --- Properties --------------------------------------------------------------------------------

  property(type: ObjectType, name: string): PropertyDef | undefined {
    return this.properties.get(type)?.get(name);
  }

  createGroup(
    type: ObjectType,
    input: { name: string; label: string; displayOrder?: number },
  ): PropertyGroup {
    const groups = this.groups.get(type) as Map<string, PropertyGroup>;
    if (!/^[a-z0-9_]+$/.test(input.name ?? '')) {
      throw hubspotErrors.validation(`Invalid group name: ${input.name}`);
    }
    if (groups.has(input.name)) {
      throw hubspotErrors.conflict(`A property group named '${input.name}' already exists.`);
    }
    const group = {
      name: input.name,
      label: input.label,
      displayOrder: input.displayOrder ?? -1,
      archived: false,
    };
    groups.set(group.name, group);
    this.#o.ledger.record({ platform: 'hubspot', kind: 'group.created', objectType: type, name: group.name });
    return group;
  }

  createProperty(
    type: ObjectType,
    input: {
      name: string;
      label: string;
      type: string;
      fieldType: string;
      groupName: string;
      description?: string;
      options?: Partial<PropertyOption>[];
      hasUniqueValue?: boolean;
      displayOrder?: number;
    },
  ): PropertyDef {
    const defs = this.properties.get(type) as Map<string, PropertyDef>;
    const errors: ErrorDetail[] = [];
    if (!/^[a-z][a-z0-9_]*$/.test(input.name ?? ''))
      errors.push({ message: `Invalid property name: ${input.name}` });
    if (!['string', 'number', 'datetime', 'date', 'enumeration', 'bool'].includes(input.type)) {
      errors.push({ message: `Invalid property type: ${input.type}` });
    }
    if (!this.groups.get(type)?.has(input.groupName)) {
      errors.push({ message: `Property group '${input.groupName}' does not exist.` });
    }
    if (
      input.type === 'enumeration' &&
      (input.options ?? []).length === 0 &&
      input.fieldType !== 'checkbox'
    ) {
      errors.push({ message: 'Enumeration properties need options.' });
    }
    if (input.hasUniqueValue && !this.#o.uniqueTypes.has(type)) {
      errors.push({ message: `Unique value properties are not supported on ${type}.` });
    }
    if (input.hasUniqueValue && input.type !== 'string' && input.type !== 'number') {
      errors.push({ message: 'Only text and number properties can require unique values.' });
    }
    if (errors.length > 0) {
      throw hubspotErrors.validation(
        `Property '${input.name}' is invalid: ${errors.map((e) => e.message).join(' ')}`,
        errors,
      );
    }
    if (defs.has(input.name)) {
      throw hubspotErrors.conflict(`Property named '${input.name}' already exists.`, { name: [input.name] });
    }
    const now = this.#o.now();
    const def: PropertyDef = {
      name: input.name,
      label: input.label,
      type: input.type as PropertyDef['type'],
      fieldType: input.fieldType,
      groupName: input.groupName,
      description: input.description ?? '',
      options: (input.options ?? []).map((o, i) => ({
        label: o.label ?? String(o.value),
        value: String(o.value),
        displayOrder: o.displayOrder ?? i,
        hidden: o.hidden ?? false,
        ...(o.description ? { description: o.description } : {}),
      })),
      hasUniqueValue: input.hasUniqueValue ?? false,
      readOnlyValue: false,
      hubspotDefined: false,
      displayOrder: input.displayOrder ?? -1,
      createdAt: now,
      updatedAt: now,
    };
    defs.set(def.name, def);
    this.#o.ledger.record({
      platform: 'hubspot',
      kind: 'property.created',
      objectType: type,
      name: def.name,
      unique: def.hasUniqueValue,
    });
    return def;
  }

  // --- Objects -----------------------------------------------------------------------------------

  /** The live object an id stands for (following merges), or undefined. */
  get(type: ObjectType, id: string): CrmObject | undefined {
    let object = this.objects.get(type)?.get(id);
    for (let hops = 0; object?.mergedInto && hops < 10; hops++) {
      object = this.objects.get(type)?.get(object.mergedInto);
    }
    return object && !object.archived ? object : undefined;
  }

  /** An object by id or by a unique property (`idProperty`), live only. */
  find(type: ObjectType, id: string, idProperty?: string): CrmObject | undefined {
    if (!idProperty || idProperty === 'hs_object_id') return this.get(type, id);
    const owner = this.#unique.get(uniqueKey(type, idProperty, id));
    return owner ? this.get(type, owner) : undefined;
  }

  /** An archived (not merged) object, for `archived=true` reads. */
  archived(type: ObjectType, id: string): CrmObject | undefined {
    const object = this.objects.get(type)?.get(id);
    return object?.archived && !object.mergedInto ? object : undefined;
  }

  list(type: ObjectType): CrmObject[] {
    return [...(this.objects.get(type)?.values() ?? [])].filter((o) => !o.archived);
  }

  /** Validates properties for a write; returns the normalised values or throws a 400. */
  validate(
    type: ObjectType,
    properties: Record<string, unknown> | undefined,
    self: CrmObject | null,
  ): Record<string, string> {
    const out: Record<string, string> = {};
    const errors: ErrorDetail[] = [];
    for (const [name, raw] of Object.entries(properties ?? {})) {
      const def = this.property(type, name);
      if (!def) {
        errors.push({
          message: `Property "${name}" does not exist`,
          code: 'PROPERTY_DOESNT_EXIST',
          context: { propertyName: [name] },
        });
        continue;
      }
      if (def.readOnlyValue) {
        errors.push({
          message: `"${name}" is a read only property; its value cannot be set.`,
          code: 'READ_ONLY_VALUE',
          context: { propertyName: [name] },
        });
        continue;
      }
      const result = normaliseValue(def, raw);
      if ('error' in result) errors.push(result.error);
      else out[name] = result.value;
    }
    if (errors.length > 0) {
      throw hubspotErrors.validation(
        `Property values were not valid: ${JSON.stringify(errors.map((e) => ({ isValid: false, message: e.message, error: e.code, name: e.context?.propertyName?.[0] })))}`,
        errors,
      );
    }
    this.#checkUnique(type, out, self);
    return out;
  }

  #checkUnique(type: ObjectType, properties: Record<string, string>, self: CrmObject | null): void {
    for (const [name, value] of Object.entries(properties)) {
      if (value === '' || !this.property(type, name)?.hasUniqueValue) continue;
      const owner = this.#unique.get(uniqueKey(type, name, value));
      if (owner !== undefined && owner !== self?.id) {
        throw hubspotErrors.conflict(
          `A ${singular(type)} with ${name}=${value} already exists. Existing ID: ${owner}`,
          { propertyName: [name], existingObjectId: [owner] },
        );
      }
    }
  }

  /** Checks associations of a new object; returns them resolved (merged ids followed). */
  validateAssociations(
    type: ObjectType,
    associations: readonly AssociationInput[] | undefined,
  ): { toType: ObjectType; toId: string; typeId: number }[] {
    const resolved: { toType: ObjectType; toId: string; typeId: number }[] = [];
    for (const association of associations ?? []) {
      for (const spec of association.types ?? []) {
        const kind = associationType(type, Number(spec.associationTypeId));
        if (!kind) {
          throw hubspotErrors.validation(`Unknown association type ${spec.associationTypeId} from ${type}`, [
            {
              message: `invalid associationTypeId ${spec.associationTypeId}`,
              code: 'INVALID_ASSOCIATION_TYPE',
            },
          ]);
        }
        const target = this.get(kind.to, String(association.to?.id));
        if (!target) {
          throw hubspotErrors.validation(
            'One or more associations are invalid',
            [
              {
                message: `No ${kind.to} with id ${association.to?.id}`,
                code: 'INVALID_ASSOCIATION',
                context: { toObjectId: [String(association.to?.id)] },
              },
            ],
            { toObjectId: [String(association.to?.id)] },
          );
        }
        resolved.push({ toType: kind.to, toId: target.id, typeId: Number(spec.associationTypeId) });
      }
    }
    return resolved;
  }

  create(
    type: ObjectType,
    properties: Record<string, string>,
    source: ChangeSource,
    associations: { toType: ObjectType; toId: string; typeId: number }[] = [],
  ): CrmObject {
    const now = this.#o.now();
    const next = (this.#nextId.get(type) ?? 0) + 1;
    this.#nextId.set(type, next);
    const id = String(next);
    const [created, modified] = CREATED_PROPERTY[type];
    const stored: Record<string, string> = {
      ...Object.fromEntries(Object.entries(properties).filter(([, v]) => v !== '')),
      hs_object_id: id,
      [created]: new Date(now).toISOString(),
      [modified]: new Date(now).toISOString(),
    };
    const object: CrmObject = {
      id,
      type,
      properties: stored,
      createdAt: now,
      updatedAt: now,
      archived: false,
      archivedAt: null,
      mergedInto: null,
      indexed: [],
    };
    this.#calculate(object);
    this.#index(object, {}, object.properties);
    this.objects.get(type)?.set(id, object);
    this.#snapshot(object);
    this.#o.ledger.record({
      platform: 'hubspot',
      kind: 'object.created',
      objectType: type,
      id,
      properties: { ...object.properties },
      source,
    });
    for (const a of associations) this.associate(type, id, a.toType, a.toId, a.typeId);
    this.#o.onChange({ kind: 'created', type, id, properties: { ...object.properties }, source });
    return object;
  }

  update(object: CrmObject, properties: Record<string, string>, source: ChangeSource): CrmObject {
    const before = { ...object.properties };
    const changed: Record<string, string> = {};
    for (const [name, value] of Object.entries(properties)) {
      if ((object.properties[name] ?? '') === value) continue;
      changed[name] = value;
      if (value === '') delete object.properties[name];
      else object.properties[name] = value;
    }
    this.#calculate(object, changed);
    if (Object.keys(changed).length === 0) return object;
    const now = this.#o.now();
    object.updatedAt = now;
    object.properties[CREATED_PROPERTY[object.type][1]] = new Date(now).toISOString();
    this.#index(object, before, object.properties);
    this.#snapshot(object);
    this.#o.ledger.record({
      platform: 'hubspot',
      kind: 'object.updated',
      objectType: object.type,
      id: object.id,
      changed,
      source,
    });
    this.#o.onChange({ kind: 'updated', type: object.type, id: object.id, changed, source });
    return object;
  }

  archive(object: CrmObject, source: ChangeSource): void {
    if (object.archived) return;
    object.archived = true;
    object.archivedAt = this.#o.now();
    this.#index(object, object.properties, {});
    this.#o.ledger.record({
      platform: 'hubspot',
      kind: 'object.archived',
      objectType: object.type,
      id: object.id,
      source,
    });
  }

  /** Deletes a contact (a user in the UI, or a GDPR privacy deletion that also drops its values). */
  deleteContact(id: string, privacy: boolean, source: ChangeSource): void {
    const contact = this.get('contacts', id);
    if (!contact) throw hubspotErrors.notFound(`No contact with id ${id}`);
    this.archive(contact, source);
    if (privacy) {
      contact.properties = { hs_object_id: contact.id };
      contact.indexed = [];
    }
    this.#o.ledger.record({ platform: 'hubspot', kind: 'contact.deleted', id: contact.id, privacy });
    this.#o.onChange({ kind: 'deleted', type: 'contacts', id: contact.id, privacy, source });
  }

  /** Merges `mergedId` into `primaryId`: the primary keeps its values and fills its gaps. */
  mergeContacts(primaryId: string, mergedId: string, source: ChangeSource): CrmObject {
    const primary = this.get('contacts', primaryId);
    const merged = this.get('contacts', mergedId);
    if (!primary || !merged) throw hubspotErrors.notFound('Both contacts must exist to be merged');
    if (primary.id === merged.id) throw hubspotErrors.validation('A contact cannot be merged into itself');
    const moved: Record<string, string> = {};
    for (const [name, value] of Object.entries(merged.properties)) {
      const def = this.property('contacts', name);
      if (!def || def.readOnlyValue || def.hasUniqueValue) continue;
      if ((primary.properties[name] ?? '') === '' && value !== '') moved[name] = value;
    }
    this.archive(merged, source);
    merged.mergedInto = primary.id;
    const ids = [primary.properties.hs_merged_object_ids, merged.id].filter(Boolean).join(';');
    primary.properties.hs_merged_object_ids = ids;
    for (const [key, types] of this.#associations.get(`contacts:${merged.id}`) ?? []) {
      const [toType, toId] = key.split(':') as [ObjectType, string];
      for (const typeId of types) this.associate('contacts', primary.id, toType, toId, typeId);
    }
    if (Object.keys(moved).length > 0) this.update(primary, moved, source);
    this.#o.ledger.record({
      platform: 'hubspot',
      kind: 'contact.merged',
      primaryId: primary.id,
      mergedId: merged.id,
    });
    this.#o.onChange({
      kind: 'merged',
      primaryId: primary.id,
      mergedId: merged.id,
      moved: Object.keys(moved).length,
      source,
    });
    return primary;
  }

  // --- Associations ------------------------------------------------------------------------------

  associate(fromType: ObjectType, fromId: string, toType: ObjectType, toId: string, typeId: number): void {
    const kind = associationType(fromType, typeId);
    const add = (aType: ObjectType, aId: string, bType: ObjectType, bId: string, id: number): boolean => {
      const key = `${aType}:${aId}`;
      const targets = this.#associations.get(key) ?? new Map<string, Set<number>>();
      this.#associations.set(key, targets);
      const types = targets.get(`${bType}:${bId}`) ?? new Set<number>();
      targets.set(`${bType}:${bId}`, types);
      const fresh = !types.has(id);
      types.add(id);
      return fresh;
    };
    const fresh = add(fromType, fromId, toType, toId, typeId);
    if (kind) add(toType, toId, fromType, fromId, kind.inverse);
    if (fresh) {
      this.#o.ledger.record({
        platform: 'hubspot',
        kind: 'association.created',
        fromType,
        fromId,
        toType,
        toId,
        typeId,
      });
    }
  }

  /** Live objects of `toType` associated with an object, with the association type ids. */
  associations(
    fromType: ObjectType,
    fromId: string,
    toType: ObjectType,
  ): { id: string; typeIds: number[] }[] {
    const from = this.get(fromType, fromId);
    if (!from) return [];
    const keys = new Set([`${fromType}:${from.id}`]);
    for (const id of (from.properties.hs_merged_object_ids ?? '').split(';').filter(Boolean)) {
      keys.add(`${fromType}:${id}`);
    }
    const out = new Map<string, Set<number>>();
    for (const key of keys) {
      for (const [target, types] of this.#associations.get(key) ?? []) {
        const [type, id] = target.split(':') as [ObjectType, string];
        if (type !== toType) continue;
        const live = this.get(type, id);
        if (!live) continue;
        const acc = out.get(live.id) ?? new Set<number>();
        for (const t of types) acc.add(t);
        out.set(live.id, acc);
      }
    }
    return [...out].map(([id, types]) => ({ id, typeIds: [...types] }));
  }

  // --- Search view -------------------------------------------------------------------------------

  /** The properties search sees for an object now (null when not yet indexed or gone). */
  searchable(object: CrmObject): Record<string, string> | null {
    const horizon = this.#o.now() - this.searchIndexLagMs;
    let view: Record<string, string> | null = null;
    for (const snapshot of object.indexed) if (snapshot.at <= horizon) view = snapshot.properties;
    return view;
  }

  #snapshot(object: CrmObject): void {
    object.indexed.push({ at: this.#o.now(), properties: { ...object.properties } });
    // Only the newest snapshot older than the lag matters; keep a few for lagging readers.
    if (object.indexed.length > 8) object.indexed.splice(0, object.indexed.length - 8);
  }

  #calculate(object: CrmObject, changed: Record<string, string> = {}): void {
    if (object.type !== 'contacts') return;
    const pairs = [
      ['phone', 'hs_searchable_calculated_phone_number'],
      ['mobilephone', 'hs_searchable_calculated_mobile_number'],
    ] as const;
    for (const [source, target] of pairs) {
      const value = searchablePhone(object.properties[source], this.#o.phoneDefaults);
      if (value) object.properties[target] = value;
      else delete object.properties[target];
      if (source in changed) changed[target] = value ?? '';
    }
  }

  #index(object: CrmObject, before: Record<string, string>, after: Record<string, string>): void {
    for (const [name, value] of Object.entries(before)) {
      if (!this.property(object.type, name)?.hasUniqueValue) continue;
      const key = uniqueKey(object.type, name, value);
      if (this.#unique.get(key) === object.id && after[name] !== value) this.#unique.delete(key);
    }
    for (const [name, value] of Object.entries(after)) {
      if (value === '' || !this.property(object.type, name)?.hasUniqueValue) continue;
      this.#unique.set(uniqueKey(object.type, name, value), object.id);
    }
  }
}

function uniqueKey(type: ObjectType, name: string, value: string): string {
  return `${type}\u0000${name}\u0000${value}`;
}

export function singular(type: ObjectType): string {
  return type.endsWith('ies') ? `${type.slice(0, -3)}y` : type.slice(0, -1);
}
