import { randomBytes } from 'node:crypto';
import { ConfidentialClientApplication, CryptoProvider, LogLevel } from '@azure/msal-node';
import { afterEach, describe, expect, it } from 'vitest';
import { completeConsent } from '../shared/consent-client.ts';
import { type GraphEmulator, startGraphEmulator, trustCertificateInProcess } from './index.ts';
import type { GraphEmulatorOptions, GraphUser } from './types.ts';

const FABRIKAM = 'b0b0b0b0-1111-4222-8333-fab1ca7e0001';
const FABRIKAM_BRIDGE: GraphUser = {
  id: '22222222-3333-4444-8555-666666666666',
  displayName: 'Fabrikam Bridge',
  userPrincipalName: 'bridge@fabrikam.example',
};
const FABRIKAM_TEAM = { id: 'f00d0000-0000-4000-8000-00000000fab1', displayName: 'Fabrikam Care' };
const FABRIKAM_CHANNEL = '19:fabrikamwhatsapp@thread.tacv2';
const REDIRECT = 'http://localhost:53117/teams/callback';
const GRAPH_SCOPES = ['https://graph.microsoft.com/.default', 'offline_access'];

let graph: GraphEmulator | undefined;
afterEach(async () => {
  await graph?.close();
  graph = undefined;
});

async function twoTenants(options: GraphEmulatorOptions = {}): Promise<GraphEmulator> {
  const emulator = await startGraphEmulator({
    consent: 'page',
    apps: [
      {
        clientId: '8d0b1a3c-2f4e-4a6b-9c8d-7e6f5a4b3c2d',
        clientSecret: 'sandbox-client-secret',
        displayName: 'wabridge',
        redirectUris: ['http://localhost/teams/callback'],
      },
    ],
    tenants: [
      {
        tenantId: FABRIKAM,
        displayName: 'Fabrikam',
        serviceAccount: FABRIKAM_BRIDGE,
        teams: [{ ...FABRIKAM_TEAM, channels: [{ id: FABRIKAM_CHANNEL, displayName: 'WhatsApp' }] }],
      },
    ],
    notificationRetryDelaysMs: [],
    ...options,
  });
  trustCertificateInProcess(emulator.certificate);
  return emulator;
}

/** The app's MSAL client: the emulator as authority (known, so no call leaves for instance discovery). */
function msalFor(
  emulator: GraphEmulator,
  tenant: string,
  extra: { knownAuthorities?: string[]; cloudDiscoveryMetadata?: string } = {},
) {
  return new ConfidentialClientApplication({
    auth: {
      clientId: emulator.app.clientId,
      clientSecret: emulator.app.clientSecret,
      authority: `${emulator.authorityHost}/${tenant}`,
      ...(extra.cloudDiscoveryMetadata
        ? { cloudDiscoveryMetadata: extra.cloudDiscoveryMetadata }
        : { knownAuthorities: extra.knownAuthorities ?? [new URL(emulator.url).host] }),
    },
    system: {
      loggerOptions: { logLevel: LogLevel.Error, piiLoggingEnabled: false, loggerCallback: () => {} },
    },
  });
}

async function graphCall(
  emulator: GraphEmulator,
  token: string,
  method: string,
  path: string,
  body?: unknown,
) {
  const response = await fetch(`${emulator.url}/v1.0${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, json: (text ? JSON.parse(text) : {}) as Record<string, unknown> };
}

async function token(emulator: GraphEmulator, tenant: string, form: Record<string, string>) {
  const response = await fetch(`${emulator.url}/${tenant}/oauth2/v2.0/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      client_id: emulator.app.clientId,
      client_secret: emulator.app.clientSecret,
      ...form,
    }),
  });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

/** The browser leg: authorize URL → sign-in and consent page → code at the redirect URI. */
async function authorizeCode(
  emulator: GraphEmulator,
  tenant: string,
  params: Record<string, string>,
  choose?: string,
): Promise<URL> {
  const url = `${emulator.authorizeUrl(tenant)}?${new URLSearchParams({
    client_id: emulator.app.clientId,
    response_type: 'code',
    redirect_uri: REDIRECT,
    scope: GRAPH_SCOPES.join(' '),
    ...params,
  })}`;
  return (await completeConsent(url, choose === undefined ? {} : { choose })).location;
}

describe('Microsoft sign-in with @azure/msal-node', () => {
  it('runs getAuthCodeUrl → consent page → acquireTokenByCode with PKCE S256, and the token acts in its tenant only', async () => {
    graph = await twoTenants();
    const msal = msalFor(graph, FABRIKAM);
    const pkce = await new CryptoProvider().generatePkceCodes();
    const state = randomBytes(12).toString('hex');
    const nonce = randomBytes(12).toString('hex');
    const url = await msal.getAuthCodeUrl({
      scopes: GRAPH_SCOPES,
      redirectUri: REDIRECT,
      codeChallenge: pkce.challenge,
      codeChallengeMethod: 'S256',
      responseMode: 'query',
      state,
      nonce,
      prompt: 'select_account',
    });
    expect(url.startsWith(`${graph.url}/${FABRIKAM}/oauth2/v2.0/authorize?`)).toBe(true);
    const { location, options } = await completeConsent(url, { choose: 'bridge@fabrikam.example' });
    // A tenant's page offers that tenant's accounts only.
    expect(options.map((o) => o.label)).toEqual(['bridge@fabrikam.example']);
    expect(location.searchParams.get('state')).toBe(state);
    const result = await msal.acquireTokenByCode(
      {
        code: location.searchParams.get('code') ?? '',
        scopes: GRAPH_SCOPES,
        redirectUri: REDIRECT,
        codeVerifier: pkce.verifier,
        nonce,
        state,
      },
      { code: location.searchParams.get('code') ?? '', state },
    );
    expect(result.account).toMatchObject({
      tenantId: FABRIKAM,
      localAccountId: FABRIKAM_BRIDGE.id,
      username: 'bridge@fabrikam.example',
    });
    expect(result.idTokenClaims).toMatchObject({ tid: FABRIKAM, nonce });

    const teams = await graphCall(graph, result.accessToken, 'GET', '/me/joinedTeams');
    expect((teams.json.value as { id: string }[]).map((t) => t.id)).toEqual([FABRIKAM_TEAM.id]);
    const channels = await graphCall(graph, result.accessToken, 'GET', `/teams/${FABRIKAM_TEAM.id}/channels`);
    expect(
      (channels.json.value as { id: string; displayName: string }[]).map((c) => [c.id, c.displayName]),
    ).toEqual([[FABRIKAM_CHANNEL, 'WhatsApp']]);
    const posted = await graphCall(
      graph,
      result.accessToken,
      'POST',
      `/teams/${FABRIKAM_TEAM.id}/channels/${encodeURIComponent(FABRIKAM_CHANNEL)}/messages`,
      { body: { content: 'hello Fabrikam' } },
    );
    expect(posted.status).toBe(201);
    // The default tenant's team is not there for a Fabrikam token.
    const elsewhere = await graphCall(
      graph,
      result.accessToken,
      'POST',
      `/teams/${graph.teamId}/channels/${encodeURIComponent(graph.channelId)}/messages`,
      { body: { content: 'wrong tenant' } },
    );
    expect(elsewhere.status).toBe(404);
    expect(graph.roots(graph.teamId, graph.channelId)).toEqual([]);
    expect(graph.ledger.filter('authorize').map((e) => [e.outcome, e.pkce])).toEqual([
      ['page', true],
      ['approved', true],
    ]);
  });

  it('renews with acquireTokenByRefreshToken, and a revoked refresh token fails with invalid_grant', async () => {
    graph = await twoTenants({ consent: 'auto' });
    const msal = msalFor(graph, FABRIKAM);
    const code = (await authorizeCode(graph, FABRIKAM, {})).searchParams.get('code') ?? '';
    await msal.acquireTokenByCode({ code, scopes: GRAPH_SCOPES, redirectUri: REDIRECT });
    const cache = JSON.parse(msal.getTokenCache().serialize()) as {
      RefreshToken: Record<string, { secret: string }>;
    };
    const refreshToken = Object.values(cache.RefreshToken)[0]?.secret ?? '';
    expect(refreshToken).not.toBe('');
    const renewed = await msal.acquireTokenByRefreshToken({
      refreshToken,
      scopes: GRAPH_SCOPES,
      forceCache: true,
    });
    expect(renewed?.account?.tenantId).toBe(FABRIKAM);
    expect((await graphCall(graph, renewed?.accessToken ?? '', 'GET', '/me')).json).toMatchObject({
      id: FABRIKAM_BRIDGE.id,
    });
    graph.revokeRefreshTokens(FABRIKAM_BRIDGE.id);
    await expect(
      msal.acquireTokenByRefreshToken({ refreshToken, scopes: GRAPH_SCOPES, forceCache: true }),
    ).rejects.toMatchObject({
      errorCode: 'invalid_grant',
    });
    // Only offline_access brings a refresh token.
    const plain =
      (
        await authorizeCode(graph, FABRIKAM, { scope: 'https://graph.microsoft.com/.default' })
      ).searchParams.get('code') ?? '';
    const noRefresh = await token(graph, FABRIKAM, {
      grant_type: 'authorization_code',
      code: plain,
      redirect_uri: REDIRECT,
    });
    expect(noRefresh.json.refresh_token).toBeUndefined();
    expect(noRefresh.json.access_token).toBeTruthy();
  });

  it('lets the account picked under /organizations decide the tenant', async () => {
    graph = await twoTenants();
    const location = await authorizeCode(graph, 'organizations', {}, 'bridge@fabrikam.example');
    const answer = await token(graph, 'organizations', {
      grant_type: 'authorization_code',
      code: location.searchParams.get('code') ?? '',
      redirect_uri: REDIRECT,
    });
    const claims = JSON.parse(
      Buffer.from(String(answer.json.id_token).split('.')[1] ?? '', 'base64url').toString(),
    );
    expect(claims).toMatchObject({ tid: FABRIKAM, oid: FABRIKAM_BRIDGE.id });
  });

  it('accepts the instance discovery document as MSAL cloudDiscoveryMetadata (no knownAuthorities)', async () => {
    graph = await twoTenants();
    const discovery = await fetch(
      `${graph.url}/common/discovery/instance?api-version=1.1&authorization_endpoint=${encodeURIComponent(graph.authorizeUrl(FABRIKAM))}`,
    );
    const msal = msalFor(graph, FABRIKAM, { cloudDiscoveryMetadata: await discovery.text() });
    const result = await msal.acquireTokenByClientCredential({
      scopes: ['https://graph.microsoft.com/.default'],
    });
    expect(result?.accessToken).toBeTruthy();
    expect(graph.ledger.filter('token.issued').at(-1)).toMatchObject({
      grantType: 'client_credentials',
      tenantId: FABRIKAM,
    });
  });
});

describe('the token endpoint', () => {
  it('checks the PKCE verifier and spends the code (AADSTS50148, then AADSTS54005)', async () => {
    graph = await twoTenants({ consent: 'auto' });
    const verifier = randomBytes(32).toString('base64url');
    const challenge = (await import('node:crypto')).createHash('sha256').update(verifier).digest('base64url');
    const code = async () =>
      (
        await authorizeCode(graph!, FABRIKAM, { code_challenge: challenge, code_challenge_method: 'S256' })
      ).searchParams.get('code') ?? '';
    const form = (c: string, extra: Record<string, string> = {}) => ({
      grant_type: 'authorization_code',
      code: c,
      redirect_uri: REDIRECT,
      ...extra,
    });
    const first = await code();
    const wrong = await token(
      graph,
      FABRIKAM,
      form(first, { code_verifier: randomBytes(32).toString('base64url') }),
    );
    expect([wrong.status, wrong.json.error, wrong.json.error_codes]).toEqual([400, 'invalid_grant', [50148]]);
    const again = await token(graph, FABRIKAM, form(first, { code_verifier: verifier }));
    expect(again.json.error_codes).toEqual([54005]);
    const missing = await token(graph, FABRIKAM, form(await code()));
    expect(missing.json.error_codes).toEqual([50148]);
    const right = await token(graph, FABRIKAM, form(await code(), { code_verifier: verifier }));
    expect(right.status).toBe(200);
  });

  it('lets a code live 10 minutes and come back only to its redirect URI and tenant', async () => {
    graph = await twoTenants({ consent: 'auto' });
    const code = async () => (await authorizeCode(graph!, FABRIKAM, {})).searchParams.get('code') ?? '';
    const late = await code();
    graph.advanceTime(10 * 60_000);
    expect(
      (await token(graph, FABRIKAM, { grant_type: 'authorization_code', code: late, redirect_uri: REDIRECT }))
        .json.error_codes,
    ).toEqual([70008]);
    const moved = await token(graph, FABRIKAM, {
      grant_type: 'authorization_code',
      code: await code(),
      redirect_uri: 'http://localhost:53117/other',
    });
    expect(moved.json.error_codes).toEqual([500112]);
    const otherTenant = await token(graph, graph.tenantId, {
      grant_type: 'authorization_code',
      code: await code(),
      redirect_uri: REDIRECT,
    });
    expect(otherTenant.json.error_codes).toEqual([70000]);
  });

  it('issues app-only tokens per tenant: another tenant’s channels and subscriptions stay out of reach', async () => {
    graph = await twoTenants();
    const contoso = String(
      (
        await token(graph, graph.tenantId, {
          grant_type: 'client_credentials',
          scope: 'https://graph.microsoft.com/.default',
        })
      ).json.access_token,
    );
    const fabrikam = String(
      (
        await token(graph, FABRIKAM, {
          grant_type: 'client_credentials',
          scope: 'https://graph.microsoft.com/.default',
        })
      ).json.access_token,
    );
    const path = `/teams/${FABRIKAM_TEAM.id}/channels/${encodeURIComponent(FABRIKAM_CHANNEL)}/messages`;
    expect((await graphCall(graph, fabrikam, 'GET', path)).status).toBe(200);
    expect((await graphCall(graph, contoso, 'GET', path)).status).toBe(404);
    expect((await graphCall(graph, contoso, 'GET', `/teams/${FABRIKAM_TEAM.id}/channels`)).status).toBe(404);
    expect(
      (
        await token(graph, 'common', {
          grant_type: 'client_credentials',
          scope: 'https://graph.microsoft.com/.default',
        })
      ).status,
    ).toBe(400);
  });
});

describe('the sign-in and consent page', () => {
  it('sends access_denied (AADSTS65004) back on Cancel', async () => {
    graph = await twoTenants();
    const url = `${graph.authorizeUrl(FABRIKAM)}?${new URLSearchParams({ client_id: graph.app.clientId, response_type: 'code', redirect_uri: REDIRECT, scope: 'openid offline_access', state: 'st' })}`;
    const { location } = await completeConsent(url, { decision: 'cancel' });
    expect(Object.fromEntries(location.searchParams)).toMatchObject({
      error: 'access_denied',
      error_subcode: 'cancel',
      state: 'st',
      error_description: expect.stringMatching(/^AADSTS65004/),
    });
  });

  it('shows an error page and redirects nowhere for an unknown app, an unregistered redirect URI or tenant', async () => {
    graph = await twoTenants();
    const attempt = async (tenant: string, params: Record<string, string>) => {
      const response = await fetch(
        `${graph?.authorizeUrl(tenant)}?${new URLSearchParams({ response_type: 'code', scope: 'openid', ...params })}`,
        { redirect: 'manual' },
      );
      return [
        response.status,
        response.headers.get('location'),
        /AADSTS\d+/.exec(await response.text())?.[0],
      ];
    };
    expect(await attempt(FABRIKAM, { client_id: 'unknown-app', redirect_uri: REDIRECT })).toEqual([
      400,
      null,
      'AADSTS700016',
    ]);
    expect(
      await attempt(FABRIKAM, {
        client_id: graph.app.clientId,
        redirect_uri: 'https://evil.example/callback',
      }),
    ).toEqual([400, null, 'AADSTS50011']);
    expect(await attempt('not-a-tenant', { client_id: graph.app.clientId, redirect_uri: REDIRECT })).toEqual([
      400,
      null,
      'AADSTS90002',
    ]);
    // A loopback redirect URI matches on any port, as Entra ID allows.
    const ok = await completeConsent(
      `${graph.authorizeUrl(FABRIKAM)}?${new URLSearchParams({ client_id: graph.app.clientId, response_type: 'code', scope: 'openid', redirect_uri: 'http://localhost:1/teams/callback' })}`,
    );
    expect(ok.location.searchParams.get('code')).toBeTruthy();
  });
});
