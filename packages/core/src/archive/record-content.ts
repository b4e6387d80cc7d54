import { contentHash } from '../store/sqlite/archive.ts';

// A record's content as an export or a proof carries it (issue 18, items 2, 3 and 7). A record
// commits to its content by `content_hash = SHA-256(salt || content)`; the content itself is kept
// sealed apart and can be purged. So an export carries, beside each record's bytes, the opened
// content and its salt, and a verifier recomputes the hash: changing the content, the salt or the
// commitment is caught with nothing but the export. A purged record carries neither (`purged`).

/** The content fields of a records.jsonl line or an inclusion proof document. */
export interface CarriedContent {
  /** The content's canonical JSON, exactly the bytes after the salt (UTF-8). */
  readonly content?: string;
  /** The record's salt, hex. */
  readonly salt?: string;
  /** The record's content was purged: it commits to content the export cannot carry. */
  readonly purged?: true;
}

/** The fields to carry for a record: its opened content, or `purged` when it has none left. */
export function carriedContent(
  committed: boolean,
  opened: { salt: Uint8Array; content: string } | undefined,
): CarriedContent {
  if (!committed) return {};
  if (!opened) return { purged: true };
  return { content: opened.content, salt: Buffer.from(opened.salt).toString('hex') };
}

export type ContentVerdict =
  /** The record has no content, or its carried content is the content it commits to. */
  | { ok: true; state: 'none' }
  | { ok: true; state: 'present'; content: unknown }
  /** It commits to content the carrier does not hold: purged (or left out); the caller decides. */
  | { ok: true; state: 'absent' }
  | { ok: false; reason: string };

/** Checks carried content against the commitment in a record's (already proved) bytes. */
export function checkCarriedContent(
  record: Record<string, unknown>,
  carried: CarriedContent,
): ContentVerdict {
  const committed = record.content_hash;
  const given = carried.content !== undefined || carried.salt !== undefined;
  if (committed === undefined) {
    return given
      ? { ok: false, reason: 'it carries content, yet its record commits to none' }
      : { ok: true, state: 'none' };
  }
  if (typeof committed !== 'string') return { ok: false, reason: 'its record has a malformed content_hash' };
  if (!given) return { ok: true, state: 'absent' };
  if (
    typeof carried.content !== 'string' ||
    typeof carried.salt !== 'string' ||
    !/^([0-9a-f]{2})+$/.test(carried.salt)
  ) {
    return { ok: false, reason: 'its content or salt is malformed' };
  }
  const bytes = Buffer.concat([Buffer.from(carried.salt, 'hex'), Buffer.from(carried.content, 'utf8')]);
  if (contentHash(bytes) !== committed) {
    return { ok: false, reason: 'its content is not the content its record commits to' };
  }
  try {
    return { ok: true, state: 'present', content: JSON.parse(carried.content) as unknown };
  } catch {
    return { ok: false, reason: 'its content is not JSON' };
  }
}

/**
 * What an export shows for a record: its clear data with its opened content's members beside it
 * (a message's `text` and `content`, a status's `raw`). The record's data never holds those
 * names, so the two cannot shadow each other; a member of both would be shown as the record's.
 */
export function shownData(data: unknown, content: unknown): Record<string, unknown> {
  const clear = data && typeof data === 'object' ? (data as Record<string, unknown>) : {};
  const opened = content && typeof content === 'object' ? (content as Record<string, unknown>) : {};
  return { ...opened, ...clear };
}
