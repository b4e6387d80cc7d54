/**
 * "Add to Slack" (OAuth v2) for one wabridge workspace: signed, expiring tokens for the install
 * link and for Slack's `state`, and the authorize URL. The code exchange is the connector's
 * (`exchangeInstallCode`).
 * Flow: https://docs.slack.dev/authentication/installing-with-oauth
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { SLACK_BOT_SCOPES } from '@wabridge/connector-slack';
import { WabridgeError } from '@wabridge/core';
import type { Env } from './env.ts';

/** How long the link printed by the CLI works (an admin opens it soon after). */
export const INSTALL_LINK_TTL_MS = 60 * 60 * 1000;
/** How long Slack's `state` works: the consent page is one click (InstallProvider's default is 10 minutes too). */
export const STATE_TTL_MS = 10 * 60 * 1000;
/** The cookie that binds `state` to the browser that started the install (as InstallProvider does). */
export const STATE_COOKIE = 'wabridge_slack_state';

export interface InstallGrant {
  purpose: 'install' | 'state';
  workspace: string;
  /** Channel for `defaultChannel` when the workspace has none yet. */
  channel?: string;
  /** Expiry, epoch milliseconds. */
  exp: number;
  /** Random; for `state`, the value of the browser cookie. */
  nonce: string;
}

const b64 = (value: Buffer | string) => Buffer.from(value).toString('base64url');

function mac(secret: string, purpose: InstallGrant['purpose'], body: string): Buffer {
  // The purpose is in the key too: an install link can never pass as a state, nor the reverse.
  return createHmac('sha256', `wabridge slack ${purpose}\0${secret}`).update(body).digest();
}

/** `<payload>.<signature>`, both base64url. */
export function signGrant(secret: string, grant: InstallGrant): string {
  const body = b64(JSON.stringify(grant));
  return `${body}.${b64(mac(secret, grant.purpose, body))}`;
}

/** Why an install step was refused; `code` is shown on the error page and logged. */
export class InstallRefused extends Error {
  override readonly name = 'InstallRefused';
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

/** The grant, or InstallRefused `state_invalid` / `state_expired` (nothing is trusted before the signature). */
export function verifyGrant(
  secret: string,
  token: string | undefined,
  purpose: InstallGrant['purpose'],
  now = Date.now(),
): InstallGrant {
  const what = purpose === 'install' ? 'install link' : 'state';
  const invalid = () => new InstallRefused('state_invalid', `the ${what} is invalid`);
  const [body, signature, extra] = (token ?? '').split('.');
  if (!body || !signature || extra !== undefined) throw invalid();
  const expected = mac(secret, purpose, body);
  const given = Buffer.from(signature, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw invalid();
  let grant: InstallGrant;
  try {
    grant = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as InstallGrant;
  } catch {
    throw invalid();
  }
  if (grant.purpose !== purpose || typeof grant.workspace !== 'string' || typeof grant.exp !== 'number') {
    throw invalid();
  }
  if (now > grant.exp) {
    throw new InstallRefused('state_expired', `the ${what} has expired; start again`);
  }
  return grant;
}

/** The OAuth settings, or a WabridgeError naming what is missing. */
export function slackOAuthSettings(env: Env) {
  const missing = (['SLACK_CLIENT_ID', 'SLACK_CLIENT_SECRET', 'SLACK_STATE_SECRET'] as const).filter(
    (name) => env[name] === undefined,
  );
  if (missing.length > 0) {
    throw new WabridgeError('config_invalid', `"Add to Slack" needs ${missing.join(', ')}`, { status: 503 });
  }
  return {
    clientId: env.SLACK_CLIENT_ID as string,
    clientSecret: env.SLACK_CLIENT_SECRET as string,
    stateSecret: env.SLACK_STATE_SECRET as string,
    authorizeUrl: env.SLACK_AUTHORIZE_URL,
    apiUrl: env.SLACK_API_URL,
    redirectUri: `${env.publicUrl}/connect/slack/callback`,
  };
}

/** The link an admin opens (printed by `wabridge connector connect`). */
export function installLink(
  env: Env,
  workspace: string,
  options: { channel?: string; now?: number } = {},
): string {
  const settings = slackOAuthSettings(env);
  const ticket = signGrant(settings.stateSecret, {
    purpose: 'install',
    workspace,
    ...(options.channel ? { channel: options.channel } : {}),
    exp: (options.now ?? Date.now()) + INSTALL_LINK_TTL_MS,
    nonce: b64(randomBytes(12)),
  });
  return `${env.publicUrl}/connect/slack/${encodeURIComponent(workspace)}/install?ticket=${ticket}`;
}

/** Slack's authorize URL with a fresh state, and the nonce for the state cookie. */
export function authorizeRedirect(
  env: Env,
  workspace: string,
  channel: string | undefined,
  now = Date.now(),
): { url: string; nonce: string } {
  const settings = slackOAuthSettings(env);
  const nonce = b64(randomBytes(18));
  const state = signGrant(settings.stateSecret, {
    purpose: 'state',
    workspace,
    ...(channel ? { channel } : {}),
    exp: now + STATE_TTL_MS,
    nonce,
  });
  const url = new URL(settings.authorizeUrl);
  url.searchParams.set('client_id', settings.clientId);
  url.searchParams.set('scope', SLACK_BOT_SCOPES.join(','));
  url.searchParams.set('redirect_uri', settings.redirectUri);
  url.searchParams.set('state', state);
  return { url: url.toString(), nonce };
}
