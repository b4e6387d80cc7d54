import { slackConnector } from '@wabridge/connector-slack';
import type { SqliteStore } from '@wabridge/core';
import { completeConsent } from '@wabridge/sandbox';
import { type SlackEmulator, startSlackEmulator } from '@wabridge/sandbox/slack';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConnectorInstallationStore, installLink } from '../slack-install.ts';
import { createTestApp } from '../testing/harness.ts';

/**
 * The install routes through `app.request()`, with the code exchanged over HTTP against the Slack
 * emulator (`@slack/web-api`), and the consent page answered by `completeConsent`.
 */
const CLIENT = { clientId: '7777.8888', clientSecret: 'route-test-client-secret' };
const PUBLIC_URL = 'http://wabridge.test';
let slack: SlackEmulator;
let t: Awaited<ReturnType<typeof createTestApp>>;

beforeAll(async () => {
  slack = await startSlackEmulator({
    signingSecret: 'route-test-signing-secret',
    workspaces: [{ id: 'T0ACME', name: 'Acme Support', channels: [{ id: 'C0ACME01', name: 'whatsapp' }] }],
    oauth: { ...CLIENT, redirectUris: [`${PUBLIC_URL}/connect/slack/callback`] },
  });
  t = await createTestApp({
    registered: [slackConnector],
    env: {
      PUBLIC_URL,
      SLACK_CLIENT_ID: CLIENT.clientId,
      SLACK_CLIENT_SECRET: CLIENT.clientSecret,
      SLACK_STATE_SECRET: 'route-test-state-secret-0123',
      SLACK_SIGNING_SECRET: slack.signingSecret,
      SLACK_AUTHORIZE_URL: slack.authorizeUrl,
      SLACK_API_URL: slack.apiUrl,
    },
  });
}, 120_000);

afterAll(async () => {
  await t?.close();
  await slack?.close();
});

const path = (url: string) => url.slice(PUBLIC_URL.length);
const audit = () =>
  (t.runtime.store as SqliteStore).db.all<{ action: string; details: string }>(
    "SELECT action, details FROM audit_log WHERE action LIKE 'connector.%' ORDER BY id",
  );

async function start(link: string) {
  const answer = await t.app.request(path(link));
  return {
    answer,
    cookie: (answer.headers.get('set-cookie') ?? '').split(';')[0] ?? '',
    location: answer.headers.get('location') ?? '',
  };
}

describe('GET /connect/slack/:workspace/install and /connect/slack/callback', () => {
  it('a workspace without a Slack channel needs --channel: the link without one is a 400 page', async () => {
    const { answer } = await start(installLink(t.runtime.env, t.workspaceId));
    expect(answer.status).toBe(400);
    expect(await answer.text()).toContain('channel_required');
  });

  it('a link for another workspace, or without a ticket, is refused and redirects nowhere', async () => {
    const link = installLink(t.runtime.env, 'globex', { channel: 'C0ACME01' });
    const moved = link.replace('/connect/slack/globex/', `/connect/slack/${t.workspaceId}/`);
    for (const url of [moved, `${PUBLIC_URL}/connect/slack/${t.workspaceId}/install`]) {
      const { answer } = await start(url);
      expect(answer.status).toBe(400);
      expect(answer.headers.get('location')).toBeNull();
    }
  });

  it('install: 302 to the authorize URL with the scopes, the callback and a state, plus an HttpOnly cookie', async () => {
    const { answer, cookie, location } = await start(
      installLink(t.runtime.env, t.workspaceId, { channel: 'C0ACME01' }),
    );
    expect(answer.status).toBe(302);
    const url = new URL(location);
    expect(`${url.origin}${url.pathname}`).toBe(slack.authorizeUrl);
    expect(url.searchParams.get('client_id')).toBe(CLIENT.clientId);
    expect(url.searchParams.get('redirect_uri')).toBe(`${PUBLIC_URL}/connect/slack/callback`);
    expect(url.searchParams.get('scope')?.split(',')).toContain('chat:write');
    expect(url.searchParams.get('state')).toMatch(/^[\w-]+\.[\w-]+$/);
    expect(cookie).toMatch(/^wabridge_slack_state=/);
    expect(answer.headers.get('set-cookie')).toContain('HttpOnly');
  });

  it('a state that comes back without its cookie is refused and nothing is stored', async () => {
    const { location } = await start(installLink(t.runtime.env, t.workspaceId, { channel: 'C0ACME01' }));
    const back = await completeConsent(location, { choose: 'Acme Support' });
    const answer = await t.app.request(path(back.location.toString()));
    expect(answer.status).toBe(400);
    expect(await answer.text()).toContain('state_invalid');
    expect(await t.runtime.store.getConnector(t.workspaceId, 'slack')).toBeNull();
  });

  it('the first callback connects, stores masked and audits connector.connect; a replay is refused (state used) and a used code too', async () => {
    const { cookie, location } = await start(
      installLink(t.runtime.env, t.workspaceId, { channel: 'C0ACME01' }),
    );
    const back = await completeConsent(location, { choose: 'Acme Support' });
    const callback = path(back.location.toString());
    const first = await t.app.request(callback, { headers: { cookie } });
    const html = await first.text();
    expect(first.status, html).toBe(200);
    expect(html).toContain('Slack connected');
    expect(html).not.toMatch(/xox[bpe]/);
    const described = await t.runtime.admin.describeConnector(t.workspaceId, 'slack');
    expect(described?.config).toMatchObject({
      botToken: '••••••',
      signingSecret: '••••••',
      teamId: 'T0ACME',
      defaultChannel: 'C0ACME01',
      slackApiUrl: slack.apiUrl,
    });
    const entries = audit();
    expect(entries.map((e) => e.action)).toEqual(['connector.connect']);
    expect(JSON.parse(entries[0]?.details ?? '{}')).toMatchObject({
      connectorId: 'slack',
      teamId: 'T0ACME',
      reconnect: false,
      secretKeys: ['botToken', 'signingSecret'],
    });
    expect(entries[0]?.details).not.toContain('xoxb-');

    // The same callback again: InstallProvider's state is single-use.
    const again = await t.app.request(callback, { headers: { cookie } });
    expect(again.status).toBe(400);
    expect(await again.text()).toContain('state_invalid');
    // A fresh state with the used code: Slack refuses the exchange.
    const fresh = await start(installLink(t.runtime.env, t.workspaceId, { channel: 'C0ACME01' }));
    const freshState = new URL(fresh.location).searchParams.get('state') ?? '';
    const code = back.location.searchParams.get('code') ?? '';
    const reused = await t.app.request(`/connect/slack/callback?code=${code}&state=${freshState}`, {
      headers: { cookie: fresh.cookie },
    });
    expect(reused.status).toBe(400);
    expect(await reused.text()).toContain('oauth_exchange_failed');
    expect(audit()).toHaveLength(1);

    // InstallProvider's installation store finds the installation by its team, token decrypted.
    const installations = new ConnectorInstallationStore(t.runtime);
    const found = await installations.fetchInstallation({
      teamId: 'T0ACME',
      enterpriseId: undefined,
      isEnterpriseInstall: false,
    });
    expect(found.bot?.token).toMatch(/^xoxb-/);
    const whoami = await fetch(`${slack.apiUrl}auth.test`, {
      method: 'POST',
      headers: { authorization: `Bearer ${found.bot?.token}` },
    });
    expect(await whoami.json()).toMatchObject({ ok: true, team_id: 'T0ACME' });
    expect(JSON.parse(found.metadata ?? '{}')).toEqual({ workspace: t.workspaceId });
    await expect(
      installations.fetchInstallation({
        teamId: 'T0OTHER',
        enterpriseId: undefined,
        isEnterpriseInstall: false,
      }),
    ).rejects.toMatchObject({ code: 'not_found' });
  });
});

describe('"Add to Slack" on a whole Enterprise Grid organization', () => {
  let grid: SlackEmulator;
  let g: Awaited<ReturnType<typeof createTestApp>>;

  beforeAll(async () => {
    grid = await startSlackEmulator({
      signingSecret: 'grid-signing-secret',
      enterprises: [{ id: 'E0STARSHIP', name: 'Starship' }],
      workspaces: [
        {
          id: 'T0BRIDGE',
          name: 'Bridge',
          enterpriseId: 'E0STARSHIP',
          channels: [{ id: 'C0BRIDGE1', name: 'bridge' }],
        },
      ],
      oauth: { ...CLIENT, redirectUris: [`${PUBLIC_URL}/connect/slack/callback`], orgDeployEnabled: true },
    });
    g = await createTestApp({
      registered: [slackConnector],
      env: {
        PUBLIC_URL,
        SLACK_CLIENT_ID: CLIENT.clientId,
        SLACK_CLIENT_SECRET: CLIENT.clientSecret,
        SLACK_STATE_SECRET: 'grid-test-state-secret-0123',
        SLACK_SIGNING_SECRET: grid.signingSecret,
        SLACK_AUTHORIZE_URL: grid.authorizeUrl,
        SLACK_API_URL: grid.apiUrl,
      },
    });
  }, 120_000);
  afterAll(async () => {
    await g?.close();
    await grid?.close();
  });

  it('an org-wide install is stored with its organization and no team, then a workspace install replaces it', async () => {
    const connect = async (choose: string) => {
      const answer = await g.app.request(
        path(installLink(g.runtime.env, g.workspaceId, { channel: 'C0BRIDGE1' })),
      );
      const cookie = (answer.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
      const back = await completeConsent(answer.headers.get('location') ?? '', { choose });
      return g.app.request(path(back.location.toString()), { headers: { cookie } });
    };
    const org = await connect('Starship (whole organization)');
    const html = await org.text();
    expect(org.status, html).toBe(200);
    expect(html).toContain('Starship (all its workspaces)');
    const described = await g.runtime.admin.describeConnector(g.workspaceId, 'slack');
    expect(described?.config).toMatchObject({ enterpriseId: 'E0STARSHIP', botToken: '••••••' });
    expect(described?.config).not.toHaveProperty('teamId');
    const [entry] = (g.runtime.store as SqliteStore).db.all<{ details: string }>(
      "SELECT details FROM audit_log WHERE action = 'connector.connect' ORDER BY id",
    );
    expect(JSON.parse(entry?.details ?? '{}')).toMatchObject({
      enterpriseId: 'E0STARSHIP',
      teamId: null,
      orgWide: true,
    });
    // The connector's self-test accepts the org token for its organization.
    const instance = await g.runtime.host.instance(g.workspaceId, 'slack');
    const checks = await instance!.test!(AbortSignal.timeout(10_000));
    expect(checks.find((c) => c.name === 'token')).toMatchObject({ ok: true });

    const team = await connect('Bridge');
    expect(team.status).toBe(200);
    expect((await g.runtime.admin.describeConnector(g.workspaceId, 'slack'))?.config).toMatchObject({
      teamId: 'T0BRIDGE',
      enterpriseId: 'E0STARSHIP',
    });
  });
});
