import { readFileSync } from 'node:fs';
import { SLACK_BOT_SCOPES } from '@wabridge/connector-slack';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { type InstallGrant, InstallRefused, signGrant, verifyGrant } from './slack-install.ts';

const SECRET = 'unit-test-state-secret-0123';
const NOW = 1_800_000_000_000;
const grant = (over: Partial<InstallGrant> = {}): InstallGrant => ({
  purpose: 'state',
  workspace: 'acme',
  channel: 'C0ACME01',
  exp: NOW + 600_000,
  nonce: 'n0nce',
  ...over,
});

function refusal(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    if (error instanceof InstallRefused) return error.code;
    throw error;
  }
  return 'accepted';
}

describe('signed install links and OAuth state', () => {
  it('a signed state verifies before its expiry and gives back its workspace, channel and nonce', () => {
    const token = signGrant(SECRET, grant());
    expect(verifyGrant(SECRET, token, 'state', NOW + 599_999)).toEqual(grant());
  });

  it('a state is refused as expired one millisecond after its expiry', () => {
    const token = signGrant(SECRET, grant());
    expect(refusal(() => verifyGrant(SECRET, token, 'state', NOW + 600_001))).toBe('state_expired');
  });

  it('a state with its payload changed (another workspace, a later expiry) is refused as invalid', () => {
    const [, signature] = signGrant(SECRET, grant()).split('.');
    for (const changed of [grant({ workspace: 'globex' }), grant({ exp: NOW + 10 * 600_000 })]) {
      const body = Buffer.from(JSON.stringify(changed)).toString('base64url');
      expect(refusal(() => verifyGrant(SECRET, `${body}.${signature}`, 'state', NOW))).toBe('state_invalid');
    }
  });

  it('a state signed with another secret, a missing or malformed one, is refused as invalid', () => {
    const other = signGrant('another-secret-0123456789', grant());
    for (const token of [other, undefined, '', 'abc', 'a.b.c', `${other}x`]) {
      expect(
        refusal(() => verifyGrant(SECRET, token, 'state', NOW)),
        String(token),
      ).toBe('state_invalid');
    }
  });

  it('an install link cannot pass as a state, nor a state as an install link', () => {
    const link = signGrant(SECRET, grant({ purpose: 'install' }));
    const state = signGrant(SECRET, grant());
    expect(refusal(() => verifyGrant(SECRET, link, 'state', NOW))).toBe('state_invalid');
    expect(refusal(() => verifyGrant(SECRET, state, 'install', NOW))).toBe('state_invalid');
    expect(verifyGrant(SECRET, link, 'install', NOW).workspace).toBe('acme');
  });
});

describe('"Add to Slack" scopes', () => {
  it('asks for exactly the bot scopes of the app manifest in the docs, and the manifest lists the callback', () => {
    const manifest = parse(
      readFileSync(new URL('../../../docs/connectors/slack-app-manifest.yaml', import.meta.url), 'utf8'),
    ) as { oauth_config: { scopes: { bot: string[] }; redirect_urls: string[] } };
    expect([...SLACK_BOT_SCOPES].sort()).toEqual([...manifest.oauth_config.scopes.bot].sort());
    expect(manifest.oauth_config.redirect_urls).toEqual([
      'https://wabridge.example.com/connect/slack/callback',
    ]);
  });
});
