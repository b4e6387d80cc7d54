import type { ExternalRef } from '@wabridge/core';

/** A Slack message: the form every ref of this connector uses, `<channel>:<ts>`. */
export interface SlackMessageRef {
  channel: string;
  ts: string;
}

export function formatRef(ref: SlackMessageRef): string {
  return `${ref.channel}:${ref.ts}`;
}

/** Parses `<channel>:<ts>`; null for anything else (pending markers, file-only refs, other connectors' ids). */
export function parseRef(externalId: string | null | undefined): SlackMessageRef | null {
  const match = /^([CGDZ][A-Z0-9]+):(\d+\.\d+)$/.exec(externalId ?? '');
  return match?.[1] && match[2] ? { channel: match[1], ts: match[2] } : null;
}

/** A stored ref that points at a real Slack message (not a pending marker). */
export function postedRef(ref: ExternalRef | null): SlackMessageRef | null {
  return ref ? parseRef(ref.externalId) : null;
}
