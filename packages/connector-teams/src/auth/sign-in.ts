import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { ConfidentialClientApplication } from '@azure/msal-node';
import { type Logger, silentLogger, WabridgeError } from '@wabridge/core';
import { createMsalApp } from './tokens.ts';

export interface SignInOptions {
  tenantId: string;
  clientId: string;
  clientSecret: string;
  authorityHost?: string;
  graphResource?: string;
  /** Local port of the redirect URI `http://localhost:<port>/callback` registered on the app. */
  port?: number;
  /** Shows the sign-in address to the admin (the CLI prints it). */
  open(url: string): void | Promise<void>;
  timeoutMs?: number;
  logger?: Logger;
}

export interface SignInResult {
  /** What goes into the connector's `refreshToken` (secret). */
  refreshToken: string;
  /** Object id of the account that signed in (the connector's `serviceAccountId`). */
  accountId: string;
  username: string | null;
}

/**
 * The service account's one-time interactive sign-in (authorization code flow on the app's own
 * registration, redirect to `http://localhost:<port>/callback`), to obtain the refresh token the
 * connector starts from. Run it again when re-consent is needed.
 *
 * @example const { refreshToken } = await signInServiceAccount({ tenantId, clientId, clientSecret, open: console.log })
 */
export async function signInServiceAccount(options: SignInOptions): Promise<SignInResult> {
  const port = options.port ?? 5177;
  const redirectUri = `http://localhost:${port}/callback`;
  const resource = (options.graphResource ?? 'https://graph.microsoft.com').replace(/\/$/, '');
  const scopes = [`${resource}/.default`, 'offline_access'];
  const msal = createMsalApp(
    {
      tenantId: options.tenantId,
      clientId: options.clientId,
      clientSecret: options.clientSecret,
      authorityHost: options.authorityHost ?? 'https://login.microsoftonline.com',
    },
    options.logger ?? silentLogger,
  );
  const state = randomBytes(16).toString('base64url');
  let settle!: { resolve: (code: string) => void; reject: (error: Error) => void };
  const codeArrived = new Promise<string>((resolve, reject) => {
    settle = { resolve, reject };
  });
  const server = createServer((request, response) => {
    const url = new URL(request.url ?? '/', redirectUri);
    if (url.pathname !== '/callback') {
      response.writeHead(404).end();
      return;
    }
    const reply = (status: number, text: string) =>
      response
        .writeHead(status, {
          'content-type': 'text/plain; charset=utf-8',
          'x-content-type-options': 'nosniff',
        })
        .end(text);
    if (url.searchParams.get('state') !== state) {
      reply(400, 'This sign-in link is not the one wabridge is waiting for.');
      return;
    }
    const code = url.searchParams.get('code');
    if (!code) {
      const error = url.searchParams.get('error_description') ?? url.searchParams.get('error') ?? 'no code';
      reply(400, `Sign-in failed: ${error}`);
      settle.reject(new WabridgeError('auth_failed', `sign-in failed: ${error}`));
      return;
    }
    reply(200, 'Signed in. You can close this tab and go back to the terminal.');
    settle.resolve(code);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const timer = setTimeout(
    () => settle.reject(new WabridgeError('auth_failed', 'no sign-in within the time allowed')),
    options.timeoutMs ?? 10 * 60_000,
  );
  try {
    const url = await msal.getAuthCodeUrl({ scopes, redirectUri, state, prompt: 'select_account' });
    await options.open(url);
    const code = await codeArrived;
    const result = await msal.acquireTokenByCode({ code, scopes, redirectUri });
    const refreshToken = refreshTokenOf(msal);
    return {
      refreshToken,
      accountId: result.account?.localAccountId ?? result.uniqueId,
      username: result.account?.username ?? null,
    };
  } finally {
    clearTimeout(timer);
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** The refresh token of a code redemption: MSAL keeps it in its cache only, and it is the one value the connector needs. */
export function refreshTokenOf(msal: ConfidentialClientApplication): string {
  const cache = JSON.parse(msal.getTokenCache().serialize()) as {
    RefreshToken?: Record<string, { secret?: string }>;
  };
  const refreshToken = Object.values(cache.RefreshToken ?? {})[0]?.secret;
  if (!refreshToken) {
    throw new WabridgeError(
      'auth_failed',
      'no refresh token was issued: is offline_access granted to the app?',
    );
  }
  return refreshToken;
}
