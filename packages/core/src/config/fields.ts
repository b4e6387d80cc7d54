import { z } from 'zod';

/**
 * Field schemas for connector settings that a person pastes: tokens, secrets and platform ids.
 * They catch at `connector enable` what would otherwise fail at the first delivery, far from the
 * mistake: a documentation placeholder (`xoxb-…`: the "…" cannot travel in an HTTP header, and
 * fetch fails with "Cannot convert argument to a ByteString"), a stray space or line break from a
 * copy, a token of the wrong kind. Each message says what is wrong without echoing the secret.
 */

/** The first character outside printable ASCII (line breaks allowed when `multiline`), if any. */
export function firstNonAscii(value: string, multiline = false): { char: string; index: number } | null {
  for (let index = 0; index < value.length; index++) {
    const code = value.charCodeAt(index);
    const allowed =
      (code >= 0x20 && code <= 0x7e) || (multiline && (code === 0x0a || code === 0x0d || code === 0x09));
    if (!allowed) {
      const char = String.fromCodePoint(value.codePointAt(index) ?? code);
      return { char, index };
    }
  }
  return null;
}

/** "contains "…" (U+2026) at character 6" */
export function describeNonAscii(found: { char: string; index: number }): string {
  const hex = (found.char.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0');
  const shown = /\p{L}|\p{P}|\p{S}|\p{N}/u.test(found.char) ? `"${found.char}" ` : '';
  return `contains ${shown}(U+${hex}) at character ${found.index + 1}`;
}

export interface TokenFieldOptions {
  /** What the value is, for messages: `Slack bot token`. */
  what: string;
  /** Accepted prefixes (`xoxb-`); any value when absent. */
  prefixes?: readonly string[];
  /** Prefixes of look-alike values, with what to say about them (`xoxp-`: a user token …). */
  lookalikes?: Readonly<Record<string, string>>;
  /** PEM and the like: line breaks and spaces are part of the value. */
  multiline?: boolean;
}

/**
 * A secret or token: printable ASCII, no spaces or line breaks (unless `multiline`), and the
 * platform's prefix when it has one.
 *
 * @example botToken: tokenField({ what: 'Slack bot token', prefixes: ['xoxb-'] })
 */
export function tokenField(options: TokenFieldOptions) {
  return z.string().superRefine((value, ctx) => {
    const problem = tokenProblem(value, options);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });
}

function tokenProblem(value: string, options: TokenFieldOptions): string | null {
  if (value.length === 0) return 'is empty';
  const bad = firstNonAscii(value, options.multiline);
  if (bad) {
    return `${describeNonAscii(bad)}, which no ${options.what} has: paste the whole value (examples in the docs shorten it with "…")`;
  }
  if (!options.multiline && /\s/.test(value)) {
    return `contains a space: paste the ${options.what} alone, without spaces around or inside it`;
  }
  const prefixes = options.prefixes ?? [];
  if (prefixes.length > 0 && !prefixes.some((prefix) => value.startsWith(prefix))) {
    const lookalike = Object.entries(options.lookalikes ?? {}).find(([prefix]) => value.startsWith(prefix));
    const expected = prefixes.map((p) => `"${p}"`).join(' or ');
    return lookalike
      ? `starts with "${lookalike[0]}": ${lookalike[1]} (a ${options.what} starts with ${expected})`
      : `is not a ${options.what}: it should start with ${expected}`;
  }
  return null;
}

/**
 * A platform id (`T0123ABCD`, a GUID …): checked for stray characters first, so a placeholder
 * copied from the docs is named as such, then against the id's pattern.
 *
 * @example teamId: idField({ what: 'Slack team id', pattern: /^T[A-Z0-9]+$/, example: 'T0123ABCD' })
 */
export function idField(options: { what: string; pattern: RegExp; example: string }) {
  return z.string().superRefine((value, ctx) => {
    if (value.length === 0) {
      ctx.addIssue({ code: 'custom', message: 'is empty' });
      return;
    }
    const bad = firstNonAscii(value);
    if (bad) {
      ctx.addIssue({
        code: 'custom',
        message: `${describeNonAscii(bad)}: a ${options.what} is plain ASCII, like ${options.example}`,
      });
      return;
    }
    if (!options.pattern.test(value)) {
      ctx.addIssue({
        code: 'custom',
        message: `"${value}" is not a ${options.what} (like ${options.example})`,
      });
    }
  });
}

/** Entra ID and Teams ids (tenant, app registration, team) are GUIDs. */
export const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
