/**
 * CRM search (`POST /crm/v3/objects/{type}/search`) with HubSpot's rules (https://developers.hubspot.com/docs/api-reference/2026-03/crm/search-the-crm):
 * `filterGroups` are ORed, filters inside a group ANDed; at most 5 groups, 6 filters per group and
 * 18 filters in all; `limit` ≤ 200; paging with `after`; at most 10,000 results per query. Results
 * are what the search index sees (see `Crm.searchable`), not necessarily the latest write.
 *
 * Operators: EQ, NEQ, LT, LTE, GT, GTE, BETWEEN, IN, NOT_IN, HAS_PROPERTY, NOT_HAS_PROPERTY,
 * CONTAINS_TOKEN, NOT_CONTAINS_TOKEN. String comparisons ignore case, as HubSpot's do. `IN` takes at
 * most 100 values here [V?].
 */
import type { Crm, CrmObject } from './crm.ts';
import { hubspotErrors } from './errors.ts';
import type { ObjectType } from './types.ts';

export interface Filter {
  propertyName: string;
  operator: string;
  value?: string;
  highValue?: string;
  values?: string[];
}

export interface SearchRequest {
  filterGroups?: { filters?: Filter[] }[];
  properties?: string[];
  sorts?: (string | { propertyName: string; direction?: 'ASCENDING' | 'DESCENDING' })[];
  limit?: number;
  after?: string | number;
  query?: string;
}

export const MAX_IN_VALUES = 100;

export function search(
  crm: Crm,
  type: ObjectType,
  request: SearchRequest,
): { total: number; results: { object: CrmObject; view: Record<string, string> }[]; after: string | null } {
  const groups = request.filterGroups ?? [];
  const filterCount = groups.reduce((n, g) => n + (g.filters?.length ?? 0), 0);
  if (groups.length > 5) throw hubspotErrors.validation('Too many filter groups (max 5).');
  if (groups.some((g) => (g.filters?.length ?? 0) > 6)) {
    throw hubspotErrors.validation('Too many filters in a filter group (max 6).');
  }
  if (filterCount > 18) throw hubspotErrors.validation('Too many filters (max 18 across all groups).');
  const limit = request.limit ?? 10;
  if (!Number.isInteger(limit) || limit < 0 || limit > 200) {
    throw hubspotErrors.validation('limit must be between 0 and 200.');
  }
  for (const group of groups) {
    for (const filter of group.filters ?? []) {
      if (!crm.property(type, filter.propertyName)) {
        throw hubspotErrors.validation(`Property "${filter.propertyName}" does not exist on ${type}.`);
      }
      if (
        (filter.operator === 'IN' || filter.operator === 'NOT_IN') &&
        (filter.values?.length ?? 0) > MAX_IN_VALUES
      ) {
        throw hubspotErrors.validation(`Too many values for ${filter.operator} (max ${MAX_IN_VALUES}).`);
      }
    }
  }
  const matches: { object: CrmObject; view: Record<string, string> }[] = [];
  for (const object of crm.list(type)) {
    const view = crm.searchable(object);
    if (!view) continue;
    if (
      request.query &&
      !Object.values(view).some((v) => v.toLowerCase().includes(String(request.query).toLowerCase()))
    ) {
      continue;
    }
    if (groups.length === 0 || groups.some((g) => (g.filters ?? []).every((f) => matchFilter(view, f)))) {
      matches.push({ object, view });
    }
  }
  sortResults(matches, request.sorts ?? []);
  const offset = Number(request.after ?? 0);
  if (!Number.isInteger(offset) || offset < 0) throw hubspotErrors.validation('after must be a number.');
  if (offset >= 10_000) throw hubspotErrors.validation('Search can page through at most 10,000 results.');
  const page = matches.slice(offset, offset + limit);
  const next = offset + limit < Math.min(matches.length, 10_000) ? String(offset + limit) : null;
  return { total: matches.length, results: page, after: next };
}

function matchFilter(view: Record<string, string>, filter: Filter): boolean {
  const raw = view[filter.propertyName];
  const has = raw !== undefined && raw !== '';
  const value = (raw ?? '').toLowerCase();
  const want = (filter.value ?? '').toLowerCase();
  switch (filter.operator) {
    case 'HAS_PROPERTY':
      return has;
    case 'NOT_HAS_PROPERTY':
      return !has;
    case 'EQ':
      return has && value === want;
    case 'NEQ':
      return value !== want;
    case 'IN':
      return has && (filter.values ?? []).some((v) => v.toLowerCase() === value);
    case 'NOT_IN':
      return !(filter.values ?? []).some((v) => v.toLowerCase() === value);
    case 'LT':
    case 'LTE':
    case 'GT':
    case 'GTE':
    case 'BETWEEN':
      return has && compare(raw ?? '', filter);
    case 'CONTAINS_TOKEN':
      return has && tokenMatch(value, want);
    case 'NOT_CONTAINS_TOKEN':
      return !tokenMatch(value, want);
    default:
      throw hubspotErrors.validation(`Unknown operator ${filter.operator}.`);
  }
}

function numeric(value: string): number {
  if (/^-?\d+(\.\d+)?$/.test(value)) return Number(value);
  const date = Date.parse(value);
  return Number.isFinite(date) ? date : Number.NaN;
}

function compare(raw: string, filter: Filter): boolean {
  const a = numeric(raw);
  const b = numeric(filter.value ?? '');
  switch (filter.operator) {
    case 'LT':
      return a < b;
    case 'LTE':
      return a <= b;
    case 'GT':
      return a > b;
    case 'GTE':
      return a >= b;
    default:
      return a >= b && a <= numeric(filter.highValue ?? '');
  }
}

/** A token is a run of letters and digits; `*` at either end of the wanted token is a wildcard. */
function tokenMatch(value: string, want: string): boolean {
  const tokens = value.split(/[^\p{L}\p{N}]+/u).filter(Boolean);
  const core = want.replace(/^\*|\*$/g, '');
  if (core === '') return tokens.length > 0;
  return tokens.some((t) =>
    want.startsWith('*') && want.endsWith('*')
      ? t.includes(core)
      : want.startsWith('*')
        ? t.endsWith(core)
        : want.endsWith('*')
          ? t.startsWith(core)
          : t === core,
  );
}

function sortResults(
  matches: { object: CrmObject; view: Record<string, string> }[],
  sorts: NonNullable<SearchRequest['sorts']>,
): void {
  const keys = sorts.map((s) =>
    typeof s === 'string'
      ? { name: s.replace(/^-/, ''), desc: s.startsWith('-') }
      : { name: s.propertyName, desc: s.direction === 'DESCENDING' },
  );
  matches.sort((x, y) => {
    for (const key of keys) {
      const a = x.view[key.name] ?? '';
      const b = y.view[key.name] ?? '';
      const na = numeric(a);
      const nb = numeric(b);
      const order = Number.isFinite(na) && Number.isFinite(nb) ? na - nb : a.localeCompare(b);
      if (order !== 0) return key.desc ? -order : order;
    }
    return Number(x.object.id) - Number(y.object.id);
  });
}
