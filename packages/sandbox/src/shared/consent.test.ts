import { Hono } from 'hono';
import { afterEach, describe, expect, it } from 'vitest';
import { ConsentPageError, completeConsent } from './consent-client.ts';
import { consentErrorResponse, consentPageResponse } from './consent-page.ts';
import {
  AuthorizationCodes,
  clientCredentials,
  isValidPkceVerifier,
  parseBasicAuth,
  pkceChallenge,
  safeEqual,
} from './oauth.ts';
import { type RunningServer, startServer } from './server.ts';

let server: RunningServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** A platform whose authorize page offers two choices and sends the decision back to a client. */
async function platform(names: string[]) {
  const decisions: URLSearchParams[] = [];
  const app = new Hono();
  app.get('/authorize', () =>
    consentPageResponse({
      platform: 'slack',
      heading: 'App wants access',
      action: '/authorize',
      hidden: { request: 'req-1' },
      picker: {
        name: 'choice',
        legend: 'Where?',
        options: names.map((label, i) => ({ value: `v${i}`, label })),
      },
      permissions: [{ title: 'It will', items: ['read <everything>'] }],
      allowLabel: 'Allow',
      cancelLabel: 'Cancel',
      redirectOrigin: 'https://client.example',
    }),
  );
  app.post('/authorize', async (c) => {
    const form = new URLSearchParams(await c.req.text());
    decisions.push(form);
    return c.redirect(
      `https://client.example/cb?picked=${form.get('choice')}&decision=${form.get('decision')}`,
      302,
    );
  });
  app.get('/broken', () =>
    consentErrorResponse('microsoft', { title: 'No', message: 'Bad <client>', code: 'E1' }),
  );
  server = await startServer(app);
  return { url: server.url, decisions };
}

describe('consent pages', () => {
  it('escape what they show and forbid scripts, framing and foreign form targets', async () => {
    const { url } = await platform(['<img src=x onerror=alert(1)>', 'Plain']);
    const response = await fetch(`${url}/authorize`);
    const html = await response.text();
    expect(html).not.toContain('<img src=x');
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(html).toContain('read &lt;everything&gt;');
    expect(html).not.toMatch(/<script|style="/);
    const csp = response.headers.get('content-security-policy') ?? '';
    expect(csp).toMatch(/default-src 'none'/);
    expect(csp).toMatch(/form-action 'self' https:\/\/client\.example/);
    expect(csp).toMatch(/frame-ancestors 'none'/);
    expect(csp).not.toMatch(/unsafe-inline/);
    expect(response.headers.get('x-frame-options')).toBe('DENY');
  });

  it('are answered headlessly by completeConsent: a choice by label or value, Allow or Cancel', async () => {
    const { url, decisions } = await platform(['Acme', 'Globex']);
    const byLabel = await completeConsent(`${url}/authorize`, { choose: 'Globex' });
    expect(Object.fromEntries(byLabel.location.searchParams)).toEqual({ picked: 'v1', decision: 'allow' });
    expect(byLabel.options).toEqual([
      { value: 'v0', label: 'Acme' },
      { value: 'v1', label: 'Globex' },
    ]);
    expect(decisions[0]?.get('request')).toBe('req-1');
    const cancelled = await completeConsent(`${url}/authorize`, { decision: 'cancel' });
    expect(cancelled.location.searchParams.get('decision')).toBe('cancel');
    await expect(completeConsent(`${url}/authorize`, { choose: 'Initech' })).rejects.toThrow(
      /no option 'Initech'/,
    );
    await expect(completeConsent(`${url}/broken`)).rejects.toBeInstanceOf(ConsentPageError);
    await expect(completeConsent(`${url}/broken`)).rejects.toThrow(/Bad <client>/);
  });
});

describe('OAuth helpers', () => {
  it('redeem a code once, before it expires, and tell used from expired', () => {
    let now = 0;
    const codes = new AuthorizationCodes<{ who: string }>({ now: () => now, ttlMs: 1000 });
    const code = codes.issue({ who: 'ada' });
    expect(codes.redeem(code)).toEqual({ status: 'ok', data: { who: 'ada' } });
    expect(codes.redeem(code).status).toBe('used');
    const late = codes.issue({ who: 'bob' });
    now = 1000;
    expect(codes.redeem(late).status).toBe('expired');
    expect(codes.redeem('made-up').status).toBe('unknown');
  });

  it('compute S256 as RFC 7636 Appendix B does, and read client credentials from Basic or the form', () => {
    expect(pkceChallenge('dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk', 'S256')).toBe(
      'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    );
    expect(isValidPkceVerifier('short')).toBe(false);
    expect(parseBasicAuth(`Basic ${Buffer.from('id%3Aa:s%C3%A9cret').toString('base64')}`)).toEqual({
      id: 'id:a',
      secret: 'sécret',
    });
    const basic = `Basic ${Buffer.from('app:secret').toString('base64')}`;
    expect(clientCredentials(basic, new URLSearchParams())).toMatchObject({
      id: 'app',
      secret: 'secret',
      method: 'basic',
      conflict: false,
    });
    expect(clientCredentials(basic, new URLSearchParams({ client_secret: 'other' })).conflict).toBe(true);
    expect(
      clientCredentials(undefined, new URLSearchParams({ client_id: 'app', client_secret: 's' })).method,
    ).toBe('form');
    expect(safeEqual('abc', 'abc')).toBe(true);
    expect(safeEqual('abc', 'abcd')).toBe(false);
    expect(safeEqual(undefined, 'abc')).toBe(false);
  });
});
