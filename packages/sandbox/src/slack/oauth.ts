/**
 * "Add to Slack": the OAuth v2 install flow as Slack runs it, and what undoes it.
 *
 *   GET  /oauth/v2/authorize   client_id, scope, user_scope, redirect_uri, state, team
 *                              → consent page: workspace (or whole-organization) picker, Allow / Cancel
 *                              (https://docs.slack.dev/authentication/installing-with-oauth)
 *   POST /oauth/v2/authorize   the page's decision → 302 redirect_uri?code&state, or ?error=access_denied&state
 *   oauth.v2.access            code → installation and tokens; grant_type=refresh_token rotates
 *                              (https://docs.slack.dev/reference/methods/oauth.v2.access,
 *                              https://docs.slack.dev/authentication/using-token-rotation)
 *   apps.uninstall             the app removes itself from the token's workspace / organization
 *                              (https://docs.slack.dev/reference/methods/apps.uninstall)
 *   auth.revoke                revokes one token (https://docs.slack.dev/reference/methods/auth.revoke)
 *
 * Every revocation is followed by a signed `tokens_revoked` event and, when the installation has no
 * token left, `app_uninstalled` (https://docs.slack.dev/reference/events/tokens_revoked,
 * https://docs.slack.dev/reference/events/app_uninstalled).
 */
import { Hono } from 'hono';
import { consentErrorResponse, consentPageResponse } from '../shared/consent-page.ts';
import {
  AuthorizationCodes,
  clientCredentials,
  PendingConsents,
  redirectWith,
  safeEqual,
} from '../shared/oauth.ts';
import type { SlackCore } from './core.ts';
import { type Installation, KNOWN_SCOPES } from './installs.ts';
import { checkWebApiResponse } from './spec.ts';

interface ConsentRequest {
  redirectUri: string | undefined;
  target: string;
  state: string | undefined;
  scopes: string[];
  userScopes: string[];
  team: string | undefined;
}

interface CodeGrant {
  clientId: string;
  redirectUri: string | undefined;
  teamId: string | null;
  enterpriseId: string | null;
  orgWide: boolean;
  scopes: string[];
  userScopes: string[];
  installerUserId: string;
}

interface OAuthState {
  consents: PendingConsents<ConsentRequest>;
  codes: AuthorizationCodes<CodeGrant>;
}

const states = new WeakMap<SlackCore, OAuthState>();

function stateOf(core: SlackCore): OAuthState {
  let state = states.get(core);
  if (!state) {
    state = {
      consents: new PendingConsents({ now: core.clock.now }),
      codes: new AuthorizationCodes({ now: core.clock.now, ttlMs: core.oauth?.codeTtlMs ?? 600_000 }),
    };
    states.set(core, state);
  }
  return state;
}

const scopeList = (value: string | undefined) =>
  (value ?? '')
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter(Boolean);

/** `GET|POST /oauth/v2/authorize`: the consent page and its decision. */
export function createOAuthPages(core: SlackCore): Hono {
  const app = new Hono();
  const error = (title: string, message: string, code: string) => {
    core.record({ kind: 'oauth.authorize', outcome: 'invalid', clientId: undefined, error: code });
    return consentErrorResponse('slack', { title, message, code });
  };

  app.get('/oauth/v2/authorize', (c) => {
    const oauth = core.oauth;
    const query = new URL(c.req.url).searchParams;
    const clientId = query.get('client_id') ?? undefined;
    if (!oauth || !safeEqual(clientId, oauth.clientId)) {
      return error('Something went wrong', 'Invalid client_id parameter.', 'invalid_client_id');
    }
    const redirectUri = query.get('redirect_uri') ?? undefined;
    if (redirectUri !== undefined) {
      let parsed: URL | undefined;
      try {
        parsed = new URL(redirectUri);
      } catch {
        parsed = undefined;
      }
      if (!parsed || (oauth.redirectUris.length > 0 && !oauth.redirectUris.includes(redirectUri))) {
        return error(
          'Something went wrong',
          'redirect_uri did not match any configured URIs.',
          'bad_redirect_uri',
        );
      }
    } else if (oauth.redirectUris.length === 0) {
      return error(
        'Something went wrong',
        'No redirect_uri given and none configured for this app.',
        'bad_redirect_uri',
      );
    }
    const target = redirectUri ?? (oauth.redirectUris[0] as string);
    const scopes = scopeList(query.get('scope') ?? undefined);
    const userScopes = scopeList(query.get('user_scope') ?? undefined);
    if (scopes.length === 0 && userScopes.length === 0) {
      return error('Something went wrong', 'No scopes requested (scope or user_scope).', 'invalid_scope');
    }
    const unknown = [...scopes, ...userScopes].filter((s) => !KNOWN_SCOPES.has(s));
    if (unknown.length > 0) {
      return error(
        'Something went wrong',
        `Invalid permissions requested: ${unknown.join(', ')}.`,
        'invalid_scope',
      );
    }
    const team = query.get('team') ?? undefined;
    if (team !== undefined && !core.installs.teams.has(team) && !core.installs.enterprises.has(team)) {
      return error('Something went wrong', `Unknown workspace ${team}.`, 'invalid_team');
    }
    const request: ConsentRequest = {
      redirectUri,
      target,
      state: query.get('state') ?? undefined,
      scopes,
      userScopes,
      team,
    };
    const options = choicesFor(core, team);
    if (oauth.consent === 'auto') {
      const choice = options[0];
      if (!choice) return error('Something went wrong', 'No workspace to install into.', 'invalid_team');
      core.record({ kind: 'oauth.authorize', outcome: 'auto', clientId, error: undefined });
      return c.redirect(approve(core, oauth.clientId, request, choice.value), 302);
    }
    const id = stateOf(core).consents.open(request);
    core.record({ kind: 'oauth.authorize', outcome: 'page', clientId, error: undefined });
    return consentPageResponse({
      platform: 'slack',
      heading: `wabridge is requesting permission to access a Slack workspace`,
      action: '/oauth/v2/authorize',
      hidden: { request: id },
      picker: { name: 'choice', legend: 'Where should wabridge be installed?', options },
      permissions: [
        { title: 'What will wabridge be able to view and do?', items: scopes.map(describeScope) },
        { title: 'On your behalf, wabridge will be able to', items: userScopes.map(describeScope) },
      ],
      signedInAs: signedInAs(core, team),
      allowLabel: 'Allow',
      cancelLabel: 'Cancel',
      ...(core.oauth?.orgDeployEnabled
        ? {
            note: 'Installing on a whole organization adds wabridge to every workspace of the organization.',
          }
        : {}),
      redirectOrigin: new URL(target).origin,
    });
  });

  app.post('/oauth/v2/authorize', async (c) => {
    const oauth = core.oauth;
    const form = new URLSearchParams(await c.req.text());
    const request = stateOf(core).consents.take(form.get('request'));
    if (!oauth || !request) {
      return error('This link has expired', 'Start the installation again from the app.', 'expired_request');
    }
    if (form.get('decision') !== 'allow') {
      core.record({
        kind: 'oauth.decision',
        decision: 'cancel',
        teamId: null,
        enterpriseId: null,
        isEnterpriseInstall: false,
        scopes: request.scopes,
        userScopes: request.userScopes,
      });
      return c.redirect(redirectWith(request.target, { error: 'access_denied', state: request.state }), 302);
    }
    const choice = form.get('choice') ?? '';
    if (!choicesFor(core, request.team).some((o) => o.value === choice)) {
      return error('Something went wrong', `Cannot install into "${choice}".`, 'invalid_team');
    }
    return c.redirect(approve(core, oauth.clientId, request, choice), 302);
  });

  return app;
}

/** The workspaces (and, for an org-ready app, organizations) the person may install into. */
function choicesFor(core: SlackCore, team: string | undefined) {
  const options: { value: string; label: string; detail: string; selected?: boolean }[] = [];
  for (const t of core.installs.teams.values()) {
    if (team !== undefined && team !== t.id && team !== t.enterpriseId) continue;
    options.push({ value: t.id, label: t.name, detail: `${t.domain}.slack.com`, selected: team === t.id });
  }
  if (core.oauth?.orgDeployEnabled) {
    for (const e of core.installs.enterprises.values()) {
      const inScope =
        team === undefined || team === e.id || core.installs.teams.get(team)?.enterpriseId === e.id;
      if (!inScope) continue;
      options.push({
        value: `org:${e.id}`,
        label: `${e.name} (whole organization)`,
        detail: `${e.domain}.enterprise.slack.com`,
        selected: team === e.id,
      });
    }
  }
  return options;
}

function signedInAs(core: SlackCore, team: string | undefined): string {
  const t = team ? core.installs.teams.get(team) : undefined;
  const e = team ? core.installs.enterprises.get(team) : undefined;
  return (t ?? e ?? [...core.installs.teams.values()][0])?.admin.name ?? 'a Slack admin';
}

/** The person allowed: a code bound to their choice, sent back to the client. */
function approve(core: SlackCore, clientId: string, request: ConsentRequest, choice: string): string {
  const orgWide = choice.startsWith('org:');
  const enterpriseId = orgWide ? choice.slice(4) : (core.installs.teams.get(choice)?.enterpriseId ?? null);
  const teamId = orgWide ? null : choice;
  const installer = orgWide
    ? core.installs.enterprises.get(choice.slice(4))?.admin
    : core.installs.teams.get(choice)?.admin;
  core.record({
    kind: 'oauth.decision',
    decision: 'allow',
    teamId,
    enterpriseId,
    isEnterpriseInstall: orgWide,
    scopes: request.scopes,
    userScopes: request.userScopes,
  });
  const code = stateOf(core).codes.issue({
    clientId,
    redirectUri: request.redirectUri,
    teamId,
    enterpriseId,
    orgWide,
    scopes: request.scopes,
    userScopes: request.userScopes,
    installerUserId: installer?.id ?? 'U0UNKNOWN',
  });
  return redirectWith(request.target, { code, state: request.state });
}

const SCOPE_TEXT: Record<string, string> = {
  'chat:write': 'Send messages as @wabridge',
  'chat:write.customize': 'Send messages as @wabridge with a customized username and avatar',
  'channels:history': 'View messages and other content in public channels that wabridge has been added to',
  'channels:read': 'View basic information about public channels in a workspace',
  'files:read': 'View files shared in channels and conversations that wabridge has been added to',
  'files:write': 'Upload, edit, and delete files as wabridge',
  'reactions:write': 'Add and edit emoji reactions',
  'reactions:read': 'View emoji reactions and their associated content',
  'users:read': 'View people in a workspace',
  commands: 'Add shortcuts and/or slash commands that people can use',
};
const describeScope = (scope: string) => (SCOPE_TEXT[scope] ? `${SCOPE_TEXT[scope]} (${scope})` : scope);

// ------------------------------------------------------------------------------------------------
// Web API methods that authenticate the app rather than (only) a token

export interface OAuthCall {
  args: Record<string, unknown>;
  token: string | undefined;
  basic: string | undefined;
}

type OAuthMethod = (
  core: SlackCore,
  call: OAuthCall,
) => Promise<Record<string, unknown>> | Record<string, unknown>;

const text = (value: unknown): string | undefined =>
  typeof value === 'string' && value !== '' ? value : undefined;

/** Client authentication of an OAuth method: Basic auth (recommended by Slack) or form fields. */
function checkClient(core: SlackCore, method: string, call: OAuthCall): Record<string, unknown> | null {
  const form = new URLSearchParams();
  for (const key of ['client_id', 'client_secret']) {
    const value = text(call.args[key]);
    if (value !== undefined) form.set(key, value);
  }
  const credentials = clientCredentials(call.basic, form);
  const fail = (error: string) => {
    core.record({ kind: 'oauth.rejected', method, error, grantType: String(call.args.grant_type ?? '') });
    return { ok: false, error };
  };
  if (!core.oauth || !safeEqual(credentials.id, core.oauth.clientId)) return fail('invalid_client_id');
  if (credentials.conflict || !safeEqual(credentials.secret, core.oauth.clientSecret)) {
    return fail('bad_client_secret');
  }
  return null;
}

function checked(method: string, body: Record<string, unknown>, core: SlackCore): Record<string, unknown> {
  if (core.validateRequests) {
    const problems = checkWebApiResponse(method, body);
    if (problems.length > 0) {
      throw new Error(`the Slack emulator built an invalid ${method} answer: ${problems.join('; ')}`);
    }
  }
  return body;
}

export const OAUTH_METHODS: Record<string, OAuthMethod> = {
  'oauth.v2.access': (core, call) => {
    const refused = checkClient(core, 'oauth.v2.access', call);
    if (refused) return checked('oauth.v2.access', refused, core);
    const grantType = text(call.args.grant_type) ?? 'authorization_code';
    const fail = (error: string) => {
      core.record({ kind: 'oauth.rejected', method: 'oauth.v2.access', error, grantType });
      return checked('oauth.v2.access', { ok: false, error }, core);
    };
    if (grantType === 'refresh_token') return refresh(core, text(call.args.refresh_token), fail);
    if (grantType !== 'authorization_code') return fail('invalid_grant_type');
    const redemption = stateOf(core).codes.redeem(text(call.args.code));
    if (redemption.status === 'unknown' || redemption.status === 'expired') return fail('invalid_code');
    if (redemption.status === 'used') return fail('code_already_used');
    const grant = redemption.data;
    // "This must match the originally submitted URI (if one was sent)."
    if (text(call.args.redirect_uri) !== grant.redirectUri && grant.redirectUri !== undefined) {
      return fail('bad_redirect_uri');
    }
    return checked('oauth.v2.access', install(core, grant), core);
  },

  'apps.uninstall': (core, call) => {
    const refused = checkClient(core, 'apps.uninstall', call);
    if (refused) return checked('apps.uninstall', refused, core);
    if (!call.token) return checked('apps.uninstall', { ok: false, error: 'not_authed' }, core);
    const auth = core.installs.authenticate(call.token);
    if (typeof auth === 'string') return checked('apps.uninstall', { ok: false, error: auth }, core);
    uninstall(core, auth.installation, 'apps.uninstall');
    return checked('apps.uninstall', { ok: true }, core);
  },

  'auth.revoke': (core, call) => {
    if (!call.token) return checked('auth.revoke', { ok: false, error: 'not_authed' }, core);
    const auth = core.installs.authenticate(call.token);
    if (typeof auth === 'string') return checked('auth.revoke', { ok: false, error: auth }, core);
    const test = call.args.test === true || call.args.test === 'true' || call.args.test === '1';
    if (!test) revokeTokens(core, auth.installation, (t) => t.token === auth.token.token, 'auth.revoke');
    return checked('auth.revoke', { ok: true, revoked: !test }, core);
  },
};

/** Turns a redeemed code into an installation and the documented `oauth.v2.access` answer. */
function install(core: SlackCore, grant: CodeGrant): Record<string, unknown> {
  const rotation = core.oauth?.rotation ?? null;
  const { installation, reinstall } = core.installs.install({
    teamId: grant.teamId,
    enterpriseId: grant.enterpriseId,
    isEnterpriseInstall: grant.orgWide,
    scopes: grant.scopes,
    userScopes: grant.userScopes,
    installerUserId: grant.installerUserId,
  });
  const ref = core.installs.ref(installation);
  core.record({
    kind: 'install.created',
    ...ref,
    botUserId: installation.botUserId,
    botId: installation.botId,
    scopes: installation.scopes,
    installerUserId: installation.installerUserId,
    reinstall,
  });
  const team = installation.teamId ? core.installs.team(installation.teamId) : undefined;
  const enterprise = installation.enterpriseId
    ? core.installs.enterprises.get(installation.enterpriseId)
    : undefined;
  const body: Record<string, unknown> = {
    ok: true,
    app_id: core.appId,
    authed_user: { id: grant.installerUserId },
  };
  if (grant.scopes.length > 0) {
    const { token, refreshToken } = core.installs.issueToken(
      installation,
      'bot',
      installation.botUserId,
      rotation,
    );
    core.record({
      kind: 'token.issued',
      ...ref,
      tokenType: 'bot',
      rotating: rotation !== null,
      grant: 'authorization_code',
    });
    Object.assign(body, {
      scope: installation.scopes.join(','),
      token_type: 'bot',
      access_token: token.token,
      bot_user_id: installation.botUserId,
      ...(refreshToken && token.expiresAt !== null
        ? { refresh_token: refreshToken, expires_in: Math.round((token.expiresAt - core.clock.now()) / 1000) }
        : {}),
    });
  }
  if (grant.userScopes.length > 0) {
    const { token, refreshToken } = core.installs.issueToken(
      installation,
      'user',
      grant.installerUserId,
      rotation,
    );
    core.record({
      kind: 'token.issued',
      ...ref,
      tokenType: 'user',
      rotating: rotation !== null,
      grant: 'authorization_code',
    });
    body.authed_user = {
      id: grant.installerUserId,
      scope: installation.userScopes.join(','),
      access_token: token.token,
      token_type: 'user',
      ...(refreshToken && token.expiresAt !== null
        ? { refresh_token: refreshToken, expires_in: Math.round((token.expiresAt - core.clock.now()) / 1000) }
        : {}),
    };
  }
  Object.assign(body, {
    team: team ? { id: team.id, name: team.name } : null,
    enterprise: enterprise ? { id: enterprise.id, name: enterprise.name } : null,
    is_enterprise_install: installation.isEnterpriseInstall,
  });
  return body;
}

/** `grant_type=refresh_token`: a new access token and a new refresh token; the old one is spent. */
function refresh(
  core: SlackCore,
  refreshToken: string | undefined,
  fail: (error: string) => Record<string, unknown>,
): Record<string, unknown> {
  const rotation = core.oauth?.rotation;
  const grant = refreshToken ? core.installs.refreshTokens.get(refreshToken) : undefined;
  if (!rotation || !grant || !refreshToken) return fail('invalid_refresh_token');
  const installation = core.installs.installations.get(grant.installKey);
  core.installs.refreshTokens.delete(refreshToken);
  if (!installation?.active) return fail('invalid_refresh_token');
  const { token, refreshToken: next } = core.installs.issueToken(
    installation,
    grant.tokenType,
    grant.userId,
    rotation,
  );
  const ref = core.installs.ref(installation);
  core.record({
    kind: 'token.issued',
    ...ref,
    tokenType: grant.tokenType,
    rotating: true,
    grant: 'refresh_token',
  });
  const team = installation.teamId ? core.installs.team(installation.teamId) : undefined;
  const enterprise = installation.enterpriseId
    ? core.installs.enterprises.get(installation.enterpriseId)
    : undefined;
  return {
    ok: true,
    app_id: core.appId,
    scope: token.scopes.join(','),
    token_type: grant.tokenType,
    access_token: token.token,
    ...(grant.tokenType === 'bot' ? { bot_user_id: installation.botUserId } : { user_id: grant.userId }),
    refresh_token: next,
    expires_in: Math.round(rotation.ttlMs / 1000),
    team: team ? { id: team.id, name: team.name } : null,
    enterprise: enterprise ? { id: enterprise.id, name: enterprise.name } : null,
    is_enterprise_install: installation.isEnterpriseInstall,
  };
}

// ------------------------------------------------------------------------------------------------
// Revocation and uninstall

/** Revokes tokens of an installation, tells the app, and uninstalls it when nothing is left. */
export function revokeTokens(
  core: SlackCore,
  installation: Installation,
  which: (token: { token: string; tokenType: 'bot' | 'user'; userId: string }) => boolean,
  reason: string,
): void {
  const revoked = core.installs.revoke((t) => t.installKey === installation.key && which(t));
  if (revoked.length === 0) return;
  const ref = core.installs.ref(installation);
  for (const token of revoked) {
    core.record({ kind: 'token.revoked', ...ref, tokenType: token.tokenType, userId: token.userId, reason });
  }
  const bot = [...new Set(revoked.filter((t) => t.tokenType === 'bot').map((t) => t.userId))];
  const oauth = [...new Set(revoked.filter((t) => t.tokenType === 'user').map((t) => t.userId))];
  const events: Record<string, unknown>[] = [
    {
      type: 'tokens_revoked',
      tokens: { ...(oauth.length > 0 ? { oauth } : {}), ...(bot.length > 0 ? { bot } : {}) },
    },
  ];
  if (!core.installs.hasLiveTokens(installation.key)) {
    installation.active = false;
    core.record({ kind: 'install.removed', ...ref, reason: 'last_token_revoked' });
    events.push({ type: 'app_uninstalled' });
  }
  core.sendLifecycle(installation, events);
}

/** Removes the app from a workspace or organization: every token goes, then the two events. */
export function uninstall(
  core: SlackCore,
  installation: Installation,
  reason: 'apps.uninstall' | 'admin',
): void {
  if (!installation.active) return;
  const revoked = core.installs.revoke((t) => t.installKey === installation.key);
  installation.active = false;
  const ref = core.installs.ref(installation);
  for (const token of revoked) {
    core.record({ kind: 'token.revoked', ...ref, tokenType: token.tokenType, userId: token.userId, reason });
  }
  core.record({ kind: 'install.removed', ...ref, reason });
  const bot = [...new Set(revoked.filter((t) => t.tokenType === 'bot').map((t) => t.userId))];
  const oauth = [...new Set(revoked.filter((t) => t.tokenType === 'user').map((t) => t.userId))];
  core.sendLifecycle(installation, [
    ...(revoked.length > 0
      ? [
          {
            type: 'tokens_revoked',
            tokens: { ...(oauth.length > 0 ? { oauth } : {}), ...(bot.length > 0 ? { bot } : {}) },
          },
        ]
      : []),
    { type: 'app_uninstalled' },
  ]);
}
