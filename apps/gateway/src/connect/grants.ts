/**
 * Signed, expiring tokens of the "Connect" flows (HubSpot, Microsoft): the install link the CLI
 * prints and the OAuth `state`. The platform and purpose are part of the MAC key, so a HubSpot
 * link never passes as a Teams one, nor an install link as a state. A state is also single-use:
 * its nonce is claimed in the store when the browser comes back (see `claimState`).
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Store } from '@wabridge/core';

export type ConnectPlatform = 'hubspot' | 'teams';

/** How long the link printed by the CLI works (an admin opens it soon after). */
export const INSTALL_LINK_TTL_MS = 60 * 60 * 1000;
/** How long a `state` works: the consent page is a click or two. */
export const STATE_TTL_MS = 10 * 60 * 1000;

export interface ConnectGrant {
  /** `pick`: the Teams channel picker's form, after the sign-in. */
  purpose: 'install' | 'state' | 'pick';
  workspace: string;
  /** Expiry, epoch milliseconds. */
  exp: number;
  /** Random; for `state`, the value of the browser cookie and the single-use key. */
  nonce: string;
}

/** Why a connect step was refused; `code` is shown on the error page and logged. */
export class ConnectRefused extends Error {
  override readonly name = 'ConnectRefused';
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

export const b64 = (value: Buffer | string) => Buffer.from(value).toString('base64url');
export const randomNonce = (bytes = 18) => b64(randomBytes(bytes));

function mac(secret: string, platform: ConnectPlatform, purpose: ConnectGrant['purpose'], body: string) {
  return createHmac('sha256', `wabridge ${platform} ${purpose}\0${secret}`).update(body).digest();
}

/** `<payload>.<signature>`, both base64url. */
export function signGrant(secret: string, platform: ConnectPlatform, grant: ConnectGrant): string {
  const body = b64(JSON.stringify(grant));
  return `${body}.${b64(mac(secret, platform, grant.purpose, body))}`;
}

/** The grant, or ConnectRefused `state_invalid` / `state_expired` (nothing is read before the signature). */
export function verifyGrant(
  secret: string,
  platform: ConnectPlatform,
  token: string | undefined,
  purpose: ConnectGrant['purpose'],
  now: number,
): ConnectGrant {
  const what = purpose === 'install' ? 'connect link' : purpose === 'pick' ? 'channel form' : 'state';
  const invalid = () => new ConnectRefused('state_invalid', `the ${what} is invalid`);
  const [body, signature, extra] = (token ?? '').split('.');
  if (!body || !signature || extra !== undefined) throw invalid();
  const expected = mac(secret, platform, purpose, body);
  const given = Buffer.from(signature, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw invalid();
  let grant: ConnectGrant;
  try {
    grant = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as ConnectGrant;
  } catch {
    throw invalid();
  }
  if (
    grant.purpose !== purpose ||
    typeof grant.workspace !== 'string' ||
    typeof grant.exp !== 'number' ||
    typeof grant.nonce !== 'string'
  ) {
    throw invalid();
  }
  if (now > grant.exp) throw new ConnectRefused('state_expired', `the ${what} has expired; start again`);
  return grant;
}

/** Marks a state used; a second callback with it (a replayed URL) is refused. */
export async function claimState(
  store: Store,
  platform: ConnectPlatform,
  grant: ConnectGrant,
): Promise<void> {
  const fresh = await store.claimExpiringKey(
    grant.workspace,
    `connect-state:${platform}`,
    grant.nonce,
    STATE_TTL_MS,
  );
  if (!fresh) throw new ConnectRefused('state_used', 'this connect link was already used; start again');
}

/**
 * The checks every OAuth callback starts with, in this order: the state is ours and unexpired, it
 * came back to the browser that started the flow (the nonce in that browser's cookie: login
 * CSRF), it is used once, and the platform answered with a code rather than an error. Returns the
 * grant and the code, or throws ConnectRefused; nothing is stored before all of them pass.
 */
export async function acceptCallback(
  store: Store,
  platform: ConnectPlatform,
  input: {
    secret: string;
    now: number;
    query: (name: string) => string | undefined;
    /** The nonce the state cookie of this browser carries. */
    cookieNonce: string | undefined;
    /** The platform's name in messages ("HubSpot", "Microsoft"). */
    platformName: string;
    /** What was started ("connection", "sign-in"), for the messages. */
    what: string;
  },
): Promise<{ grant: ConnectGrant; code: string }> {
  const grant = verifyGrant(input.secret, platform, input.query('state'), 'state', input.now);
  if (input.cookieNonce !== grant.nonce) {
    throw new ConnectRefused(
      'state_invalid',
      `this ${input.what} was started in another browser; start again`,
    );
  }
  await claimState(store, platform, grant);
  const error = input.query('error');
  if (error !== undefined) {
    throw new ConnectRefused(
      error === 'access_denied' ? 'access_denied' : 'oauth_error',
      error === 'access_denied'
        ? `the ${input.what} was cancelled in ${input.platformName}`
        : `${input.platformName} answered ${error}`,
    );
  }
  const code = input.query('code');
  if (!code) throw new ConnectRefused('bad_request', `${input.platformName} sent no code`);
  return { grant, code };
}

/** A refusal or success as a short page; only our own codes and messages, never a token. */
export function connectPage(
  status: number,
  title: string,
  message: string,
  body = '',
  /** `Set-Cookie` values (a returned Response does not carry what `setCookie(c, …)` set). */
  cookies: string[] = [],
): Response {
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head><body><h1>${escapeHtml(title)}</h1><p>${escapeHtml(message)}</p>${body}</body></html>`;
  const headers = new Headers({
    'content-type': 'text/html; charset=utf-8',
    'content-security-policy': "default-src 'none'; form-action 'self'; frame-ancestors 'none'",
    'cache-control': 'no-store',
    'referrer-policy': 'no-referrer',
  });
  for (const cookie of cookies) headers.append('set-cookie', cookie);
  return new Response(html, { status, headers });
}

export const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
