import { teamsConnector } from '@wabridge/connector-teams';
import type { SqliteStore } from '@wabridge/core';
import { completeConsent } from '@wabridge/sandbox';
import { type GraphEmulator, startGraphEmulator, trustCertificateInProcess } from '@wabridge/sandbox/graph';
import { Hono } from 'hono';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { STATE_TTL_MS } from '../connect/grants.ts';
import { teamsConnectLink } from '../connect/teams.ts';
import { createTestApp } from '../testing/harness.ts';
import { connectTeamsRoutes } from './connect-teams.ts';

/**
 * The Teams connect routes through `app.request()` with an injected clock: MSAL against the Graph
 * emulator's identity platform (PKCE checked there), the consent page answered by
 * `completeConsent`, the picker filled from Graph's joinedTeams and channels.
 */
const PUBLIC_URL = 'http://wabridge.test';
const SECOND_CHANNEL = '19:second0channel@thread.tacv2';
let graph: GraphEmulator;
let t: Awaited<ReturnType<typeof createTestApp>>;
let now = 1_800_000_000_000;
let app: Hono;

beforeAll(async () => {
  graph = await startGraphEmulator({
    consent: 'page',
    apps: [
      {
        clientId: '8d0b1a3c-2f4e-4a6b-9c8d-7e6f5a4b3c2d',
        clientSecret: 'route-test-teams-secret',
        displayName: 'wabridge',
        redirectUris: [`${PUBLIC_URL}/connect/teams/callback`],
      },
    ],
    notificationRetryDelaysMs: [],
  });
  trustCertificateInProcess(graph.certificate);
  graph.addChannel(graph.teamId, SECOND_CHANNEL, 'Second');
  t = await createTestApp({
    registered: [teamsConnector],
    env: {
      PUBLIC_URL,
      TEAMS_TENANT_ID: graph.tenantId,
      TEAMS_CLIENT_ID: graph.app.clientId,
      TEAMS_CLIENT_SECRET: graph.app.clientSecret,
      TEAMS_STATE_SECRET: 'route-test-teams-state-0123',
      TEAMS_AUTHORITY_HOST: graph.authorityHost,
      TEAMS_GRAPH_URL: graph.graphBaseUrl,
    },
  });
  app = new Hono().route('/connect/teams', connectTeamsRoutes(t.runtime, { now: () => now }));
}, 120_000);

afterAll(async () => {
  await t?.close();
  await graph?.close();
});

beforeEach(() => {
  now += 24 * 3_600_000;
});

const path = (url: string) => url.slice(PUBLIC_URL.length);
const cookieOf = (answer: Response) => (answer.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
const connectAudit = () =>
  (t.runtime.store as SqliteStore).db.all<{ details: string }>(
    "SELECT details FROM audit_log WHERE action = 'connector.connect' ORDER BY id",
  );

/** Link → Microsoft's sign-in page → back: the callback path and the browser's cookie. */
async function signIn() {
  const start = await app.request(path(teamsConnectLink(t.runtime.env, t.workspaceId, now)));
  expect(start.status).toBe(302);
  const location = start.headers.get('location') ?? '';
  const back = await completeConsent(location, {});
  return { cookie: cookieOf(start), callback: path(back.location.toString()), location };
}

/** The picker page's form fields. */
function pickerOf(html: string) {
  const form = /name="form" value="([^"]+)"/.exec(html)?.[1] ?? '';
  const channels = [...html.matchAll(/name="channel"[^>]*value="([^"]+)"/g)].map((m) =>
    (m[1] ?? '').replace(/&#124;/g, '|'),
  );
  return { form, channels };
}

const pick = (cookie: string, form: string, channel: string) =>
  app.request(`/connect/teams/${t.workspaceId}/pick`, {
    method: 'POST',
    headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ form, channel }).toString(),
  });

describe('Connect Teams: the service account signs in in the browser, then picks the channel', () => {
  it('sign-in: PKCE S256 on the authorize URL, the verifier only in the HttpOnly cookie', async () => {
    const { location, cookie } = await signIn();
    const url = new URL(location);
    expect(url.searchParams.get('code_challenge_method')).toBe('S256');
    expect(url.searchParams.get('redirect_uri')).toBe(`${PUBLIC_URL}/connect/teams/callback`);
    const verifier = cookie.split('=')[1]?.split('.')[1] ?? '';
    expect(verifier.length).toBeGreaterThan(40);
    expect(location).not.toContain(verifier);
  });

  it('a callback without its cookie, after ten minutes, or a second time is refused and stores nothing', async () => {
    const a = await signIn();
    expect((await app.request(a.callback)).status).toBe(400);
    const b = await signIn();
    now += STATE_TTL_MS + 1;
    const late = await app.request(b.callback, { headers: { cookie: b.cookie } });
    expect(await late.text()).toContain('state_expired');
    const c = await signIn();
    expect((await app.request(c.callback, { headers: { cookie: c.cookie } })).status).toBe(200);
    const again = await app.request(c.callback, { headers: { cookie: c.cookie } });
    expect(again.status).toBe(400);
    expect(await again.text()).toContain('state_used');
    expect(await t.runtime.store.getConnector(t.workspaceId, 'teams')).toBeNull();
  });

  it('a channel the page did not offer is refused, and the sign-in must start again', async () => {
    const { cookie, callback } = await signIn();
    const page = await app.request(callback, { headers: { cookie } });
    const { form } = pickerOf(await page.text());
    const answer = await pick(cookieOf(page), form, `${graph.teamId}|19:not0offered@thread.tacv2`);
    expect(answer.status).toBe(400);
    expect(await answer.text()).toContain('channel_invalid');
    const retry = await pick(cookieOf(page), form, `${graph.teamId}|${graph.channelId}`);
    expect(await retry.text()).toContain('state_used');
    expect(await t.runtime.store.getConnector(t.workspaceId, 'teams')).toBeNull();
  });

  it('the picker lists the account’s channels; picking one stores the sign-in masked, sets the route and audits', async () => {
    const { cookie, callback } = await signIn();
    const page = await app.request(callback, { headers: { cookie } });
    const html = await page.text();
    expect(page.status, html).toBe(200);
    const { form, channels } = pickerOf(html);
    expect(channels.sort()).toEqual(
      [`${graph.teamId}|${graph.channelId}`, `${graph.teamId}|${SECOND_CHANNEL}`].sort(),
    );
    const done = await pick(cookieOf(page), form, `${graph.teamId}|${SECOND_CHANNEL}`);
    const doneHtml = await done.text();
    expect(done.status, doneHtml).toBe(200);
    expect(doneHtml).toContain('Teams connected');
    const described = await t.runtime.admin.describeConnector(t.workspaceId, 'teams');
    expect(described?.enabled).toBe(true);
    expect(described?.config).toMatchObject({
      refreshToken: '••••••',
      clientSecret: '••••••',
      tenantId: graph.tenantId,
      teamId: graph.teamId,
      channelId: SECOND_CHANNEL,
      serviceAccountId: graph.serviceAccount.id,
    });
    const audit = connectAudit();
    expect(audit).toHaveLength(1);
    expect(JSON.parse(audit[0]?.details ?? '{}')).toMatchObject({
      method: 'sign-in',
      channelId: SECOND_CHANNEL,
    });
  });
});
