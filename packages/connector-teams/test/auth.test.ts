import { createSecretBox, WorkspaceAdmin } from '@wabridge/core';
import { plainText } from '@wabridge/sandbox/graph';
import { afterEach, describe, expect, it } from 'vitest';
import type { AuthStatus } from '../src/index.ts';
import { type Rig, startRig } from './support.ts';

let rig: Rig | null = null;
afterEach(async () => {
  await rig?.close();
  rig = null;
});

describe('the service account sign-in', () => {
  it('survives a restart with one-time refresh tokens, because the rotated token is kept encrypted', async () => {
    rig = await startRig({ graph: { refreshTokenRotation: 'strict' } });
    const { bridge, graph } = rig;
    await bridge.customerText('before the restart', { waId: '15552010101' });
    await rig.settle();
    const cache = await bridge.store.getConnectorState(bridge.workspaceId, 'teams', 'secret:msal-cache');
    expect(typeof cache).toBe('string');
    expect(String(cache)).not.toContain('rt.');
    expect(String(cache)).not.toContain(rig.config.refreshToken);
    // A new process: no token in memory, and every access token Graph issued is now invalid.
    await bridge.host.closeAll();
    graph.expireAccessTokens();
    await bridge.customerText('after the restart', { waId: '15552010101' });
    await rig.settle();
    const rootId = await rig.root((await rig.conversation('15552010101')).id);
    expect(graph.replies(rootId).map((m) => plainText(m.body))).toEqual([
      'before the restart',
      'after the restart',
    ]);
    expect(graph.ledger.count('token.rejected')).toBe(0);
    expect(graph.ledger.count('token.issued', (e) => e.grantType === 'refresh_token')).toBeGreaterThanOrEqual(
      2,
    );
  });

  it('asks the admin to sign in again when the sign-in is revoked, and resumes with a new refresh token', async () => {
    rig = await startRig();
    const { bridge, graph } = rig;
    await bridge.customerText('before', { waId: '15552020202' });
    await rig.settle();
    graph.revokeRefreshTokens();
    graph.expireAccessTokens();
    await bridge.customerText('while revoked', { waId: '15552020202' });
    await rig.settle();
    const [dead] = await bridge.store.listDeadJobs();
    expect(dead?.reason).toMatch(
      /^auth_failed: Teams service account needs to sign in again \(invalid_grant\)/,
    );
    const status = (await bridge.store.getConnectorState(
      bridge.workspaceId,
      'teams',
      'auth:status',
    )) as AuthStatus;
    expect(status.ok).toBe(false);
    expect(status.action).toMatch(/Sign in again as the Teams service account/);
    // The admin signs in again and stores the new refresh token (the test bridge's master key).
    const admin = new WorkspaceAdmin({
      store: bridge.store,
      registry: bridge.registry,
      secrets: createSecretBox(Buffer.alloc(32, 7)),
    });
    await admin.setConnector('test', bridge.workspaceId, 'teams', {
      config: { refreshToken: graph.signIn() },
    });
    expect(await bridge.store.replayDeadJobs('all')).toBe(1);
    await rig.settle();
    const rootId = await rig.root((await rig.conversation('15552020202')).id);
    expect(graph.replies(rootId).map((m) => plainText(m.body))).toEqual(['before', 'while revoked']);
    const after = (await bridge.store.getConnectorState(
      bridge.workspaceId,
      'teams',
      'auth:status',
    )) as AuthStatus;
    expect(after.ok).toBe(true);
  });

  it('asks for tokens at the configured token endpoint, nowhere else', async () => {
    rig = await startRig({ config: { authorityHost: 'https://login.sandbox.invalid' } });
    const { bridge, graph } = rig;
    const admin = new WorkspaceAdmin({
      store: bridge.store,
      registry: bridge.registry,
      secrets: createSecretBox(Buffer.alloc(32, 7)),
    });
    await admin.setConnector('test', bridge.workspaceId, 'teams', {
      config: { tokenEndpoint: graph.tokenEndpoint },
    });
    await bridge.customerText('via the token endpoint', { waId: '15552030303' });
    await rig.settle();
    expect(graph.ledger.count('message.created', (e) => e.text === 'via the token endpoint')).toBe(1);
    expect(await bridge.store.listDeadJobs()).toEqual([]);
  });
});
