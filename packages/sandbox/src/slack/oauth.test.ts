import { createHmac } from 'node:crypto';
import { WebClient } from '@slack/web-api';
import { afterEach, describe, expect, it } from 'vitest';
import { completeConsent } from '../shared/consent-client.ts';
import { startWebhookRecorder, type WebhookRecorder } from '../shared/recorder.ts';
import { type SlackEmulator, startSlackEmulator } from './index.ts';
import { checkWebApiResponse } from './spec.ts';
import { type AppSide, CLIENT, SCOPES, startApp } from './testing.ts';

const SECRET = 'sandbox-signing-secret';

let slack: SlackEmulator | undefined;
let app: AppSide | undefined;
let receiver: WebhookRecorder | undefined;
afterEach(async () => {
  await app?.close();
  await slack?.close();
  await receiver?.close();
  slack = undefined;
  app = undefined;
  receiver = undefined;
});

/** What a browser does: /slack/install → Slack's consent page → Allow/Cancel → back to the app with its state cookie. */
async function installThroughBrowser(
  side: AppSide,
  choice: { choose?: string; decision?: 'allow' | 'cancel' } = {},
): Promise<{ status: number; body: string; callback: URL }> {
  const start = await fetch(`${side.url}/slack/install`, { redirect: 'manual' });
  const cookie = (start.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
  const authorize = start.headers.get('location');
  if (!authorize) throw new Error(`the install path answered ${start.status} without a redirect`);
  const { location } = await completeConsent(authorize, choice);
  const back = await fetch(location, { headers: { cookie } });
  return { status: back.status, body: await back.text(), callback: location };
}

const twoWorkspaces = {
  signingSecret: SECRET,
  workspaces: [
    { id: 'T0ACME', name: 'Acme Support', channels: [{ id: 'C0ACME01', name: 'whatsapp' }] },
    { id: 'T0GLOBEX', name: 'Globex', channels: [{ id: 'C0GLOBEX1', name: 'whatsapp' }] },
  ],
};

describe('"Add to Slack" with @slack/oauth', () => {
  it('installs into the workspace picked on the consent page, and the bot token works there only', async () => {
    slack = await startSlackEmulator({ ...twoWorkspaces, oauth: CLIENT });
    app = await startApp(slack);
    const result = await installThroughBrowser(app, { choose: 'T0ACME' });
    expect(result.status).toBe(200);
    const [installation] = app.installations;
    expect(installation).toMatchObject({
      team: { id: 'T0ACME', name: 'Acme Support' },
      isEnterpriseInstall: false,
      tokenType: 'bot',
      appId: slack.appId,
      bot: { scopes: SCOPES.slice().sort(), token: expect.stringMatching(/^xoxb-/) },
    });
    // InstallProvider read the bot id with auth.test on the new token.
    const view = slack.installations().find((i) => i.teamId === 'T0ACME');
    expect(installation?.bot?.id).toBe(view?.botId);
    expect(installation?.bot?.userId).toBe(view?.botUserId);

    const authorized = await app.installer.authorize({
      teamId: 'T0ACME',
      enterpriseId: undefined,
      isEnterpriseInstall: false,
    });
    const web = new WebClient(authorized.botToken, {
      slackApiUrl: slack.apiUrl,
      retryConfig: { retries: 0 },
    });
    await web.chat.postMessage({ channel: 'C0ACME01', text: 'hello Acme' });
    expect(slack.history('C0ACME01').map((m) => m.text)).toEqual(['hello Acme']);
    // Another workspace's channel does not exist for this token.
    await expect(web.chat.postMessage({ channel: 'C0GLOBEX1', text: 'wrong team' })).rejects.toMatchObject({
      data: { error: 'channel_not_found' },
    });
    expect(slack.history('C0GLOBEX1')).toEqual([]);
    expect(slack.workspaces().map((w) => [w.id, w.installed])).toEqual([
      ['T0WABRIDGE', false],
      ['T0ACME', true],
      ['T0GLOBEX', false],
    ]);
  });

  it('gives each workspace its own installation, bot and token', async () => {
    slack = await startSlackEmulator({ ...twoWorkspaces, oauth: CLIENT });
    app = await startApp(slack);
    await installThroughBrowser(app, { choose: 'T0ACME' });
    await installThroughBrowser(app, { choose: 'Globex' });
    const [acme, globex] = app.installations;
    expect(acme?.bot?.token).not.toBe(globex?.bot?.token);
    expect(acme?.bot?.userId).not.toBe(globex?.bot?.userId);
    const post = (token: string | undefined, channel: string) =>
      new WebClient(token, { slackApiUrl: slack?.apiUrl, retryConfig: { retries: 0 } }).chat
        .postMessage({ channel, text: 'x' })
        .then(
          () => 'ok',
          (error: { data?: { error?: string } }) => error.data?.error,
        );
    expect(await post(acme?.bot?.token, 'C0ACME01')).toBe('ok');
    expect(await post(globex?.bot?.token, 'C0GLOBEX1')).toBe('ok');
    expect(await post(acme?.bot?.token, 'C0GLOBEX1')).toBe('channel_not_found');
    expect(await post(globex?.bot?.token, 'C0ACME01')).toBe('channel_not_found');
    expect(slack.history('C0ACME01')[0]?.user).toBe(acme?.bot?.userId);
  });

  it('sends access_denied back on Cancel, and InstallProvider reports the cancelled install', async () => {
    slack = await startSlackEmulator({ ...twoWorkspaces, oauth: CLIENT });
    app = await startApp(slack);
    const result = await installThroughBrowser(app, { decision: 'cancel' });
    expect(result.callback.searchParams.get('error')).toBe('access_denied');
    expect(result.callback.searchParams.get('state')).toBeTruthy();
    expect(result.status).toBe(400);
    expect(app.failures.map((f) => f.code)).toEqual(['slack_oauth_installer_authorization_error']);
    expect(app.installations).toEqual([]);
    expect(slack.ledger.count('install.created')).toBe(0);
  });

  it('shows no page and redirects nowhere for an unknown client, an unregistered redirect_uri or an unknown scope', async () => {
    slack = await startSlackEmulator({
      ...twoWorkspaces,
      oauth: { ...CLIENT, redirectUris: ['https://app.example/slack/oauth_redirect'] },
    });
    const url = (params: Record<string, string>) => `${slack?.authorizeUrl}?${new URLSearchParams(params)}`;
    const cases: Record<string, string>[] = [
      { client_id: 'nope', scope: 'chat:write' },
      { client_id: CLIENT.clientId, scope: 'chat:write', redirect_uri: 'https://evil.example/steal' },
      { client_id: CLIENT.clientId, scope: 'chat.write' },
    ];
    const answers = [];
    for (const params of cases) {
      const response = await fetch(url(params), { redirect: 'manual' });
      answers.push([
        response.status,
        response.headers.get('location'),
        (await response.text()).match(/<code>([^<]+)/)?.[1],
      ]);
    }
    expect(answers).toEqual([
      [400, null, 'invalid_client_id'],
      [400, null, 'bad_redirect_uri'],
      [400, null, 'invalid_scope'],
    ]);
    // Without redirect_uri, the registered one is used.
    const { location } = await completeConsent(
      url({ client_id: CLIENT.clientId, scope: 'chat:write', state: 's1' }),
    );
    expect(`${location.origin}${location.pathname}`).toBe('https://app.example/slack/oauth_redirect');
    expect(location.searchParams.get('state')).toBe('s1');
  });
});

describe('oauth.v2.access', () => {
  async function code(emulator: SlackEmulator, redirectUri = 'https://app.example/cb') {
    const { location } = await completeConsent(
      `${emulator.authorizeUrl}?${new URLSearchParams({ client_id: CLIENT.clientId, scope: 'chat:write', redirect_uri: redirectUri })}`,
      { choose: 'T0ACME' },
    );
    return location.searchParams.get('code') ?? '';
  }
  const access = async (emulator: SlackEmulator, form: Record<string, string>, basic?: string) => {
    const response = await fetch(`${emulator.apiUrl}oauth.v2.access`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        ...(basic ? { authorization: `Basic ${Buffer.from(basic).toString('base64')}` } : {}),
      },
      body: new URLSearchParams(form),
    });
    return (await response.json()) as Record<string, unknown>;
  };

  it('takes the client by Basic auth or form, a code once, within 10 minutes, with the same redirect_uri', async () => {
    slack = await startSlackEmulator({ ...twoWorkspaces, oauth: CLIENT });
    const first = await code(slack);
    const basic = `${CLIENT.clientId}:${CLIENT.clientSecret}`;
    expect(
      await access(
        slack,
        { code: first, redirect_uri: 'https://app.example/cb' },
        `${CLIENT.clientId}:wrong`,
      ),
    ).toEqual({
      ok: false,
      error: 'bad_client_secret',
    });
    // A refused client does not spend the code.
    const ok = await access(slack, { code: first, redirect_uri: 'https://app.example/cb' }, basic);
    expect(ok).toMatchObject({
      ok: true,
      token_type: 'bot',
      scope: 'chat:write',
      team: { id: 'T0ACME', name: 'Acme Support' },
      enterprise: null,
      is_enterprise_install: false,
      authed_user: { id: expect.stringMatching(/^U/) },
      access_token: expect.stringMatching(/^xoxb-/),
      bot_user_id: expect.stringMatching(/^U/),
      app_id: slack.appId,
    });
    expect(await access(slack, { code: first, redirect_uri: 'https://app.example/cb' }, basic)).toEqual({
      ok: false,
      error: 'code_already_used',
    });
    const second = await code(slack);
    expect(
      await access(slack, { code: second, redirect_uri: 'https://app.example/other', ...asForm() }),
    ).toEqual({ ok: false, error: 'bad_redirect_uri' });
    const third = await code(slack);
    slack.clock.advance(10 * 60_000);
    expect(await access(slack, { code: third, redirect_uri: 'https://app.example/cb', ...asForm() })).toEqual(
      {
        ok: false,
        error: 'invalid_code',
      },
    );
    expect(await access(slack, { code: 'made-up', ...asForm(), client_id: 'nope' })).toEqual({
      ok: false,
      error: 'invalid_client_id',
    });
    expect(slack.ledger.filter('oauth.rejected').map((e) => e.error)).toEqual([
      'bad_client_secret',
      'code_already_used',
      'bad_redirect_uri',
      'invalid_code',
      'invalid_client_id',
    ]);
  });

  it('with token rotation, access tokens expire and InstallProvider renews them with single-use refresh tokens', async () => {
    // One hour: InstallProvider.authorize() renews tokens that expire within two hours.
    slack = await startSlackEmulator({
      ...twoWorkspaces,
      oauth: { ...CLIENT, tokenRotation: { accessTokenTtlSeconds: 3600 } },
    });
    app = await startApp(slack);
    await installThroughBrowser(app, { choose: 'T0ACME' });
    const [installation] = app.installations;
    const original = {
      token: installation?.bot?.token ?? '',
      refresh: installation?.bot?.refreshToken ?? '',
    };
    expect(original.token).toMatch(/^xoxe\.xoxb-1-/);
    expect(original.refresh).toMatch(/^xoxe-1-/);
    const authorized = await app.installer.authorize({
      teamId: 'T0ACME',
      enterpriseId: undefined,
      isEnterpriseInstall: false,
    });
    expect(authorized.botToken).not.toBe(original.token);
    expect(authorized.botRefreshToken).not.toBe(original.refresh);
    // The spent refresh token is gone; the old access token still works until it expires.
    expect(
      await access(slack, { grant_type: 'refresh_token', refresh_token: original.refresh, ...asForm() }),
    ).toEqual({
      ok: false,
      error: 'invalid_refresh_token',
    });
    const web = (token: string | undefined) =>
      new WebClient(token, { slackApiUrl: slack?.apiUrl, retryConfig: { retries: 0 } });
    expect((await web(original.token).auth.test()).expires_in).toBeGreaterThan(0);
    slack.clock.advance(3600_000);
    await expect(web(original.token).auth.test()).rejects.toMatchObject({ data: { error: 'token_expired' } });
    await expect(web(authorized.botToken).auth.test()).rejects.toMatchObject({
      data: { error: 'token_expired' },
    });
    const renewed = await access(slack, {
      grant_type: 'refresh_token',
      refresh_token: authorized.botRefreshToken ?? '',
      ...asForm(),
    });
    expect(renewed).toMatchObject({ ok: true, token_type: 'bot', expires_in: 3600, team: { id: 'T0ACME' } });
    await web(String(renewed.access_token)).chat.postMessage({ channel: 'C0ACME01', text: 'after rotation' });
    expect(slack.ledger.filter('token.issued').map((e) => e.grant)).toEqual([
      'authorization_code',
      'refresh_token',
      'refresh_token',
    ]);
  });
});

function asForm() {
  return { client_id: CLIENT.clientId, client_secret: CLIENT.clientSecret };
}

const verify = (request: { headers: Record<string, string>; text: string }) =>
  request.headers['x-slack-signature'] ===
  `v0=${createHmac('sha256', SECRET).update(`v0:${request.headers['x-slack-request-timestamp']}:${request.text}`).digest('hex')}`;

describe('Enterprise Grid', () => {
  it('installs org-wide: one token acts in every workspace of the organization and events carry the org', async () => {
    receiver = await startWebhookRecorder();
    slack = await startSlackEmulator({
      signingSecret: SECRET,
      eventsUrl: `${receiver.url}/events`,
      enterprises: [{ id: 'E0STARSHIP', name: 'Starship' }],
      workspaces: [
        {
          id: 'T0BRIDGE',
          name: 'Bridge',
          enterpriseId: 'E0STARSHIP',
          channels: [{ id: 'C0BRIDGE1', name: 'support' }],
        },
        {
          id: 'T0ENGINE',
          name: 'Engineering',
          enterpriseId: 'E0STARSHIP',
          channels: [{ id: 'C0ENGINE1', name: 'support' }],
        },
        { id: 'T0ELSEWHERE', name: 'Elsewhere', channels: [{ id: 'C0ELSE01', name: 'support' }] },
      ],
      oauth: { ...CLIENT, orgDeployEnabled: true },
    });
    app = await startApp(slack);
    const result = await installThroughBrowser(app, { choose: 'org:E0STARSHIP' });
    expect(result.status).toBe(200);
    const [installation] = app.installations;
    expect(installation).toMatchObject({
      team: undefined,
      enterprise: { id: 'E0STARSHIP', name: 'Starship' },
      isEnterpriseInstall: true,
      enterpriseUrl: 'https://starship.enterprise.slack.com/',
      bot: { userId: expect.stringMatching(/^W/) },
    });
    const authorized = await app.installer.authorize({
      enterpriseId: 'E0STARSHIP',
      teamId: 'T0ENGINE',
      isEnterpriseInstall: true,
    });
    const web = new WebClient(authorized.botToken, {
      slackApiUrl: slack.apiUrl,
      retryConfig: { retries: 0 },
    });
    await web.chat.postMessage({ channel: 'C0BRIDGE1', text: 'to the bridge' });
    await web.chat.postMessage({ channel: 'C0ENGINE1', text: 'to engineering' });
    await expect(
      web.chat.postMessage({ channel: 'C0ELSE01', text: 'outside the org' }),
    ).rejects.toMatchObject({
      data: { error: 'channel_not_found' },
    });
    expect(await web.auth.test()).toMatchObject({
      team_id: 'E0STARSHIP',
      enterprise_id: 'E0STARSHIP',
      is_enterprise_install: true,
    });
    await slack.idle();
    const mark = receiver.requests.length;
    const bridge = slack.agent({ id: 'W0GRACE', name: 'Grace' });
    const engine = slack.agent({ id: 'W0SCOTTY', name: 'Scotty' });
    await bridge.post('C0BRIDGE1', 'from the bridge');
    await engine.post('C0ENGINE1', 'from engineering');
    const events = receiver.requests
      .slice(mark)
      .map((r) => ({ signed: verify(r), body: JSON.parse(r.text) }));
    expect(events.map((e) => e.signed)).toEqual([true, true]);
    expect(events.map((e) => [e.body.team_id, e.body.enterprise_id, e.body.authorizations[0]])).toEqual([
      [
        'T0BRIDGE',
        'E0STARSHIP',
        {
          enterprise_id: 'E0STARSHIP',
          team_id: 'T0BRIDGE',
          user_id: installation?.bot?.userId,
          is_bot: true,
          is_enterprise_install: true,
        },
      ],
      [
        'T0ENGINE',
        'E0STARSHIP',
        {
          enterprise_id: 'E0STARSHIP',
          team_id: 'T0ENGINE',
          user_id: installation?.bot?.userId,
          is_bot: true,
          is_enterprise_install: true,
        },
      ],
    ]);
    // No installation covers the workspace outside the org: Slack sends nothing.
    const outsider = slack.agent({ id: 'U0OUT', name: 'Out' });
    const skipped = await outsider.post('C0ELSE01', 'nobody listens');
    expect(skipped.callback.first.status).toBeUndefined();
    const command = await outsider
      .slashCommand('/wabridge', 'help', { channel: 'C0ELSE01' })
      .catch((e: Error) => e);
    expect(command).toBeInstanceOf(Error); // no commandsUrl here: the emulator says so before anything else
    expect(slack.ledger.filter('callback.skipped').map((e) => [e.channel, e.teamId])).toEqual([
      ['event', 'T0ELSEWHERE'],
    ]);
    expect(receiver.requests.length).toBe(mark + 2);
  });

  it('puts enterprise fields in interaction and slash-command payloads of an org-wide install', async () => {
    receiver = await startWebhookRecorder();
    slack = await startSlackEmulator({
      signingSecret: SECRET,
      commandsUrl: `${receiver.url}/commands`,
      enterprises: [{ id: 'E0STARSHIP', name: 'Starship' }],
      workspaces: [
        {
          id: 'T0BRIDGE',
          name: 'Bridge',
          enterpriseId: 'E0STARSHIP',
          channels: [{ id: 'C0BRIDGE1', name: 'support' }],
        },
        { id: 'T0ELSEWHERE', name: 'Elsewhere', channels: [{ id: 'C0ELSE01', name: 'support' }] },
      ],
      oauth: { ...CLIENT, orgDeployEnabled: true },
    });
    slack.install({ enterpriseId: 'E0STARSHIP' });
    // Where the app is not installed, Slack sends the app nothing.
    const outside = await slack
      .agent({ id: 'U0OUT', name: 'Out' })
      .slashCommand('/wabridge', 'help', { channel: 'C0ELSE01' });
    expect(outside.status).toBeUndefined();
    expect(slack.ledger.filter('callback.skipped').map((e) => [e.channel, e.teamId])).toEqual([
      ['command', 'T0ELSEWHERE'],
    ]);
    await slack
      .agent({ id: 'W0GRACE', name: 'Grace' })
      .slashCommand('/wabridge', 'help', { channel: 'C0BRIDGE1' });
    expect(receiver.requests).toHaveLength(1);
    const form = new URLSearchParams(receiver.requests[0]?.text);
    expect(Object.fromEntries([...form].filter(([k]) => /team|enterprise/.test(k)))).toEqual({
      team_id: 'T0BRIDGE',
      team_domain: 'bridge',
      enterprise_id: 'E0STARSHIP',
      enterprise_name: 'Starship',
      is_enterprise_install: 'true',
    });
  });
});

describe('uninstall and revocation', () => {
  it('auth.revoke of the last token sends signed tokens_revoked then app_uninstalled; the token is dead', async () => {
    receiver = await startWebhookRecorder();
    slack = await startSlackEmulator({
      ...twoWorkspaces,
      eventsUrl: `${receiver.url}/events`,
      oauth: CLIENT,
    });
    const { botToken, botUserId } = slack.install({ teamId: 'T0ACME', scopes: ['chat:write'] });
    const web = new WebClient(botToken, { slackApiUrl: slack.apiUrl, retryConfig: { retries: 0 } });
    expect(await web.auth.revoke({ test: true })).toMatchObject({ ok: true, revoked: false });
    expect(await web.auth.revoke()).toMatchObject({ ok: true, revoked: true });
    await slack.idle();
    const events = receiver.requests.map((r) => ({ signed: verify(r), body: JSON.parse(r.text) }));
    expect(events.map((e) => [e.signed, e.body.team_id, e.body.event])).toEqual([
      [true, 'T0ACME', expect.objectContaining({ type: 'tokens_revoked', tokens: { bot: [botUserId] } })],
      [true, 'T0ACME', expect.objectContaining({ type: 'app_uninstalled' })],
    ]);
    await expect(web.chat.postMessage({ channel: 'C0ACME01', text: 'x' })).rejects.toMatchObject({
      data: { error: 'token_revoked' },
    });
    expect(slack.workspaces().find((w) => w.id === 'T0ACME')?.installed).toBe(false);
  });

  it('apps.uninstall needs the app credentials and removes only the calling workspace', async () => {
    receiver = await startWebhookRecorder();
    slack = await startSlackEmulator({
      ...twoWorkspaces,
      eventsUrl: `${receiver.url}/events`,
      oauth: CLIENT,
    });
    const acme = slack.install({ teamId: 'T0ACME' });
    const globex = slack.install({ teamId: 'T0GLOBEX' });
    const web = new WebClient(acme.botToken, { slackApiUrl: slack.apiUrl, retryConfig: { retries: 0 } });
    await expect(
      web.apps.uninstall({ client_id: CLIENT.clientId, client_secret: 'wrong' }),
    ).rejects.toMatchObject({
      data: { error: 'bad_client_secret' },
    });
    await web.apps.uninstall({ ...asForm() });
    await slack.idle();
    expect(receiver.requests.map((r) => [JSON.parse(r.text).team_id, JSON.parse(r.text).event.type])).toEqual(
      [
        ['T0ACME', 'tokens_revoked'],
        ['T0ACME', 'app_uninstalled'],
      ],
    );
    const still = new WebClient(globex.botToken, { slackApiUrl: slack.apiUrl, retryConfig: { retries: 0 } });
    await still.chat.postMessage({ channel: 'C0GLOBEX1', text: 'Globex is still here' });
    expect(slack.installations().map((i) => [i.teamId, i.active])).toEqual([
      ['T0ACME', false],
      ['T0GLOBEX', true],
    ]);
  });

  it('an admin removing an org-wide app tells the app with the organization as the team', async () => {
    receiver = await startWebhookRecorder();
    slack = await startSlackEmulator({
      signingSecret: SECRET,
      eventsUrl: `${receiver.url}/events`,
      enterprises: [{ id: 'E0STARSHIP', name: 'Starship' }],
      workspaces: [{ id: 'T0BRIDGE', name: 'Bridge', enterpriseId: 'E0STARSHIP' }],
      oauth: { ...CLIENT, orgDeployEnabled: true },
    });
    slack.install({ enterpriseId: 'E0STARSHIP' });
    slack.uninstall({ enterpriseId: 'E0STARSHIP' });
    await slack.idle();
    const bodies = receiver.requests.map((r) => JSON.parse(r.text));
    expect(
      bodies.map((b) => [
        b.team_id,
        b.enterprise_id,
        b.event.type,
        b.authorizations[0].is_enterprise_install,
      ]),
    ).toEqual([
      ['E0STARSHIP', 'E0STARSHIP', 'tokens_revoked', true],
      ['E0STARSHIP', 'E0STARSHIP', 'app_uninstalled', true],
    ]);
  });
});

describe('tokens of OAuth installs', () => {
  it('answer missing_scope for methods outside the installed scopes', async () => {
    slack = await startSlackEmulator({ ...twoWorkspaces, oauth: CLIENT });
    const { botToken } = slack.install({ teamId: 'T0ACME', scopes: ['chat:write'] });
    const web = new WebClient(botToken, { slackApiUrl: slack.apiUrl, retryConfig: { retries: 0 } });
    const posted = await web.chat.postMessage({ channel: 'C0ACME01', text: 'ok' });
    await expect(
      web.reactions.add({ channel: 'C0ACME01', timestamp: posted.ts ?? '', name: 'eyes' }),
    ).rejects.toMatchObject({
      data: { error: 'missing_scope', needed: 'reactions:write', provided: 'chat:write' },
    });
    expect(slack.ledger.count('api.denied')).toBe(1);
  });

  it('are checked against Slack’s published response schemas, which a wrong answer fails', () => {
    expect(
      checkWebApiResponse('auth.test', {
        ok: true,
        url: 'x',
        team: 'x',
        user: 'x',
        team_id: 'T0A',
        user_id: 'U0A',
      }),
    ).toEqual([]);
    expect(
      checkWebApiResponse('auth.test', {
        ok: true,
        url: 'x',
        team: 'x',
        user: 'x',
        team_id: 'T0A',
        user_id: 'U0A',
        extra: 1,
      }),
    ).not.toEqual([]);
    expect(checkWebApiResponse('apps.uninstall', { ok: false, error: 'bad_client_secret' })).toEqual([]);
    expect(checkWebApiResponse('apps.uninstall', { ok: false, error: 'made_up_error' })).not.toEqual([]);
  });
});
