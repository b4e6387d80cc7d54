import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SLACK_BOT_SCOPES } from '@wabridge/connector-slack';
import { openSqliteStore, type SqliteStore } from '@wabridge/core';
import { seedWorkspace } from '@wabridge/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  type InstallGrant,
  InstallRefused,
  STATE_TTL_MS,
  signGrant,
  verifyGrant,
  WorkspaceStateStore,
} from './slack-install.ts';

const SECRET = 'unit-test-state-secret-0123';
const NOW = 1_800_000_000_000;
const grant = (over: Partial<InstallGrant> = {}): InstallGrant => ({
  purpose: 'install',
  workspace: 'acme',
  channel: 'C0ACME01',
  exp: NOW + 600_000,
  nonce: 'n0nce',
  ...over,
});

async function refusal(run: () => unknown): Promise<string> {
  try {
    await run();
  } catch (error) {
    if (error instanceof InstallRefused) return error.code;
    throw error;
  }
  return 'accepted';
}

describe('signed install links', () => {
  it('a signed link verifies before its expiry and gives back its workspace, channel and nonce', () => {
    const token = signGrant(SECRET, grant());
    expect(verifyGrant(SECRET, token, 'install', NOW + 599_999)).toEqual(grant());
  });

  it('a link is refused as expired one millisecond after its expiry', async () => {
    const token = signGrant(SECRET, grant());
    expect(await refusal(() => verifyGrant(SECRET, token, 'install', NOW + 600_001))).toBe('state_expired');
  });

  it('a link with its payload changed (another workspace, a later expiry) is refused as invalid', async () => {
    const [, signature] = signGrant(SECRET, grant()).split('.');
    for (const changed of [grant({ workspace: 'globex' }), grant({ exp: NOW + 10 * 600_000 })]) {
      const body = Buffer.from(JSON.stringify(changed)).toString('base64url');
      expect(await refusal(() => verifyGrant(SECRET, `${body}.${signature}`, 'install', NOW))).toBe(
        'state_invalid',
      );
    }
  });

  it('a link signed with another secret, a missing or malformed one, is refused as invalid', async () => {
    const other = signGrant('another-secret-0123456789', grant());
    for (const token of [other, undefined, '', 'abc', 'a.b.c', `${other}x`]) {
      expect(await refusal(() => verifyGrant(SECRET, token, 'install', NOW)), String(token)).toBe(
        'state_invalid',
      );
    }
  });
});

describe("InstallProvider's state store on the workspace's connector state", () => {
  let dir: string;
  let store: SqliteStore;
  let clock = NOW;
  let states: WorkspaceStateStore;
  const options = (workspace: string) => ({
    scopes: ['chat:write'],
    redirectUri: 'https://wabridge.test/connect/slack/callback',
    metadata: JSON.stringify({ workspace, channel: 'C0ACME01' }),
  });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'wabridge-slack-state-'));
    store = await openSqliteStore({ path: join(dir, 'store.db') });
    await seedWorkspace(store, { id: 'acme', phoneNumberId: '100000000000001' });
    await seedWorkspace(store, { id: 'globex', phoneNumberId: '100000000000002' });
    states = new WorkspaceStateStore(store, () => clock);
  });
  afterAll(async () => {
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('gives back the install options once: the second use of a state is refused', async () => {
    clock = NOW;
    const state = await states.generateStateParam(options('acme'));
    expect(await states.verifyStateParam(new Date(), state)).toEqual(options('acme'));
    expect(await refusal(() => states.verifyStateParam(new Date(), state))).toBe('state_invalid');
  });

  it('refuses a state one millisecond after its 10 minutes, and it cannot be used later either', async () => {
    clock = NOW;
    const state = await states.generateStateParam(options('acme'));
    clock = NOW + STATE_TTL_MS + 1;
    expect(await refusal(() => states.verifyStateParam(new Date(), state))).toBe('state_expired');
    clock = NOW;
    expect(await refusal(() => states.verifyStateParam(new Date(), state))).toBe('state_invalid');
  });

  it('refuses a state moved to another workspace, and malformed states', async () => {
    clock = NOW;
    const state = await states.generateStateParam(options('acme'));
    const [, secret] = state.split('.');
    const moved = `${Buffer.from(JSON.stringify({ workspace: 'globex' })).toString('base64url')}.${secret}`;
    for (const bad of [moved, '', 'abc', 'a.b.c', `${state}x`]) {
      expect(await refusal(() => states.verifyStateParam(new Date(), bad)), bad).toBe('state_invalid');
    }
    // The refusals did not use it up.
    expect(await states.verifyStateParam(new Date(), state)).toEqual(options('acme'));
  });

  it('keeps only a hash of the state in the store', async () => {
    const state = await states.generateStateParam(options('globex'));
    const [, secret] = state.split('.');
    const rows = store.db.all<{ key: string; value: string }>(
      "SELECT key, value FROM connector_state WHERE workspace_id = 'globex' AND key LIKE 'oauth-state:%'",
    );
    expect(rows).toHaveLength(1);
    expect(JSON.stringify(rows)).not.toContain(secret);
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
