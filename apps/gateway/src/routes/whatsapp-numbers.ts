/**
 * The business numbers a webhook body is about (`entry[].changes[].value.metadata.phone_number_id`),
 * read before the store parses it properly, so the edge can check the signing app's claim on them.
 * Anything unreadable yields no ids: the store answers invalid JSON, and a body without numbers has
 * nothing to route.
 */
export function phoneNumberIdsOf(raw: Uint8Array): string[] {
  let body: unknown;
  try {
    body = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(raw));
  } catch {
    return [];
  }
  const ids = new Set<string>();
  for (const entry of arrayOf(field(body, 'entry'))) {
    for (const change of arrayOf(field(entry, 'changes'))) {
      const id = field(field(field(change, 'value'), 'metadata'), 'phone_number_id');
      if (typeof id === 'string' && id !== '') ids.add(id);
    }
  }
  return [...ids];
}

const field = (value: unknown, key: string): unknown =>
  typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[key] : undefined;

const arrayOf = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);
