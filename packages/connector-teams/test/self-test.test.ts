import { afterEach, describe, expect, it } from 'vitest';
import { type Rig, startRig } from './support.ts';

let rig: Rig | null = null;
afterEach(async () => {
  await rig?.close();
  rig = null;
});

describe('teams connector test (token endpoint, /me and the channel over HTTPS)', () => {
  it('says the app signs in, who the service account is, and that the channel is readable', async () => {
    rig = await startRig();
    const { bridge, graph } = rig;
    const report = await bridge.host.test(bridge.workspaceId, 'teams');
    expect(report).toMatchObject({ ok: true });
    expect(report.checks).toEqual([
      { name: 'app', ok: true, detail: `client ${graph.app.clientId} signs in to tenant ${graph.tenantId}` },
      { name: 'service account', ok: true, detail: `signed in as ${graph.serviceAccount.userPrincipalName}` },
      {
        name: `channel ${graph.channelId}`,
        ok: true,
        detail: `found in team ${graph.teamId}, and the app can read its replies`,
      },
    ]);
  });

  it('names a service account that must sign in again, and a channel the team does not have', async () => {
    rig = await startRig();
    const { bridge, graph } = rig;
    await bridge.admin.setConnector('test', bridge.workspaceId, 'teams', {
      config: { refreshToken: graph.signIn(), channelId: '19:missing@thread.tacv2' },
    });
    // Revoked after it was set, as a password reset or an admin would.
    graph.revokeRefreshTokens();
    const report = await bridge.host.test(bridge.workspaceId, 'teams');
    expect(report.ok).toBe(false);
    expect(report.checks.map((c) => [c.name, c.ok])).toEqual([
      ['app', true],
      ['service account', false],
      ['channel 19:missing@thread.tacv2', false],
    ]);
    expect(report.checks[1]?.detail).toMatch(/needs to sign in again \(invalid_grant\)/);
    expect(report.checks[2]?.detail).toMatch(
      /^team .* has no such channel \(404\): check teamId and channelId/,
    );
  });

  it('names refused app credentials and stops before the channels', async () => {
    rig = await startRig();
    const { bridge } = rig;
    await bridge.admin.setConnector('test', bridge.workspaceId, 'teams', {
      config: { clientSecret: 'wrong-secret' },
    });
    const report = await bridge.host.test(bridge.workspaceId, 'teams');
    expect(report.checks[0]).toMatchObject({
      name: 'app',
      ok: false,
      detail: expect.stringContaining('Teams app credentials were refused (invalid_client)'),
    });
    expect(report.checks.some((c) => c.name.startsWith('channel'))).toBe(false);
  });
});
