import { describe, expect, it } from 'vitest';
import { type ConnectGrant, ConnectRefused, signGrant, verifyGrant } from './grants.ts';

const SECRET = 'unit-test-connect-secret-0123';
const NOW = 1_800_000_000_000;
const grant = (over: Partial<ConnectGrant> = {}): ConnectGrant => ({
  purpose: 'state',
  workspace: 'acme',
  exp: NOW + 600_000,
  nonce: 'n0nce',
  ...over,
});

function refusal(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    if (error instanceof ConnectRefused) return error.code;
    throw error;
  }
  return 'accepted';
}

describe('signed connect links, states and picker forms', () => {
  it('a state verifies until its expiry and is refused as expired one millisecond after', () => {
    const token = signGrant(SECRET, 'hubspot', grant());
    expect(verifyGrant(SECRET, 'hubspot', token, 'state', NOW + 600_000)).toEqual(grant());
    expect(refusal(() => verifyGrant(SECRET, 'hubspot', token, 'state', NOW + 600_001))).toBe(
      'state_expired',
    );
  });

  it('a HubSpot state cannot pass as a Teams one, nor a link as a state or a picker form', () => {
    const state = signGrant(SECRET, 'hubspot', grant());
    const link = signGrant(SECRET, 'teams', grant({ purpose: 'install' }));
    expect(refusal(() => verifyGrant(SECRET, 'teams', state, 'state', NOW))).toBe('state_invalid');
    expect(refusal(() => verifyGrant(SECRET, 'teams', link, 'state', NOW))).toBe('state_invalid');
    expect(refusal(() => verifyGrant(SECRET, 'teams', link, 'pick', NOW))).toBe('state_invalid');
    expect(verifyGrant(SECRET, 'teams', link, 'install', NOW).workspace).toBe('acme');
  });

  it('a payload changed under its signature, another secret, or a malformed token is refused as invalid', () => {
    const token = signGrant(SECRET, 'hubspot', grant());
    const [, signature] = token.split('.');
    const moved = `${Buffer.from(JSON.stringify(grant({ workspace: 'globex' }))).toString('base64url')}.${signature}`;
    const other = signGrant('another-secret-0123456789', 'hubspot', grant());
    for (const bad of [moved, other, undefined, '', 'a', 'a.b.c', `${token}x`]) {
      expect(
        refusal(() => verifyGrant(SECRET, 'hubspot', bad, 'state', NOW)),
        String(bad),
      ).toBe('state_invalid');
    }
  });
});
