import { type Browser, chromium } from 'playwright-core';
import { afterEach, describe, expect, it } from 'vitest';
import { type SlackEmulator, startSlackEmulator } from './index.ts';
import { type AppSide, CLIENT, startApp } from './testing.ts';

/**
 * "Add to Slack" in a real browser: Chromium (through playwright-core) opens the app's install
 * path, lands on the emulator's consent page, picks a workspace by its label, clicks Allow, and
 * comes back to the app, which exchanges the code with InstallProvider.
 */
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const WAIT = { timeout: 20_000 };

let browser: Browser | undefined;
let slack: SlackEmulator | undefined;
let app: AppSide | undefined;
afterEach(async () => {
  await browser?.close();
  await app?.close();
  await slack?.close();
  browser = undefined;
  app = undefined;
  slack = undefined;
});

describe('the Slack consent page in Chromium', () => {
  it('installs into the workspace a person picks and clicks Allow for, with styles applied and no CSP violation', async () => {
    slack = await startSlackEmulator({
      signingSecret: 'browser-test-secret',
      workspaces: [
        { id: 'T0ACME', name: 'Acme Support', channels: [{ id: 'C0ACME01', name: 'whatsapp' }] },
        { id: 'T0GLOBEX', name: 'Globex', channels: [{ id: 'C0GLOBEX1', name: 'whatsapp' }] },
      ],
      oauth: CLIENT,
    });
    // `localhost`: the browser keeps InstallProvider's Secure state cookie there.
    app = await startApp(slack, {}, 'localhost');
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
    const page = await browser.newPage();
    const problems: string[] = [];
    // Errors of the page (a CSP violation is one) and failed requests, except the favicon the
    // browser asks every host for.
    page.on('console', (message) => {
      if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) {
        problems.push(message.text());
      }
    });
    page.on('pageerror', (error) => problems.push(error.message));
    page.on('response', (response) => {
      if (response.status() >= 400 && new URL(response.url()).pathname !== '/favicon.ico') {
        problems.push(`${response.status()} ${response.url()}`);
      }
    });

    await page.goto(`${app.url}/slack/install`, WAIT);
    await page.getByRole('heading', { name: /requesting permission/ }).waitFor(WAIT);
    expect(new URL(page.url()).origin).toBe(slack.url);
    // The stylesheet is allowed by its hash: the Allow button wears Slack's aubergine.
    const allow = page.getByRole('button', { name: 'Allow' });
    expect(await allow.evaluate((button) => getComputedStyle(button).backgroundColor)).toBe(
      'rgb(74, 21, 75)',
    );
    await page.getByLabel('Globex').check();
    await Promise.all([page.waitForURL(`${app.url}/slack/oauth_redirect?**`, WAIT), allow.click()]);
    expect(await page.textContent('body')).toBe('installed');

    expect(app.installations.map((i) => [i.team?.id, i.bot?.userId])).toEqual([
      ['T0GLOBEX', slack.installations().find((i) => i.teamId === 'T0GLOBEX')?.botUserId],
    ]);
    expect(
      slack
        .workspaces()
        .filter((w) => w.installed)
        .map((w) => w.id),
    ).toEqual(['T0GLOBEX']);
    expect(problems).toEqual([]);
  }, 90_000);
});
