import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { expect } from 'vitest';
import type { Contact, Message } from '../domain/types.ts';
import type { Store } from '../store/types.ts';

/**
 * Recorded WhatsApp webhook bodies as JSON files (`tests/fixtures/whatsapp/*.json`), each with what
 * the archive must hold after it and what each mirror must show. The format is described in the
 * folder's README; this module loads the files and checks a store against them.
 */

type Json = unknown;

/** One webhook body: a JSON value (sent serialised the way Meta does) or exact raw bytes. */
export interface FixtureBody {
  body?: Json;
  raw?: string;
}

/** What a mirror shows for one message (substrings of its plain text, per target or for all). */
export interface MirrorExpectation {
  slack?: string[];
  teams?: string[];
  hubspot?: string[];
  /** Expected in every target. */
  all?: string[];
  /** Found in no target. */
  absent?: string[];
}

export interface PlatformEventCheck {
  /** Only the events of this field (all events when absent). */
  field?: string;
  count?: number;
  /** Each entry matches a different event (partially, unordered). */
  match?: Json[];
  /** Every event matches this (partially). */
  every?: Json;
  /** `[workspaceId, wabaId, entryTime]` of each event, sorted. */
  origins?: Json[];
}

export interface StoreExpectations {
  /** By wamid: the stored message matches (partially), or `null`: no such message. */
  messages?: Record<string, Json>;
  /** By wamid: the contact of the message's conversation. */
  contacts?: Record<string, Json>;
  contactsByWaId?: Record<string, Json>;
  contactsByBsuid?: Record<string, Json>;
  /** By wamid: every status stored for it, in time order. */
  statuses?: Record<string, Json[]>;
  /** Every stored `{ wamid, status }`, ordered by wamid. */
  statusRows?: Json[];
  /** By wamid: its edits and revokes, oldest first. */
  revisions?: Record<string, Json[]>;
  platformEvents?: PlatformEventCheck[];
  unrouted?: { count?: number; match?: Json[] };
  /** By WhatsApp id or BSUID: the consent ledger as `[category, state, source, occurredAt]` and the snapshot. */
  consent?: Record<string, { history?: Json[]; snapshot?: Json }>;
  /** Jobs queued per event type (one per connector it goes to, admitted or not). */
  jobs?: Record<string, number>;
  /** Conversations (merged ones excluded). */
  conversations?: number;
}

export interface WebhookFixture extends FixtureBody {
  /** The file's name without `.json`. */
  id: string;
  name: string;
  /** Where the body comes from: a page of Meta's reference, a third party, an observed delivery. */
  source: string;
  /** Bodies delivered first, in order (the message an edit changes, a customer's first message). */
  before?: FixtureBody[];
  /** Bodies delivered after, in order (the first message from a number the body announced). */
  after?: FixtureBody[];
  store?: StoreExpectations;
  /** By wamid (for an edit or revoke: the wamid of the message it changes). */
  mirror?: Record<string, MirrorExpectation>;
}

/** Loads every fixture of a folder, in file name order. */
export function loadWebhookFixtures(dir: string): WebhookFixture[] {
  return readdirSync(dir)
    .filter((name) => name.endsWith('.json'))
    .sort()
    .map((name) => {
      const fixture = JSON.parse(readFileSync(join(dir, name), 'utf8')) as Omit<WebhookFixture, 'id'>;
      if (typeof fixture.name !== 'string' || typeof fixture.source !== 'string')
        throw new Error(`${name}: a fixture needs a name and a source`);
      if ((fixture.body === undefined) === (fixture.raw === undefined))
        throw new Error(`${name}: a fixture has a body or raw bytes, not both or neither`);
      return { ...fixture, id: name.slice(0, -'.json'.length) };
    });
}

/** Serialises like Meta: non-ASCII as \uXXXX (emoji as surrogate pairs) and `/` as `\/`. */
export function metaJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/\//g, '\\/')
    .replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** The bytes to post for a body. */
export function bodyText(body: FixtureBody): string {
  return body.raw !== undefined ? body.raw : metaJson(body.body);
}

/** Every body of a fixture, in delivery order. */
export function fixtureBodies(fixture: WebhookFixture): string[] {
  return [...(fixture.before ?? []), fixture, ...(fixture.after ?? [])].map(bodyText);
}

// --- Matching --------------------------------------------------------------------------------

interface MatchContext {
  workspaceId: string;
  body: Json;
}

function asymmetric(name: string, match: (actual: unknown) => boolean, expected: unknown) {
  return {
    asymmetricMatch: match,
    toString: () => name,
    toAsymmetricMatcher: () => `${name}<${JSON.stringify(expected)}>`,
    getExpectedType: () => 'any',
  };
}

function at(value: Json, path: string): unknown {
  let node: unknown = value;
  for (const key of path.split('.')) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

/**
 * Turns the fixtures' JSON expectations into vitest matchers. Special values:
 * `"$workspace"` (the workspace's id), `{"$contains": s}`, `{"$match": regex}`,
 * `{"$startsWith": s}`, `{"$endsWith": s}`, `{"$equals": value}` (exact, where objects are
 * otherwise matched partially), `{"$length": n}`, `{"$json": s}` (the value as JSON contains s),
 * `{"$fromBody": "a.0.b"}` (equals that value of the fixture's body), `{"$absent": true}`,
 * `{"$nonEmpty": true}` (a string or array with something in it).
 */
export function expectation(value: Json, ctx: MatchContext): unknown {
  if (value === '$workspace') return ctx.workspaceId;
  if (Array.isArray(value)) return value.map((v) => expectation(v, ctx));
  if (value === null || typeof value !== 'object') return value;
  const entries = Object.entries(value as Record<string, unknown>);
  const [key, arg] = entries[0] ?? [];
  if (entries.length === 1 && key?.startsWith('$')) {
    switch (key) {
      case '$contains':
        return expect.stringContaining(String(arg));
      case '$match':
        return expect.stringMatching(new RegExp(String(arg)));
      case '$startsWith':
        return asymmetric('StartsWith', (a) => typeof a === 'string' && a.startsWith(String(arg)), arg);
      case '$endsWith':
        return asymmetric('EndsWith', (a) => typeof a === 'string' && a.endsWith(String(arg)), arg);
      case '$equals': {
        const wanted = resolvePlaceholders(arg, ctx);
        return asymmetric('Equals', (a) => isDeepStrictEqual(a, wanted), wanted);
      }
      case '$length':
        return asymmetric(
          'Length',
          (a) => (typeof a === 'string' || Array.isArray(a)) && a.length === Number(arg),
          arg,
        );
      case '$json':
        return asymmetric('JsonContaining', (a) => JSON.stringify(a).includes(String(arg)), arg);
      case '$fromBody': {
        const wanted = at(ctx.body, String(arg));
        return asymmetric('FromBody', (a) => isDeepStrictEqual(a, wanted), arg);
      }
      case '$absent':
        return asymmetric('Absent', (a) => a === undefined, true);
      case '$nonEmpty':
        return asymmetric(
          'NonEmpty',
          (a) => (typeof a === 'string' || Array.isArray(a)) && a.length > 0,
          true,
        );
      default:
        throw new Error(`unknown fixture matcher ${key}`);
    }
  }
  return Object.fromEntries(entries.map(([k, v]) => [k, expectation(v, ctx)]));
}

function resolvePlaceholders(value: unknown, ctx: MatchContext): unknown {
  if (value === '$workspace') return ctx.workspaceId;
  if (Array.isArray(value)) return value.map((v) => resolvePlaceholders(v, ctx));
  if (value !== null && typeof value === 'object')
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, resolvePlaceholders(v, ctx)]),
    );
  return value;
}

// --- Checking a store ------------------------------------------------------------------------

/** What the checks read beyond the Store interface: a few rows straight from the tables. */
export interface FixtureDb {
  all<T>(sql: string, params?: Record<string, unknown>): T[];
}

/**
 * Asserts everything a fixture says the archive holds. `db` is the SQLite connection of the
 * store (for counts the Store interface has no reason to offer). `skip` leaves checks out (the
 * queue's `jobs` once a worker has run them).
 */
export async function expectStoreMatches(
  fixture: WebhookFixture,
  store: Store,
  db: FixtureDb,
  workspaceId: string,
  options: { skip?: readonly (keyof StoreExpectations)[] } = {},
): Promise<void> {
  const expected = fixture.store ? { ...fixture.store } : undefined;
  if (!expected) return;
  for (const key of options.skip ?? []) delete expected[key];
  const ctx: MatchContext = { workspaceId, body: fixture.body ?? fixture.raw };
  const label = (what: string) => `${fixture.id}: ${what}`;
  const m = (value: Json) => expectation(value, ctx);

  for (const [wamid, want] of Object.entries(expected.messages ?? {})) {
    const found = await store.getMessageByWamid(workspaceId, wamid);
    if (want === null) expect(found, label(`no message ${wamid}`)).toBeNull();
    else expect(found, label(`message ${wamid}`)).toMatchObject(m(want) as object);
  }
  const contactOfMessage = async (wamid: string): Promise<Contact | null> => {
    const message: Message | null = await store.getMessageByWamid(workspaceId, wamid);
    const conversation = message ? await store.getConversation(workspaceId, message.conversationId) : null;
    return conversation ? store.getContact(workspaceId, conversation.contactId) : null;
  };
  for (const [wamid, want] of Object.entries(expected.contacts ?? {})) {
    expect(await contactOfMessage(wamid), label(`contact of ${wamid}`)).toMatchObject(m(want) as object);
  }
  const contactBy = async (column: 'wa_id' | 'bsuid', value: string) => {
    const [row] = db.all<{ id: string }>(`SELECT id FROM contacts WHERE ${column} = :value`, { value });
    return row ? store.getContact(workspaceId, row.id) : null;
  };
  for (const [column, list] of [
    ['wa_id', expected.contactsByWaId],
    ['bsuid', expected.contactsByBsuid],
  ] as const) {
    for (const [value, want] of Object.entries(list ?? {})) {
      const found = await contactBy(column, value);
      if (want === null) expect(found, label(`no contact ${value}`)).toBeNull();
      else expect(found, label(`contact ${value}`)).toMatchObject(m(want) as object);
    }
  }
  for (const [wamid, want] of Object.entries(expected.statuses ?? {})) {
    const ids = db.all<{ id: string }>(
      'SELECT id FROM message_statuses WHERE wamid = :wamid ORDER BY ts, status',
      {
        wamid,
      },
    );
    const found = await Promise.all(ids.map(({ id }) => store.getStatus(workspaceId, id)));
    expect(found, label(`statuses of ${wamid}`)).toMatchObject(m(want) as object[]);
  }
  if (expected.statusRows) {
    expect(
      db.all('SELECT wamid, status FROM message_statuses ORDER BY wamid, status'),
      label('statuses'),
    ).toEqual(m(expected.statusRows));
  }
  for (const [wamid, want] of Object.entries(expected.revisions ?? {})) {
    expect(await store.listRevisions(workspaceId, wamid), label(`revisions of ${wamid}`)).toMatchObject(
      m(want) as object[],
    );
  }
  for (const check of expected.platformEvents ?? []) {
    // Through the store: the payloads are sealed at rest.
    const events = (
      await store.listPlatformEvents({
        ...(check.field === undefined ? {} : { field: check.field }),
        limit: 100_000,
      })
    ).map((e) => ({
      workspaceId: e.workspaceId,
      field: e.field,
      payload: e.payload,
      parseIssues: e.parseIssues,
      wabaId: e.wabaId,
      entryTime: e.entryTime,
    }));
    const what = label(`platform events${check.field ? ` of ${check.field}` : ''}`);
    if (check.count !== undefined) expect(events, what).toHaveLength(check.count);
    if (check.every !== undefined)
      for (const event of events) expect(event, what).toMatchObject(m(check.every) as object);
    if (check.match !== undefined) expectEachMatchesOne(events, check.match.map(m), what);
    if (check.origins !== undefined) {
      const origins = events.map((e) => [e.workspaceId, e.wabaId, e.entryTime]).sort();
      expect(origins, what).toEqual(m(check.origins));
    }
  }
  if (expected.unrouted) {
    const unrouted = await store.listUnrouted();
    if (expected.unrouted.count !== undefined)
      expect(unrouted, label('unrouted')).toHaveLength(expected.unrouted.count);
    expectEachMatchesOne(unrouted, (expected.unrouted.match ?? []).map(m), label('unrouted'));
  }
  for (const [id, want] of Object.entries(expected.consent ?? {})) {
    const contact = (await contactBy('wa_id', id)) ?? (await contactBy('bsuid', id));
    expect(contact, label(`contact ${id}`)).not.toBeNull();
    if (!contact) continue;
    if (want.history) {
      const history = await store.consentHistory(workspaceId, contact.id);
      expect(
        history.map((e) => [e.category, e.state, e.source, e.occurredAt]),
        label(`consent of ${id}`),
      ).toEqual(m(want.history));
    }
    if (want.snapshot) {
      expect(await store.consentSnapshot(workspaceId, contact.id), label(`consent of ${id}`)).toMatchObject(
        m(want.snapshot) as object,
      );
    }
  }
  for (const [type, count] of Object.entries(expected.jobs ?? {})) {
    const rows = db.all(
      `SELECT 1 FROM (SELECT event_type FROM jobs UNION ALL SELECT event_type FROM jobs_new, json_each(jobs_new.connectors))
       WHERE event_type = :type`,
      { type },
    );
    expect(rows, label(`${type} jobs`)).toHaveLength(count);
  }
  if (expected.conversations !== undefined) {
    expect(await store.listConversations(workspaceId), label('conversations')).toHaveLength(
      expected.conversations,
    );
  }
}

/** Each expectation matches (partially, like toMatchObject) a different one of `items`. */
function expectEachMatchesOne(items: readonly unknown[], wanted: readonly unknown[], what: string): void {
  const used = new Set<number>();
  for (const want of wanted) {
    const index = items.findIndex((item, i) => {
      if (used.has(i)) return false;
      try {
        expect(item).toMatchObject(want as object);
        return true;
      } catch {
        return false;
      }
    });
    expect(
      index,
      `${what}: one of ${JSON.stringify(items).slice(0, 2000)} matches ${JSON.stringify(want)}`,
    ).not.toBe(-1);
    used.add(index);
  }
}
