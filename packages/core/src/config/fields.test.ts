import { describe, expect, it } from 'vitest';
import { idField, tokenField } from './fields.ts';

const message = (result: { success: boolean; error?: { issues: { message: string }[] } }) =>
  result.error?.issues[0]?.message;

describe('tokenField', () => {
  const botToken = tokenField({
    what: 'Slack bot token',
    prefixes: ['xoxb-'],
    lookalikes: { 'xoxp-': 'that is a user token' },
  });

  it('refuses the docs placeholder "xoxb-…" by naming the character, without echoing the value', () => {
    const text = message(botToken.safeParse('xoxb-…'));
    expect(text).toBe(
      'contains "…" (U+2026) at character 6, which no Slack bot token has: paste the whole value (examples in the docs shorten it with "…")',
    );
  });

  it('refuses spaces, a token of the wrong kind, and an empty value', () => {
    expect(message(botToken.safeParse('xoxb-1 2'))).toMatch(/^contains a space/);
    expect(message(botToken.safeParse('xoxp-123'))).toBe(
      'starts with "xoxp-": that is a user token (a Slack bot token starts with "xoxb-")',
    );
    expect(message(botToken.safeParse('secret-abc'))).toBe(
      'is not a Slack bot token: it should start with "xoxb-"',
    );
    expect(message(botToken.safeParse(''))).toBe('is empty');
    expect(botToken.safeParse('xoxb-123-456-abc').success).toBe(true);
  });

  it('takes line breaks in a multi-line secret such as a PEM key', () => {
    const pem = tokenField({ what: 'private key', multiline: true });
    expect(pem.safeParse('-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n').success).toBe(
      true,
    );
  });
});

describe('idField', () => {
  const teamId = idField({ what: 'Slack team id', pattern: /^T[A-Z0-9]+$/, example: 'T0123ABCD' });

  it('names a placeholder character, then a value of the wrong shape', () => {
    expect(message(teamId.safeParse('T0…'))).toBe(
      'contains "…" (U+2026) at character 3: a Slack team id is plain ASCII, like T0123ABCD',
    );
    expect(message(teamId.safeParse('acme'))).toBe('"acme" is not a Slack team id (like T0123ABCD)');
    expect(teamId.safeParse('T0WABRIDGE').success).toBe(true);
  });
});
