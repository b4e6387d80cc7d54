import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * The sandbox console in a real browser (Chromium through playwright-core), in front of a real
 * `wabridge demo` process: a person types as the customer, replies from the Slack and Teams panes,
 * picks a template and changes consent in HubSpot, and sees every system update live.
 *
 * `WABRIDGE_CONSOLE_SCREENSHOT=docs/images/console.png npx vitest run src/demo-console.test.ts`
 * also saves the console as it stands at the end (the README's screenshot).
 */
const BIN = fileURLToPath(new URL('../../../apps/gateway/bin/wabridge.mjs', import.meta.url));
const REPO = fileURLToPath(new URL('../../../', import.meta.url));
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

let demo: ChildProcess;
let consoleUrl: string;
let profile: string;
let browser: BrowserContext;
let page: Page;

async function startDemo(): Promise<string> {
  demo = spawn(process.execPath, [BIN, 'demo', '--port', '0'], {
    env: { ...process.env, LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let errors = '';
  demo.stderr?.on('data', (chunk: Buffer) => {
    errors += chunk.toString();
  });
  return new Promise((resolveUrl, reject) => {
    const timer = setTimeout(() => reject(new Error(`the demo did not start:\n${out}\n${errors}`)), 120_000);
    demo.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const url = out.match(/Console\s+(\S+)/)?.[1];
      if (url && /^Ready\./m.test(out)) {
        clearTimeout(timer);
        resolveUrl(url);
      }
    });
    demo.once('exit', (code) => reject(new Error(`the demo exited (${code}):\n${out}\n${errors}`)));
  });
}

/** The first element under `testid` whose text contains `text`, once it is there. */
async function shows(testid: string, text: string, options: { within?: string } = {}) {
  const scope = options.within ? page.getByTestId(options.within) : page;
  const locator = scope.getByTestId(testid).filter({ hasText: text }).first();
  try {
    await locator.waitFor(WAIT);
  } catch (error) {
    // Say what the page showed instead: the emulators' state, as the console serves it.
    const state = await fetch(`${consoleUrl}api/state`).then((r) => r.text(), String);
    throw new Error(`${testid} never showed "${text}". Console state:\n${state}`, { cause: error });
  }
  return locator;
}

beforeAll(async () => {
  consoleUrl = await startDemo();
  profile = mkdtempSync(join(tmpdir(), 'wabridge-chromium-'));
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    args: CHROMIUM_ARGS,
    viewport: { width: 1600, height: 960 },
  });
  page = browser.pages()[0] ?? (await browser.newPage());
  await page.goto(consoleUrl);
  await page.locator('body[data-ready="true"]').waitFor(WAIT);
}, 180_000);

afterAll(async () => {
  await browser?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
  if (demo && demo.exitCode === null) {
    const exited = new Promise((done) => demo.once('exit', done));
    demo.kill('SIGINT');
    await exited;
  }
});

describe('the sandbox console in Chromium', () => {
  it('a customer message typed in the WhatsApp pane reaches Slack; a reply from the Slack pane shows in the WhatsApp chat and on the HubSpot timeline', async () => {
    const hello = 'Hi, where is my order #1042? <b>not bold</b>';
    await page.getByTestId('wa-input').fill(hello);
    await page.getByTestId('wa-send').click();

    // Slack shows the conversation's thread with the customer's message in it.
    await shows('slack-message', 'where is my order #1042', { within: 'slack-threads' });
    const reply = 'Hi Ada, Grace from Slack here: it ships today.';
    await page.getByTestId('slack-reply-input').fill(reply);
    await page.getByTestId('slack-reply-send').click();

    // The reply went through the gateway to WhatsApp: the customer's phone shows it…
    const bubble = await shows('wa-message', reply, { within: 'wa-messages' });
    expect(await bubble.getAttribute('data-direction')).toBe('out');
    // …and HubSpot logged it on the contact's timeline, after the customer's message.
    await shows('hubspot-entry', reply, { within: 'hubspot-timeline' });
    const timeline = await page.getByTestId('hubspot-entry').allTextContents();
    const sent = timeline.findIndex((t) => t.includes(reply));
    const received = timeline.findIndex((t) => t.includes('where is my order #1042'));
    expect(sent).toBeGreaterThanOrEqual(0);
    expect(received).toBeGreaterThan(sent); // newest first, as HubSpot shows activity

    // What the customer typed is shown as text, never as markup, in every pane.
    const mine = await shows('wa-message', 'not bold', { within: 'wa-messages' });
    expect(await mine.locator('b').count()).toBe(0);
    expect(await mine.textContent()).toContain('<b>not bold</b>');
    expect(await page.locator('[data-testid="slack-threads"] b').count()).toBe(0);
    // And the reply's ticks move along as WhatsApp reports it delivered and read.
    await page
      .locator(`[data-testid="wa-message"][data-direction="out"][data-status="read"]`)
      .filter({ hasText: reply })
      .waitFor(WAIT);
  });

  it('the other controls work too: photo, location, a Teams reply, a reaction, a day passing, a template picked in Slack and its quick reply, consent in HubSpot', async () => {
    await page.getByTestId('wa-photo').click();
    await page.locator('[data-testid="wa-messages"] img.photo').first().waitFor(WAIT);
    await page.locator('[data-testid="slack-threads"] .file img').first().waitFor(WAIT);
    await page.getByTestId('wa-location').click();
    await shows('teams-message', 'Babbage Row', { within: 'teams-threads' });

    const teamsReply = 'Alan from Teams: the courier has it, delivery tomorrow 9–12.';
    await page.getByTestId('teams-reply-input').fill(teamsReply);
    await page.getByTestId('teams-reply-send').click();
    const alan = await shows('wa-message', teamsReply, { within: 'wa-messages' });
    await alan.hover();
    await page.locator('.row.theirs').filter({ hasText: teamsReply }).getByTitle('React 👍').click();
    await shows('teams-message', 'Reacted 👍', { within: 'teams-threads' });
    await alan.locator('.reactions').filter({ hasText: '👍' }).waitFor(WAIT);

    // A day passes: the window closes, a free-form reply is refused and the notice offers templates.
    await page.getByTestId('action-day').click();
    await page.locator('#wa-window.closed').waitFor(WAIT);
    await page.getByTestId('slack-reply-input').fill('Did the parcel arrive?');
    await page.getByTestId('slack-reply-send').click();
    await shows('slack-message', 'Not sent: the 24-hour customer service window closed', {
      within: 'slack-threads',
    });
    await page.getByTestId('slack-template-select').selectOption({ label: 'delivery_check (en_US)' });
    const params = page.getByTestId('slack-template-param');
    await params.nth(0).fill('Ada');
    await params.nth(1).fill('#1042');
    await page.getByTestId('slack-template-send').click();
    const template = await shows('wa-message', 'did your order #1042 arrive safely?', {
      within: 'wa-messages',
    });
    await template.getByTestId('wa-quick-reply').filter({ hasText: 'Yes, it arrived' }).click();
    await page.locator('#wa-window.open').waitFor(WAIT);
    await shows('hubspot-entry', 'Yes, it arrived', { within: 'hubspot-timeline' });

    // STOP from the customer reads opted_out in HubSpot; a HubSpot user opts her back in.
    await page.getByTestId('wa-input').fill('STOP');
    await page.getByTestId('wa-send').click();
    await page
      .locator('[data-testid="hubspot-prop-wabridge_whatsapp_consent"]', { hasText: 'opted_out' })
      .waitFor(WAIT);
    await page.getByTestId('hubspot-consent-select').selectOption('opted_in');
    await page.getByTestId('hubspot-consent-save').click();
    await shows('teams-message', 'opted back in', { within: 'teams-threads' });
    await shows('slack-message', 'opted back in', { within: 'slack-threads' });
    const last = 'Alan again: you will get delivery updates here.';
    await page.getByTestId('teams-reply-input').fill(last);
    await page.getByTestId('teams-reply-send').click();
    await page
      .locator(`[data-testid="wa-message"][data-direction="out"][data-status="read"]`)
      .filter({ hasText: last })
      .waitFor(WAIT);

    const screenshot = process.env.WABRIDGE_CONSOLE_SCREENSHOT;
    if (screenshot) {
      // The newest messages in view, once images have their size.
      await page.waitForFunction(() => [...document.images].every((image) => image.complete));
      for (const box of ['wa-messages', 'slack-threads', 'teams-threads']) {
        await page.getByTestId(box).evaluate((node) => node.scrollTo(0, node.scrollHeight));
      }
      await page.screenshot({ path: resolve(REPO, screenshot) });
    }
  }, 180_000);
});
