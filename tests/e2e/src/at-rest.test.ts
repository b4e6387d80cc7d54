import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startTestGateway, TEST_ACCESS_TOKEN, TEST_APP_SECRET } from '@wabridge/gateway/testing';
import { startWhatsAppEmulator, type WhatsAppEmulator } from '@wabridge/sandbox/whatsapp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * Encryption at rest, end to end (issue 18, item 3): a customer writes through the WhatsApp
 * emulator to a real gateway over HTTP (signed webhooks): a text, an image with a caption, a
 * contact card, each carrying a canary string. The image is fetched through its signed media
 * link, so it is cached under the data directory. Then every file under the data directory (the
 * database, its WAL and SHM, the media folder), and a `wabridge backup` made by the real CLI, are
 * read as raw bytes: no canary may be found. `wabridge keys rotate --workspace` runs beside the
 * live gateway, which keeps storing and serving.
 */
const WORKSPACE = 'acme';
const PN = '106540352242922';
const MASTER_KEY = Buffer.alloc(32, 3).toString('base64'); // the test gateway's key
const BIN = fileURLToPath(new URL('../../../apps/gateway/bin/wabridge.mjs', import.meta.url));
const CANARY = {
  text: 'CANARY-7f3a-TEXT',
  caption: 'CANARY-7f3a-CAPTION',
  card: 'CANARY-7f3a-CARD',
  image: 'CANARY-7f3a-IMAGE-BYTES',
  afterRotation: 'CANARY-7f3a-AFTER',
};

let wa: WhatsAppEmulator;
let gw: Awaited<ReturnType<typeof startTestGateway>>;

/** The real CLI in its own process, on the gateway's data directory and master key. */
async function wabridge(...words: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  const child = spawn(process.execPath, [BIN, ...words], {
    env: {
      ...process.env,
      NODE_ENV: 'development',
      LOG_LEVEL: 'warn',
      WABRIDGE_DATA_DIR: gw.dir,
      WABRIDGE_MASTER_KEY: MASTER_KEY,
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
  child.stdin.end();
  const code = await new Promise<number>((resolve) => child.on('close', (status) => resolve(status ?? -1)));
  return { stdout, stderr, code };
}

/** Every regular file under `dir`, recursively. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

/** The canaries found in any of the files, as `file: canary` (empty when none). */
function canariesIn(files: string[], canaries: string[]): string[] {
  const found: string[] = [];
  for (const file of files) {
    const bytes = readFileSync(file);
    for (const canary of canaries) {
      // Also as UTF-16 and in JSON's \u escapes would be overkill: the store writes UTF-8.
      if (bytes.includes(Buffer.from(canary, 'utf8'))) found.push(`${file}: ${canary}`);
    }
  }
  return found;
}

async function messagesOf(waId: string) {
  const store = gw.runtime.store;
  for (const conversation of await store.listConversations(WORKSPACE)) {
    const contact = await store.getContact(WORKSPACE, conversation.contactId);
    if (contact?.waId === waId) return store.listMessages(WORKSPACE, conversation.id);
  }
  return [];
}

describe('encryption at rest: a copy of the data directory reveals no message text', {
  timeout: 180_000,
}, () => {
  beforeAll(async () => {
    wa = await startWhatsAppEmulator({ appSecret: TEST_APP_SECRET, accessToken: TEST_ACCESS_TOKEN });
    gw = await startTestGateway({ env: { WHATSAPP_API_BASE_URL: wa.url } });
    wa.setWebhookUrl(gw.webhookUrl);
    const { admin } = gw.runtime;
    await admin.createWorkspace('e2e', { id: WORKSPACE, name: 'Acme' });
    await admin.addPhoneNumber('e2e', WORKSPACE, { phoneNumberId: PN, displayPhoneNumber: '15550783881' });
    gw.runtime.routing.invalidate();
  });

  afterAll(async () => {
    await gw?.close();
    await wa?.close();
  });

  it('text, caption, contact card and image bytes are nowhere in the database files, the media folder or a backup', async () => {
    const ada = wa.customer({ waId: '447700900123', name: 'Ada' });
    await ada.sendText(`please call me ${CANARY.text}`);
    await ada.sendImage({ bytes: CANARY.image, mimeType: 'image/jpeg', caption: CANARY.caption });
    await ada.sendContacts([
      { name: { formatted_name: CANARY.card }, phones: [{ phone: '+33 6 12 34 56 78' }] },
    ]);
    await wa.idle();

    // Stored, and read back as plaintext through the store.
    const messages = await messagesOf('447700900123');
    expect(messages.map((m) => m.type)).toEqual(['text', 'image', 'contacts']);
    expect(messages[0]?.text).toContain(CANARY.text);
    expect(JSON.stringify(messages[1]?.content)).toContain(CANARY.caption);
    expect(JSON.stringify(messages[2]?.content)).toContain(CANARY.card);

    // The image through its signed link, over HTTP: downloaded from WhatsApp and cached on disk.
    const image = messages[1];
    const link = gw.runtime.media.url(WORKSPACE, image?.id ?? '');
    const served = await fetch(link);
    expect(served.status).toBe(200);
    expect(Buffer.from(await served.arrayBuffer()).toString()).toBe(CANARY.image);
    const cached = filesUnder(join(gw.dir, 'media'));
    expect(cached.length).toBeGreaterThanOrEqual(2);

    const canaries = [CANARY.text, CANARY.caption, CANARY.card, CANARY.image];
    const files = filesUnder(gw.dir);
    // The database, its WAL (the recent commits are there) and the media are among the files read.
    expect(files.some((f) => f.endsWith('-wal'))).toBe(true);
    expect(files.some((f) => f.includes(`${join('media', WORKSPACE)}`))).toBe(true);
    expect(canariesIn(files, canaries)).toEqual([]);

    // A backup by the real CLI, while the gateway runs: a file of its own, no canary in it either.
    const backup = join(gw.dir, 'backup.sqlite');
    const made = await wabridge('backup', backup);
    expect(made.code, made.stderr).toBe(0);
    expect(statSync(backup).size).toBeGreaterThan(0);
    expect(canariesIn([backup], canaries)).toEqual([]);
    // The check itself finds what is there: the backup holds the sealed rows (and the sender's number).
    expect(canariesIn([backup], ['447700900123'])).toHaveLength(1);
  });

  it('keys rotate --workspace re-seals the content beside the live gateway, which keeps storing and reading it', async () => {
    const rotated = await wabridge('keys', 'rotate', '--workspace', WORKSPACE);
    expect(rotated.code, rotated.stderr).toBe(0);
    expect(rotated.stdout).toMatch(/re-wrapped \d+ data key\(s\) with master key [0-9a-f]{8}/);
    expect(rotated.stdout).toMatch(/re-sealed [1-9]\d* value\(s\) of acme with data key [0-9a-f]{8}/);

    const bob = wa.customer({ waId: '447700900456', name: 'Bob' });
    await bob.sendText(CANARY.afterRotation);
    await wa.idle();
    expect((await messagesOf('447700900456'))[0]?.text).toBe(CANARY.afterRotation);
    expect((await messagesOf('447700900123'))[0]?.text).toContain(CANARY.text);
    // The cached image was sealed with the old key, which is kept to read it.
    const image = (await messagesOf('447700900123'))[1];
    const served = await fetch(gw.runtime.media.url(WORKSPACE, image?.id ?? ''));
    expect(Buffer.from(await served.arrayBuffer()).toString()).toBe(CANARY.image);

    const verified = await wabridge('archive', 'verify', WORKSPACE);
    expect(verified.code, verified.stdout + verified.stderr).toBe(0);
    expect(verified.stdout).toContain('content checked against its commitments');
    const files = filesUnder(gw.dir).filter((f) => !f.endsWith('backup.sqlite'));
    expect(canariesIn(files, [CANARY.text, CANARY.afterRotation])).toEqual([]);
  });
});
