import type { Server } from 'node:http';
import { freePort } from '@wabridge/core/testing';
import Provider from 'oidc-provider';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp } from '../testing/harness.ts';
import { createTestAccount, TEST_SCRYPT } from './testing.ts';

/**
 * Single sign-on against a real OpenID provider (`oidc-provider`, the certified implementation)
 * on a real port: the code flow with PKCE, state and nonce, through `openid-client`. The test plays
 * the browser: it follows redirects, keeps each site's cookies, and submits the provider's sign-in
 * and consent forms.
 */
const PUBLIC_URL = 'http://localhost:3000';
const CLIENT = { client_id: 'wabridge-admin', client_secret: 'wabridge-admin-client-secret-0123456789' };
/** The provider's people: login → claims. */
const PEOPLE: Record<string, { email: string; email_verified: boolean }> = {
  ana: { email: 'Ana@Example.com', email_verified: true },
  mallory: { email: 'mallory@example.com', email_verified: true },
  unverified: { email: 'owner2@example.com', email_verified: false },
};

let server: Server;
let issuer: string;
let t: Awaited<ReturnType<typeof createTestApp>>;

beforeAll(async () => {
  const port = await freePort();
  issuer = `http://127.0.0.1:${port}`;
  const provider = new Provider(issuer, {
    clients: [
      {
        ...CLIENT,
        redirect_uris: [`${PUBLIC_URL}/admin/api/auth/oidc/callback`],
        response_types: ['code'],
        grant_types: ['authorization_code'],
      },
    ],
    claims: { openid: ['sub'], email: ['email', 'email_verified'] },
    cookies: { keys: ['oidc-test-cookie-key'] },
    ttl: {
      Interaction: 600,
      Session: 3600,
      Grant: 3600,
      AccessToken: 600,
      IdToken: 600,
      AuthorizationCode: 60,
    },
    findAccount: async (_ctx: unknown, id: string) =>
      PEOPLE[id] ? { accountId: id, claims: () => ({ sub: id, ...PEOPLE[id] }) } : undefined,
  });
  server = provider.listen(port);
  t = await createTestApp({
    access: { scrypt: TEST_SCRYPT },
    env: {
      PUBLIC_URL,
      ADMIN_OIDC_ISSUER: issuer,
      ADMIN_OIDC_CLIENT_ID: CLIENT.client_id,
      ADMIN_OIDC_CLIENT_SECRET: CLIENT.client_secret,
    },
  });
  await createTestAccount(t.runtime, { email: 'ana@example.com', owner: true });
  await createTestAccount(t.runtime, { email: 'owner2@example.com', owner: true });
}, 60_000);

afterAll(async () => {
  await t?.close();
  await new Promise((resolve) => server?.close(resolve));
});

/** A browser: cookies per origin, redirects followed by hand (the gateway is `app.request`). */
function browser() {
  const jars = new Map<string, Map<string, string>>();
  const jar = (origin: string) => jars.get(origin) ?? jars.set(origin, new Map()).get(origin) ?? new Map();
  const send = async (url: URL, init: RequestInit = {}): Promise<Response> => {
    const cookies = jar(url.origin);
    const headers = new Headers(init.headers);
    if (cookies.size > 0) headers.set('cookie', [...cookies].map(([k, v]) => `${k}=${v}`).join('; '));
    const response =
      url.origin === PUBLIC_URL
        ? await t.app.request(`${url.pathname}${url.search}`, { ...init, headers })
        : await fetch(url, { ...init, headers, redirect: 'manual' });
    for (const line of response.headers.getSetCookie()) {
      const [pair = ''] = line.split(';');
      const at = pair.indexOf('=');
      const name = pair.slice(0, at);
      const value = pair.slice(at + 1);
      if (value === '' || /max-age=0|expires=thu, 01 jan 1970/i.test(line)) cookies.delete(name);
      else cookies.set(name, value);
    }
    return response;
  };
  return {
    jar,
    /** Follows redirects; answers forms of the provider with `answer` (login or consent). */
    async go(start: string, login: string, stopAt?: string): Promise<{ response: Response; url: URL }> {
      let url = new URL(start, PUBLIC_URL);
      let response = await send(url);
      for (let hops = 0; hops < 20; hops++) {
        const location = response.headers.get('location');
        if (response.status >= 300 && response.status < 400 && location) {
          url = new URL(location, url);
          if (url.pathname === stopAt) return { response, url };
          response = await send(url);
          continue;
        }
        if (url.origin === issuer && response.status === 200) {
          const html = await response.text();
          const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1];
          const prompt = /name="prompt" value="(\w+)"/.exec(html)?.[1];
          if (!action || !prompt) throw new Error(`no form on ${url}: ${html.slice(0, 200)}`);
          const form = new URLSearchParams({
            prompt,
            ...(prompt === 'login' ? { login, password: 'any' } : {}),
          });
          url = new URL(action, url);
          response = await send(url, {
            method: 'POST',
            body: form.toString(),
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
          });
          continue;
        }
        return { response, url };
      }
      throw new Error('too many redirects');
    },
  };
}

describe('single sign-on with OpenID Connect', () => {
  it('signs in the account whose verified email the provider vouches for, with a fresh session, and audits it', async () => {
    const b = browser();
    // The console's sign-in page offers it.
    const form = await (await t.app.request('/admin/sign-in')).text();
    expect(form).toContain('href="/admin/api/auth/oidc/login"');
    const { response, url } = await b.go('/admin/api/auth/oidc/login', 'ana');
    // Back on the console (/admin redirects to the workspaces page), signed in.
    expect(url.pathname).toBe('/admin/workspaces');
    expect(response.status).toBe(200);
    const session = b.jar(PUBLIC_URL).get('wabridge_admin');
    expect(session).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(b.jar(PUBLIC_URL).has('wabridge_oidc')).toBe(false);
    const me = await t.app.request('/admin/api/auth/me', {
      headers: { cookie: `wabridge_admin=${session}` },
    });
    expect(await me.json()).toMatchObject({ kind: 'session', actor: 'account:ana@example.com', owner: true });
    const [entry] = await t.runtime.store.listAudit({ action: 'session.create', limit: 1 });
    expect(entry).toMatchObject({ actor: 'account:ana@example.com', details: { method: 'oidc' } });
  });

  it('refuses a person with no account here, and an email the provider did not verify', async () => {
    const mallory = await browser().go('/admin/api/auth/oidc/login', 'mallory');
    expect(mallory.url.pathname).toBe('/admin/api/auth/oidc/callback');
    expect(mallory.response.status).toBe(403);
    expect(await mallory.response.json()).toMatchObject({ error: { code: 'forbidden' } });
    const unverified = await browser().go('/admin/api/auth/oidc/login', 'unverified');
    expect(unverified.response.status).toBe(403);
    expect(await unverified.response.text()).toContain('email_verified');
  });

  it('refuses a callback whose state does not match the flow this browser started (login CSRF)', async () => {
    // Mallory signs in at the provider and keeps the callback link with her code instead of following it…
    const mallory = await browser().go('/admin/api/auth/oidc/login', 'ana', '/admin/api/auth/oidc/callback');
    expect(mallory.url.searchParams.get('code')).toBeTruthy();
    // …and gets a victim who has started a sign-in of their own to open it.
    const victim = browser();
    await victim.go(
      '/admin/api/auth/oidc/login',
      'ana',
      `${new URL(issuer).pathname}auth`.replace('//', '/'),
    );
    expect(victim.jar(PUBLIC_URL).has('wabridge_oidc')).toBe(true);
    const planted = await victim.go(mallory.url.href, 'ana');
    expect(planted.response.status).toBe(400);
    expect(victim.jar(PUBLIC_URL).has('wabridge_admin')).toBe(false);
    // Without any flow of this browser: refused too.
    const noFlow = await browser().go(mallory.url.href, 'ana');
    expect(noFlow.response.status).toBe(400);
    expect(await noFlow.response.json()).toMatchObject({ error: { code: 'bad_request' } });
  });
});
