import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startWhatsAppEmulator, type WhatsAppEmulator } from '@wabridge/sandbox/whatsapp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * `wabridge whatsapp …` and `wabridge number …` in their own processes, against a data directory
 * and the WhatsApp emulator: secrets come from environment variables and never show again; `number
 * test` reads the number's profile, quality rating and WABA subscription with the number's token.
 */
const BIN = fileURLToPath(new URL('../../../apps/gateway/bin/wabridge.mjs', import.meta.url));
const APP = '1000000000000001';
const SECRET = 'e5'.repeat(16);
const TOKEN = 'EAAG-cli-token-of-the-number-77';
const NUMBER = '106540352240077';
const WABA = '419561257910077';

let wa: WhatsAppEmulator;
let dir: string;

async function wabridge(args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: {
      ...process.env,
      NODE_ENV: 'development',
      LOG_LEVEL: 'warn',
      WABRIDGE_DATA_DIR: dir,
      WHATSAPP_API_BASE_URL: wa.url,
      ...env,
    },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  child.stdin.end('');
  const code = await new Promise<number>((resolve) => child.on('close', (status) => resolve(status ?? -1)));
  return { stdout, stderr, code };
}

describe('wabridge whatsapp and number commands', { timeout: 180_000 }, () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'wabridge-wa-cli-'));
    wa = await startWhatsAppEmulator({
      appSecret: 'f6'.repeat(16),
      accessToken: 'default-token-not-for-this-number',
      apps: [{ appId: APP, appSecret: SECRET }],
      phoneNumbers: [
        {
          phoneNumberId: NUMBER,
          displayPhoneNumber: '15550007777',
          wabaId: WABA,
          appId: APP,
          accessToken: TOKEN,
          qualityRating: 'RED',
          verifiedName: 'Gamma Goods',
        },
      ],
    });
  });
  afterAll(async () => {
    await wa?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('registers an app and a number’s credentials from the environment, shows them masked, and tests the number', async () => {
    expect((await wabridge(['workspace', 'create', 'Gamma', '--id', 'gamma'])).code).toBe(0);
    expect((await wabridge(['workspace', 'add-number', 'gamma', NUMBER])).code).toBe(0);

    const typo = await wabridge(['whatsapp', 'add-app', APP, '--secret-env', 'WA_SECRET'], {
      WA_SECRET: 'not-a-secret',
    });
    expect(typo.code).not.toBe(0);
    expect(typo.stderr).toContain('an app secret is 32 hexadecimal characters');
    expect(typo.stderr).not.toMatch(/\n\s+at /);
    const unset = await wabridge(['whatsapp', 'add-app', APP, '--secret-env', 'WA_NOT_SET']);
    expect(unset.stderr).toContain('--secret-env WA_NOT_SET: that environment variable is not set');

    const added = await wabridge(
      ['whatsapp', 'add-app', APP, '--secret-env', 'WA_SECRET', '--name', 'Gamma app'],
      {
        WA_SECRET: SECRET,
      },
    );
    expect(added).toMatchObject({ code: 0 });
    expect(added.stdout).toContain(`/webhooks/whatsapp/${APP}`);
    // A token Meta never issued is tried before it is stored, and refused in one line.
    const wrong = await wabridge(
      ['number', 'credentials', 'gamma', NUMBER, '--app', APP, '--waba', WABA, '--token-env', 'WA_TOKEN'],
      { WA_TOKEN: 'EAAG-a-token-meta-never-issued' },
    );
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toContain(`the access token cannot read number ${NUMBER} through the Cloud API`);
    expect(wrong.stderr).not.toMatch(/\n\s+at /);
    const credentials = await wabridge(
      ['number', 'credentials', 'gamma', NUMBER, '--app', APP, '--waba', WABA, '--token-env', 'WA_TOKEN'],
      { WA_TOKEN: TOKEN },
    );
    expect(credentials).toMatchObject({ code: 0 });

    const apps = await wabridge(['whatsapp', 'apps']);
    expect(apps.stdout).toContain('Gamma app');
    expect(apps.stdout).toContain(NUMBER);
    const list = await wabridge(['number', 'list', 'gamma']);
    expect(list.stdout).toContain('EAAG…r-77');
    for (const output of [added, credentials, apps, list]) {
      expect(output.stdout + output.stderr).not.toContain(SECRET);
      expect(output.stdout + output.stderr).not.toContain(TOKEN);
    }
    // Nothing in the data directory holds them in plain text.
    for (const file of readdirSync(dir).filter((f) => f.startsWith('wabridge.db'))) {
      const bytes = readFileSync(join(dir, file)).toString('latin1');
      expect(bytes).not.toContain(SECRET);
      expect(bytes).not.toContain(TOKEN);
    }

    const mark = wa.ledger.mark();
    const test = await wabridge(['number', 'test', 'gamma', NUMBER]);
    expect(test.stdout).toContain('"Gamma Goods"');
    expect(test.stdout).toContain('quality  RED');
    expect(test.stdout).toContain(`webhooks WABA ${WABA} sends to apps: ${APP} (its app is subscribed)`);
    expect(test.code).toBe(0);
    const calls = wa.ledger.since(mark).filter((e) => e.kind === 'api.request' && e.method === 'GET');
    expect(calls.map((e) => (e.kind === 'api.request' ? e.appId : null))).toEqual([APP, APP]);

    // Unsubscribed: the test says so and fails.
    await fetch(`${wa.url}/v23.0/${WABA}/subscribed_apps`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    const unsubscribed = await wabridge(['number', 'test', 'gamma', NUMBER]);
    expect(unsubscribed.stdout).toContain(
      'sends to apps: none (its app is NOT subscribed: no webhooks will arrive)',
    );
    expect(unsubscribed.code).toBe(1);

    expect((await wabridge(['whatsapp', 'remove-app', APP])).stderr).toContain(
      `Meta app ${APP} still has numbers: ${NUMBER}`,
    );
    expect((await wabridge(['number', 'remove-credentials', 'gamma', NUMBER])).code).toBe(0);
    expect((await wabridge(['whatsapp', 'remove-app', APP])).code).toBe(0);
  });
});
