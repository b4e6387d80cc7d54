import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  groupsValueSchema,
  inboundMessageSchema,
  isKnownMessage,
  KNOWN_MESSAGE_TYPES,
  parseWebhookPayload,
  statusUpdateSchema,
} from './schema.ts';

// Meta's OpenAPI spec, vendored by the sandbox package. Every example it gives for the webhook
// endpoint must parse, be recognised as its documented type, and come back unchanged.
const SPEC_URL = new URL('../../sandbox/vendor/meta/business-messaging-api_v23.0.yaml', import.meta.url);
const WEBHOOK_PATH = '/whatsapp/webhooks';

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

interface Example {
  name: string;
  value: unknown;
}

const spec: Json = parse(readFileSync(SPEC_URL, 'utf8'));

function resolveRef(ref: string): unknown {
  if (!ref.startsWith('#/')) throw new Error(`external $ref not supported: ${ref}`);
  let node: unknown = spec;
  for (const segment of ref.slice(2).split('/')) {
    node = isObject(node) ? node[segment.replaceAll('~1', '/').replaceAll('~0', '~')] : undefined;
  }
  return node;
}

/**
 * Collects every example under the webhook path: named `examples` of each request-body media type,
 * and every object-valued `example` keyword reachable from there through `$ref`s (message-level
 * examples live on the component schemas). Scalar `example`s describe single fields and are skipped.
 */
function collectWebhookExamples(): Example[] {
  const found: Example[] = [];
  const seenRefs = new Set<string>();
  const visit = (node: unknown, where: string, propertyMap = false): void => {
    if (Array.isArray(node)) {
      for (const [i, item] of node.entries()) visit(item, `${where}[${i}]`);
      return;
    }
    if (!isObject(node)) return;
    for (const [key, child] of Object.entries(node)) {
      // Inside `properties`, keys are field names, not keywords.
      if (propertyMap) {
        visit(child, `${where}.${key}`);
        continue;
      }
      if (key === '$ref' && typeof child === 'string') {
        if (seenRefs.has(child)) continue;
        seenRefs.add(child);
        visit(resolveRef(child), child);
      } else if (key === 'example') {
        if (isObject(child) || Array.isArray(child)) found.push({ name: `${where} (example)`, value: child });
      } else if (key === 'examples' && isObject(child)) {
        for (const [name, example] of Object.entries(child)) {
          const value = isObject(example) && '$ref' in example ? resolveRef(String(example.$ref)) : example;
          if (isObject(value) && 'value' in value) found.push({ name, value: value.value });
        }
      } else if (key === 'properties') {
        visit(child, where, true);
      } else {
        visit(child, where);
      }
    }
  };
  const paths = spec.paths;
  if (!isObject(paths) || !isObject(paths[WEBHOOK_PATH]))
    throw new Error(`${WEBHOOK_PATH} missing from the spec`);
  visit(paths[WEBHOOK_PATH], WEBHOOK_PATH);
  return found;
}

const examples = collectWebhookExamples();
const payloadExamples = examples.filter((e) => isObject(e.value) && Array.isArray(e.value.entry));
const messageExamples = examples.filter(
  (e) => isObject(e.value) && typeof e.value.type === 'string' && 'id' in e.value && 'timestamp' in e.value,
);
const GROUP_FIELDS = new Set([
  'group_lifecycle_update',
  'group_settings_update',
  'group_participant_update',
  'group_participants_update',
]);

/** Adds an unknown key to every object, as a future Meta release might. */
function withUnknownKeys(value: unknown, depth = 0): unknown {
  if (Array.isArray(value)) return value.map((item) => withUnknownKeys(item, depth + 1));
  if (!isObject(value)) return value;
  const copy: Json = {};
  for (const [key, child] of Object.entries(value)) copy[key] = withUnknownKeys(child, depth + 1);
  copy.x_future_field = { depth, list: [1, 'two'] };
  return copy;
}

function rawChanges(payload: unknown): Array<{ field: string; value: unknown }> {
  const out: Array<{ field: string; value: unknown }> = [];
  if (!isObject(payload) || !Array.isArray(payload.entry)) return out;
  for (const entry of payload.entry) {
    if (!isObject(entry) || !Array.isArray(entry.changes)) continue;
    for (const change of entry.changes)
      if (isObject(change)) out.push(change as { field: string; value: unknown });
  }
  return out;
}

describe(`Meta's vendored OpenAPI examples for ${WEBHOOK_PATH}`, () => {
  it(`the spec yields many examples (${examples.length}: ${payloadExamples.length} payloads, ${messageExamples.length} messages)`, () => {
    expect(payloadExamples.length).toBeGreaterThanOrEqual(16);
    expect(messageExamples.length).toBeGreaterThanOrEqual(6);
    // Every object example is one of the two kinds, so none is silently skipped.
    expect(payloadExamples.length + messageExamples.length).toBe(examples.length);
  });

  describe.each(payloadExamples)('payload example "$name"', ({ value }) => {
    it('parses, and every message and status is recognised as its documented type', () => {
      const result = parseWebhookPayload(value);
      if (!result.ok) throw new Error(`rejected: ${result.issues.join('; ')}`);
      const raw = rawChanges(value);
      expect(result.changes).toHaveLength(raw.length);

      result.changes.forEach((change, i) => {
        const source = raw[i];
        expect(change.field).toBe(source?.field);
        if (change.kind === 'other') {
          // The bridge does not route groups, but their values must still match the spec's schema.
          expect(GROUP_FIELDS.has(change.field), `unexpected "other" change ${change.field}`).toBe(true);
          expect(change.parseIssues).toBeUndefined();
          expect(groupsValueSchema.safeParse(change.value).success).toBe(true);
          return;
        }
        expect(change.kind).toBe(source?.field);
        if (change.kind !== 'messages') return;
        const rawValue = source?.value as Json;
        const rawMessages = (rawValue.messages ?? []) as Json[];
        const messages = change.value.messages ?? [];
        expect(messages).toHaveLength(rawMessages.length);
        messages.forEach((message, j) => {
          expect(isKnownMessage(message), `message ${message.type} fell back to unknown`).toBe(true);
          expect(KNOWN_MESSAGE_TYPES.has(message.type)).toBe(true);
          expect(message.type).toBe(rawMessages[j]?.type);
        });
        for (const status of change.value.statuses ?? []) {
          expect(['sent', 'delivered', 'read', 'failed', 'played']).toContain(status.status);
        }
      });
    });

    it('round-trips: the parsed value deep-equals the raw value, unknown keys included', () => {
      const extended = withUnknownKeys(value);
      const result = parseWebhookPayload(extended);
      if (!result.ok) throw new Error(`rejected: ${result.issues.join('; ')}`);
      expect(result.payload.x_future_field).toEqual({ depth: 0, list: [1, 'two'] });
      expect(result.payload.entry[0]?.x_future_field).toBeDefined();
      const raw = rawChanges(extended);
      result.changes.forEach((change, i) => {
        expect(change.value).toEqual(raw[i]?.value);
      });
      // Without injected keys too: parsing changes nothing Meta sent.
      const plain = parseWebhookPayload(value);
      if (!plain.ok) throw new Error('rejected');
      plain.changes.forEach((change, i) => {
        expect(change.value).toEqual(rawChanges(value)[i]?.value);
      });
    });
  });

  describe.each(messageExamples)('message example "$name"', ({ value }) => {
    it('parses as its documented type and round-trips', () => {
      const parsed = inboundMessageSchema.parse(value);
      expect(isKnownMessage(parsed)).toBe(true);
      expect(parsed.type).toBe((value as Json).type);
      expect(parsed).toEqual(value);
      expect(inboundMessageSchema.parse(withUnknownKeys(value))).toEqual(withUnknownKeys(value));
    });
  });

  it('the status schema accepts every status value the spec enumerates', () => {
    const statuses = resolveRef('#/components/schemas/Statuses') as Json;
    const statusEnum = ((statuses.properties as Json).status as Json).enum as string[];
    expect(statusEnum.length).toBeGreaterThan(0);
    for (const status of statusEnum) {
      const parsed = statusUpdateSchema.parse({
        id: 'wamid.X',
        status,
        timestamp: '1750000000',
        recipient_id: '1',
      });
      expect(parsed.status).toBe(status);
    }
  });
});
