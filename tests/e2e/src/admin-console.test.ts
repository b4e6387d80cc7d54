import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { startTestGateway, TEST_ACCESS_TOKEN, TEST_APP_SECRET } from '@wabridge/gateway/testing';
import { type GraphEmulator, startGraphEmulator, trustCertificateInProcess } from '@wabridge/sandbox/graph';
import { type HubSpotEmulator, startHubSpotEmulator } from '@wabridge/sandbox/hubspot';
import { type SlackEmulator, startSlackEmulator } from '@wabridge/sandbox/slack';
import { startWhatsAppEmulator, type WhatsAppEmulator } from '@wabridge/sandbox/whatsapp';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seriousViolations } from './support/axe.ts';

/**
 * The admin console in Chromium against a real gateway and the four platform emulators: an owner
 * signs in, creates a workspace, adds its number, enables Slack, HubSpot and Teams through the
 * validated forms and "Test connection", sees a customer's WhatsApp message counted in health, and
 * replays a dead job; an auditor finds no control that changes anything, and is refused when
 * posting one anyway. axe-core checks every page visited (no serious or critical violation).
 *
 * `WABRIDGE_SCREENSHOTS=1 npx vitest run src/admin-console.test.ts` also saves the screenshots of
 * docs/admin.md (docs/images/admin-*.png).
 */
const CHROMIUM_ARGS = [
  '--headless=new',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const WAIT = { timeout: 60_000 };
const NUMBER = '106540352242922';
const SLACK_CHANNEL = 'C0SUPPORT01';
const TEAM = 'fbe2bf47-16c8-47cf-b4a5-4b9b187c508b';
const TEAMS_CHANNEL = '19:4a1f5b2c8d6e4f0a9b3c7d1e2f3a4b5c@thread.tacv2';
const OWNER = { email: 'owner@acme.example', password: 'correct horse battery staple' };
const AUDITOR = { email: 'auditor@acme.example', password: 'auditors read everything' };
const COMPLIANCE = { email: 'compliance@acme.example', password: 'holds come before erasure' };
const HUBSPOT_TOKEN = 'pat-na1-0a1b2c3d4e5f60718293a4b5c6d7e8f9';
const SCREENSHOTS = process.env.WABRIDGE_SCREENSHOTS === '1';
const IMAGES = fileURLToPath(new URL('../../../docs/images/', import.meta.url));
const BIN = fileURLToPath(new URL('../../../apps/gateway/bin/wabridge.mjs', import.meta.url));

type Gateway = Awaited<ReturnType<typeof startTestGateway>>;
let wa: WhatsAppEmulator;
let slack: SlackEmulator;
let hubspot: HubSpotEmulator;
let graph: GraphEmulator;
let gw: Gateway;
let browser: Browser | undefined;
const violations: string[] = [];

beforeAll(async () => {
  wa = await startWhatsAppEmulator({
    appSecret: TEST_APP_SECRET,
    accessToken: TEST_ACCESS_TOKEN,
    rules: { pairRate: { enabled: false } },
  });
  slack = await startSlackEmulator({
    signingSecret: 'e2e-admin-signing-secret',
    botToken: 'xoxb-2000-3000-e2eadminconsole',
    channels: [{ id: SLACK_CHANNEL, name: 'whatsapp-support' }],
  });
  hubspot = await startHubSpotEmulator({
    accessToken: HUBSPOT_TOKEN,
    clientSecret: 'e2e-hubspot-client-secret',
    portalId: 4_242_424,
  });
  graph = await startGraphEmulator({
    teams: [
      {
        id: TEAM,
        displayName: 'Customer Support',
        channels: [{ id: TEAMS_CHANNEL, displayName: 'WhatsApp' }],
      },
    ],
  });
  trustCertificateInProcess(graph.certificate);
  gw = await startTestGateway({ env: { WHATSAPP_API_BASE_URL: wa.url } });
  wa.setWebhookUrl(gw.webhookUrl);
  await createAccounts();
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await gw?.close();
  await graph?.close();
  await hubspot?.close();
  await slack?.close();
  await wa?.close();
});

/** The owner as `wabridge admin create-owner` makes it; the auditor once the workspace exists. */
async function createAccounts(): Promise<void> {
  await gw.runtime.access.createAccount('e2e', { ...OWNER, name: 'Olivia Owner', owner: true });
}

async function grantAuditor(): Promise<void> {
  const account = await gw.runtime.access.createAccount('e2e', { ...AUDITOR, name: 'Aude Auditor' });
  await gw.runtime.access.setGrant('e2e', { accountId: account.id, workspaceId: 'acme', role: 'auditor' });
}

async function newPage(): Promise<{ context: BrowserContext; page: Page }> {
  // axe-core is injected as a script; the console's CSP allows none.
  const context = await browser!.newContext({ bypassCSP: true, viewport: { width: 1280, height: 900 } });
  return { context, page: await context.newPage() };
}

/** Checks the page as it stands with axe-core and keeps what it finds for the last assertion. */
async function audit(page: Page): Promise<void> {
  violations.push(...(await seriousViolations(page)));
}

async function screenshot(page: Page, name: string): Promise<void> {
  if (!SCREENSHOTS) return;
  mkdirSync(IMAGES, { recursive: true });
  await page.screenshot({ path: `${IMAGES}admin-${name}.png`, fullPage: true });
}

async function signIn(page: Page, who: { email: string; password: string }): Promise<void> {
  await page.goto(`${gw.url}/admin`, WAIT);
  await page.getByRole('heading', { name: 'Sign in' }).waitFor(WAIT);
  await audit(page);
  await page.getByLabel('Email').fill(who.email);
  await page.getByLabel('Password').fill(who.password);
  await Promise.all([
    page.waitForURL(`${gw.url}/admin/workspaces`, WAIT),
    page.getByRole('button', { name: 'Sign in' }).click(),
  ]);
}

async function submit(page: Page, button: string): Promise<void> {
  await Promise.all([
    page.waitForLoadState('load'),
    page.getByRole('button', { name: button, exact: true }).click(),
  ]);
}

/** The state badge of a connector page, with the page's errors when something was refused. */
async function connectorState(page: Page): Promise<string> {
  const state = (await page.getByTestId('connector-state').textContent()) ?? '';
  const errors = await page.locator('.error, .notice.bad').allTextContents();
  return errors.length > 0 ? `${state} (${errors.join(' | ')})` : state;
}

/** Polls the store (not the clock): the worker settles jobs in the background. */
async function until<T>(what: string, read: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function configure(page: Page, connector: string, fields: Record<string, string>): Promise<void> {
  await page.goto(`${gw.url}/admin/workspaces/acme/connectors/${connector}`, WAIT);
  // The less common settings (API URLs of the emulators among them) are folded away.
  await page.getByText(/^More settings/).click();
  for (const [key, value] of Object.entries(fields)) {
    const field = page.locator(`[name="cfg.${key}"]`);
    if ((await field.evaluate((el) => el.tagName)) === 'SELECT') await field.selectOption(value);
    else await field.fill(value);
  }
}

describe('the admin console in Chromium', () => {
  it('an owner signs in, creates a workspace, adds a number, enables Slack, HubSpot and Teams with validated forms and "Test connection", sees a WhatsApp message counted in health, and replays a dead job', async () => {
    const { context, page } = await newPage();
    await signIn(page, OWNER);
    await audit(page);

    // A workspace: a bad id is refused with the field marked, then the right one.
    await page.getByLabel('Name', { exact: true }).fill('Acme Support');
    await page.getByLabel('Id', { exact: true }).fill('Acme!');
    await submit(page, 'Create workspace');
    await expect.poll(() => page.locator('#f-id').getAttribute('aria-invalid')).toBe('true');
    await audit(page);
    expect(await gw.runtime.store.getWorkspace('Acme!')).toBeNull();
    await page.getByLabel('Id', { exact: true }).fill('acme');
    await submit(page, 'Create workspace');
    await page.waitForURL(`${gw.url}/admin/workspaces/acme?done=workspace-created`, WAIT);

    // A number: the phone number instead of Meta's id is refused, then the id is added.
    await page.getByLabel('Phone number id').fill('+1 555 078 3881');
    await submit(page, 'Add number');
    expect(await page.locator('#f-phoneNumberId-error').textContent()).toContain('Digits only');
    await audit(page);
    await page.getByLabel('Phone number id').fill(NUMBER);
    await page.getByLabel('Display number (optional)').fill('+1 555 078 3881');
    await submit(page, 'Add number');
    await page.getByRole('cell', { name: NUMBER, exact: true }).waitFor(WAIT);
    expect((await gw.runtime.store.resolvePhoneNumber(NUMBER))?.workspaceId).toBe('acme');

    // Removing asks first (the console's one script); cancelled, the number stays; confirmed, it goes.
    await page.getByLabel('Phone number id').fill('106540352242923');
    await submit(page, 'Add number');
    const remove = page.getByRole('button', { name: 'Remove number 106540352242923' });
    page.once('dialog', (dialog) => void dialog.dismiss());
    await remove.click();
    expect(await gw.runtime.store.resolvePhoneNumber('106540352242923')).not.toBeNull();
    page.once('dialog', (dialog) => void dialog.accept());
    await Promise.all([page.waitForURL(/done=number-removed/, WAIT), remove.click()]);
    expect(await gw.runtime.store.resolvePhoneNumber('106540352242923')).toBeNull();

    // Slack: a user token where the bot token goes, and no team id: both fields marked, nothing stored.
    await configure(page, 'slack', {
      botToken: 'xoxp-1234-5678-abcdef',
      signingSecret: slack.signingSecret,
      defaultChannel: SLACK_CHANNEL,
      slackApiUrl: slack.apiUrl,
    });
    await audit(page);
    await submit(page, 'Save and enable');
    expect(await page.locator('#cfg-botToken-error').textContent()).toContain('user token');
    expect(await page.locator('#cfg-teamId-error').textContent()).toBeTruthy();
    await audit(page);
    await screenshot(page, 'connector-errors');
    expect(await gw.runtime.store.getConnector('acme', 'slack')).toBeNull();
    await page.locator('[name="cfg.botToken"]').fill(slack.botToken);
    await page.locator('[name="cfg.signingSecret"]').fill(slack.signingSecret);
    await page.locator('[name="cfg.teamId"]').fill(slack.teamId);
    await submit(page, 'Save and enable');
    expect(await connectorState(page)).toBe('enabled');
    await submit(page, 'Test connection');
    expect(await page.getByTestId('test-result').textContent()).toContain('Connection works');
    await audit(page);
    await screenshot(page, 'connector');

    // HubSpot and Teams, the same way.
    await configure(page, 'hubspot', {
      accessToken: HUBSPOT_TOKEN,
      clientSecret: hubspot.clientSecret,
      basePath: hubspot.url,
      portalId: '4242424',
    });
    await submit(page, 'Save and enable');
    expect(await connectorState(page)).toBe('enabled');
    await submit(page, 'Test connection');
    expect(await page.getByTestId('test-result').textContent()).toContain('Connection works');
    await configure(page, 'teams', {
      tenantId: graph.tenantId,
      clientId: graph.app.clientId,
      clientSecret: graph.app.clientSecret,
      refreshToken: graph.signIn(),
      teamId: TEAM,
      channelId: TEAMS_CHANNEL,
      authorityHost: graph.authorityHost,
      graphBaseUrl: graph.graphBaseUrl,
    });
    await submit(page, 'Save and enable');
    expect(await connectorState(page)).toBe('enabled');
    await submit(page, 'Test connection');
    expect(await page.getByTestId('test-result').textContent()).toContain('Connection works');

    // A customer writes on WhatsApp: mirrored to Slack, counted in health.
    await wa.customer({ waId: '447700900123', name: 'Ada Lovelace' }).sendText('Where is my parcel?');
    await slack.ledger.waitFor('message.posted', {
      where: (e) => e.channel === SLACK_CHANNEL,
      timeoutMs: 60_000,
    });
    await page.goto(`${gw.url}/admin/workspaces/acme/health`, WAIT);
    expect(await page.getByTestId('inbound').textContent()).toBe('1');
    await audit(page);

    // A dead job: Slack's channel is changed to one that does not exist, a new customer writes,
    // Slack refuses the post (channel_not_found, not retried). The channel is fixed, then the
    // dead job is replayed from the console and the message reaches Slack.
    await configure(page, 'slack', { defaultChannel: 'C0MISSING1' });
    await submit(page, 'Save');
    await wa.customer({ waId: '447700900456', name: 'Charles Babbage' }).sendText('Is the engine ready?');
    await until(
      'a dead Slack job',
      () => gw.runtime.store.listDeadJobs({ workspaceId: 'acme' }),
      (d) => d.length > 0,
    );
    await page.goto(`${gw.url}/admin/workspaces/acme/health`, WAIT);
    expect(await page.getByTestId('inbound').textContent()).toBe('2');
    await page.getByRole('heading', { name: /Dead letters \([1-9]/ }).waitFor(WAIT);
    await audit(page);
    await screenshot(page, 'health');
    await configure(page, 'slack', { defaultChannel: SLACK_CHANNEL });
    await submit(page, 'Save');
    await page.goto(`${gw.url}/admin/workspaces/acme/health`, WAIT);
    await Promise.all([
      page.waitForLoadState('load'),
      page.getByRole('button', { name: /^Replay all/ }).click(),
    ]);
    await page.waitForURL(/done=replayed/, WAIT);
    await until(
      'the replayed message in Slack',
      async () => slack.history(SLACK_CHANNEL).length,
      (n) => n >= 2,
    );
    await until(
      'no dead job',
      () => gw.runtime.store.listDeadJobs({ workspaceId: 'acme' }),
      (d) => d.length === 0,
    );

    // Every act is in the audit trail, filterable.
    await page.goto(`${gw.url}/admin/workspaces/acme/audit?action=connector.`, WAIT);
    const rows = (await page.getByTestId('audit-rows').textContent()) ?? '';
    expect(rows).toContain('connector.enable');
    expect(rows).not.toContain('number.add');
    expect(rows).not.toContain(slack.botToken);
    await audit(page);
    await page.goto(`${gw.url}/admin/workspaces/acme/audit`, WAIT);
    await screenshot(page, 'audit');
    await page.goto(`${gw.url}/admin/workspaces/acme/policies`, WAIT);
    await audit(page);
    await page.goto(`${gw.url}/admin/workspaces/acme/archive?verify=1`, WAIT);
    await audit(page);
    await page.goto(`${gw.url}/admin/workspaces/acme/members`, WAIT);
    await page.getByRole('heading', { name: /^Members/ }).waitFor(WAIT);
    await audit(page);
    await page.goto(`${gw.url}/admin/audit`, WAIT);
    await page.getByRole('heading', { name: 'Global audit trail' }).waitFor(WAIT);
    await audit(page);
    await page.goto(`${gw.url}/admin/workspaces/acme`, WAIT);
    await screenshot(page, 'workspace');
    await page.goto(`${gw.url}/admin/workspaces`, WAIT);
    await screenshot(page, 'workspaces');
    await context.close();
  }, 300_000);

  it('an auditor signs in and finds no control that changes anything on any page; a change posted anyway is refused', async () => {
    await grantAuditor();
    const { context, page } = await newPage();
    await signIn(page, AUDITOR);
    const pages = [
      '/admin/workspaces',
      '/admin/workspaces/acme',
      '/admin/workspaces/acme/policies',
      '/admin/workspaces/acme/audit',
      '/admin/workspaces/acme/archive?verify=1',
      '/admin/workspaces/acme/archive/holds',
      '/admin/workspaces/acme/archive/retention?dry-run=1',
      '/admin/workspaces/acme/archive/erasures',
    ];
    for (const path of pages) {
      const answer = await page.goto(`${gw.url}${path}`, WAIT);
      expect(answer?.status(), path).toBe(200);
      await audit(page);
      // The only form that posts is "Sign out"; the others (filter, verify) are GET forms that read.
      const posting = await page
        .locator('form[method="post"]')
        .evaluateAll((forms) => forms.map((f) => (f as HTMLFormElement).action));
      expect(posting, path).toEqual([`${gw.url}/admin/sign-out`]);
      const buttons = await page.getByRole('button').allTextContents();
      expect(
        buttons.filter((b) => !['Sign out', 'Filter', 'Verify the archive', 'Dry run'].includes(b.trim())),
        path,
      ).toEqual([]);
      expect(
        await page
          .locator('input:not([type=hidden]):not([form]), textarea, select')
          .evaluateAll((els) => els.filter((el) => (el as HTMLInputElement).form?.method !== 'get').length),
        path,
      ).toBe(0);
    }
    await page.goto(`${gw.url}/admin/workspaces/acme/archive?verify=1`, WAIT);
    expect(await page.getByText('Verify the archive').count()).toBe(1);
    await screenshot(page, 'auditor');
    // Health is not the auditor's to read: it answers 403, and the workspace's tabs do not offer it.
    expect((await page.goto(`${gw.url}/admin/workspaces/acme/health`, WAIT))?.status()).toBe(403);

    // Posting a change anyway, with the auditor's own session and CSRF token: refused, nothing changed.
    await page.goto(`${gw.url}/admin/workspaces/acme`, WAIT);
    const csrf = await page.locator('input[name="_csrf"]').first().inputValue();
    for (const [path, body] of [
      ['/admin/workspaces/acme/numbers', { phoneNumberId: '106540352242999' }],
      ['/admin/workspaces/acme/connectors/slack', { action: 'disable' }],
      ['/admin/workspaces/acme/policies', { numberMasking: 'none' }],
      ['/admin/workspaces/acme/dead-jobs/replay', { scope: 'all' }],
      ['/admin/workspaces', { name: 'Rogue', id: 'rogue' }],
    ] as const) {
      const answer = await page.request.post(`${gw.url}${path}`, {
        form: { _csrf: csrf, ...body },
        maxRedirects: 0,
      });
      expect(answer.status(), path).toBe(403);
    }
    // And the same acts through the admin API, with the same session and its CSRF token.
    for (const [method, path, data] of [
      ['POST', '/admin/api/workspaces', { name: 'Rogue', id: 'rogue' }],
      ['POST', '/admin/api/workspaces/acme/numbers', { phoneNumberId: '106540352242999' }],
      ['DELETE', `/admin/api/workspaces/acme/numbers/${NUMBER}`, undefined],
      ['PUT', '/admin/api/workspaces/acme/connectors/slack', { enabled: false }],
      ['PATCH', '/admin/api/workspaces/acme', { policies: { numberMasking: 'none' } }],
      ['POST', '/admin/api/workspaces/acme/dead-letters/replay', { all: true }],
    ] as const) {
      const answer = await page.request.fetch(`${gw.url}${path}`, {
        method,
        headers: { 'x-csrf-token': csrf },
        ...(data ? { data } : {}),
        maxRedirects: 0,
      });
      expect(answer.status(), `${method} ${path}`).toBe(403);
    }
    expect(await gw.runtime.store.resolvePhoneNumber('106540352242999')).toBeNull();
    expect((await gw.runtime.store.getConnector('acme', 'slack'))?.enabled).toBe(true);
    expect(await gw.runtime.store.getWorkspace('rogue')).toBeNull();
    expect(await gw.runtime.store.resolvePhoneNumber(NUMBER)).not.toBeNull();
    expect((await gw.runtime.store.getWorkspace('acme'))?.policies.numberMasking).toBe('partial');
    await context.close();
  }, 300_000);

  it('a compliance officer places a legal hold and sees the erasure it covers refused, with its sentence', async () => {
    const account = await gw.runtime.access.createAccount('e2e', { ...COMPLIANCE, name: 'Cora Compliance' });
    await gw.runtime.access.setGrant('e2e', {
      accountId: account.id,
      workspaceId: 'acme',
      role: 'compliance',
    });
    const { context, page } = await newPage();
    await signIn(page, COMPLIANCE);
    await page.goto(`${gw.url}/admin/workspaces/acme/archive/holds`, WAIT);
    await audit(page);
    await page.getByLabel('A contact (WhatsApp number or BSUID)').check();
    await page.getByLabel('Contact', { exact: true }).fill('+447700900123');
    await page.getByLabel('Reason').fill('FINRA exam 7');
    await submit(page, 'Place the hold');
    await page.waitForURL(/done=hold-added/, WAIT);
    expect(await page.getByTestId('holds').textContent()).toContain('FINRA exam 7');
    await audit(page);

    await page.goto(`${gw.url}/admin/workspaces/acme/archive/erasures`, WAIT);
    await audit(page);
    await page.getByLabel('Contact (WhatsApp number or BSUID)').fill('447700900123');
    await page.getByLabel('Reason').fill('request #12');
    await page.getByLabel(/I have checked the request/).check();
    await submit(page, 'Erase');
    const refusal = (await page.locator('.notice.bad[role="alert"]').textContent()) ?? '';
    expect(refusal).toContain('erasure refused: legal hold');
    expect(refusal).toContain('FINRA exam 7');
    await audit(page);
    await screenshot(page, 'erasure-refused');
    const conversations = await gw.runtime.store.listConversations('acme', { limit: 10 });
    expect(conversations.length).toBeGreaterThan(0);
    expect(conversations.every((c) => c.erasedAt === null)).toBe(true);
    await page.goto(`${gw.url}/admin/workspaces/acme/archive/retention`, WAIT);
    await audit(page);
    await page.goto(`${gw.url}/admin/workspaces/acme/archive/export`, WAIT);
    await audit(page);
    await context.close();
  }, 300_000);

  it('npm run demo prints a one-time link that opens the admin console signed in as the demo owner, beside the sandbox console', async () => {
    const demo = spawn(process.execPath, [BIN, 'demo', '--port', '0'], {
      env: { ...process.env, LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      let out = '';
      await new Promise<void>((resolve, reject) => {
        demo.stdout?.on('data', (chunk: Buffer) => {
          out += chunk.toString();
          if (/^Ready\./m.test(out)) resolve();
        });
        demo.once('exit', (code) => reject(new Error(`the demo exited (${code}):\n${out}`)));
      });
      const link = /Admin\s+(\S+)/.exec(out)?.[1] ?? '';
      const sandbox = /Console\s+(\S+)/.exec(out)?.[1] ?? '';
      expect(link).toMatch(/\/admin\/sign-in\/link\//);
      const { context, page } = await newPage();
      await page.goto(sandbox, WAIT);
      // The sandbox console's header links to the admin console.
      expect(await page.getByRole('link', { name: 'admin console' }).getAttribute('href')).toMatch(
        /\/admin\/workspaces\/demo$/,
      );
      await page.goto(link, WAIT);
      await page.getByRole('link', { name: 'Acme Support' }).click();
      await page.getByRole('heading', { name: 'Acme Support' }).waitFor(WAIT);
      expect(await page.locator('.who').textContent()).toContain('owner@demo.wabridge.example');
      expect(await page.getByRole('cell', { name: 'enabled' }).count()).toBe(3);
      await audit(page);
      // The link works once.
      expect((await page.request.get(link, { maxRedirects: 0 })).status()).toBe(410);
      await context.close();
    } finally {
      const exited = new Promise((done) => demo.once('exit', done));
      demo.kill('SIGINT');
      await exited;
    }
  }, 180_000);

  it('axe-core found no serious or critical accessibility violation on any page visited', () => {
    expect(violations).toEqual([]);
  });
});
