import { createHmac } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { startWhatsAppEmulator, type WhatsAppEmulator } from '@wabridge/sandbox/whatsapp';
import { afterEach, describe, expect, it } from 'vitest';
import { workspaceDelete } from '../cli/admin.ts';
import { createTestApp, TEST_ACCESS_TOKEN, TEST_APP_SECRET } from '../testing/harness.ts';

const PN = '106540352242922';

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of cleanup.reverse()) await close();
  cleanup = [];
});

/** The gateway against the WhatsApp emulator, with its log captured line by line. */
async function setup() {
  const wa: WhatsAppEmulator = await startWhatsAppEmulator({
    appSecret: TEST_APP_SECRET,
    accessToken: TEST_ACCESS_TOKEN,
    phoneNumbers: [{ phoneNumberId: PN, displayPhoneNumber: '15550783881', wabaId: '102290129340398' }],
  });
  cleanup.push(() => wa.close());
  const lines: { level: number; msg: string }[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  const t = await createTestApp({ env: { WHATSAPP_API_BASE_URL: wa.url }, log: { level: 'info', stream } });
  cleanup.push(() => t.close());
  const ingest = async (message: Record<string, unknown>) => {
    const body = JSON.stringify({
      object: 'whatsapp_business_account',
      entry: [
        {
          id: '102290129340398',
          changes: [
            {
              field: 'messages',
              value: {
                messaging_product: 'whatsapp',
                metadata: { display_phone_number: '15550783881', phone_number_id: PN },
                contacts: [{ profile: { name: 'Ada' }, wa_id: '447700900123' }],
                messages: [
                  { from: '447700900123', timestamp: String(Math.floor(Date.now() / 1000)), ...message },
                ],
              },
            },
          ],
        },
      ],
    });
    const signature = `sha256=${createHmac('sha256', TEST_APP_SECRET).update(body).digest('hex')}`;
    const response = await t.app.request('/webhooks/whatsapp', {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json', 'x-hub-signature-256': signature },
    });
    expect(response.status).toBe(200);
    const stored = await t.runtime.store.getMessageByWamid(t.workspaceId, String(message.id));
    return stored?.id ?? '';
  };
  const open = (messageId: string) =>
    t.app.request(
      new URL(t.runtime.media.url(t.workspaceId, messageId)).pathname +
        new URL(t.runtime.media.url(t.workspaceId, messageId)).search,
    );
  return { wa, t, ingest, open, lines };
}

describe('media links', () => {
  it('serve the file WhatsApp still has', async () => {
    const { wa, t, ingest, open } = await setup();
    const prepared = wa
      .customer({ waId: '447700900123', name: 'Ada' })
      .build.image({ bytes: 'jpeg!', caption: 'x' });
    const id = await ingest(prepared.message);
    const response = await open(id);
    expect(response.status).toBe(200);
    expect(new TextDecoder().decode(await response.arrayBuffer())).toBe('jpeg!');
    // Cached sealed with the workspace's data key: neither the bytes nor the type are on disk.
    const folder = join(t.runtime.env.dataDir, 'media', t.workspaceId);
    for (const file of [`${id}.bin.sealed`, `${id}.json.sealed`]) {
      const raw = readFileSync(join(folder, file)).toString('latin1');
      expect(raw).not.toContain('jpeg');
    }
    expect(existsSync(join(folder, `${id}.bin`))).toBe(false);
    // Served again from the sealed copy, opened.
    const again = await open(id);
    expect(new TextDecoder().decode(await again.arrayBuffer())).toBe('jpeg!');
  });

  it('answer 410 with a short page, and log no error, when WhatsApp no longer has the file', async () => {
    const { ingest, open, lines } = await setup();
    const id = await ingest({
      id: 'wamid.gone',
      type: 'image',
      image: { id: '1003383421387256', mime_type: 'image/jpeg' },
    });
    const response = await open(id);
    expect(response.status).toBe(410);
    expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const html = await response.text();
    expect(html).toContain('<h1>File no longer available</h1>');
    expect(html).toContain('This file is no longer available from WhatsApp');
    expect(lines.filter((l) => l.level >= 50)).toEqual([]);
    expect(lines.some((l) => l.msg === 'media no longer available at WhatsApp')).toBe(true);
  });

  it('answer 404 with a short page for a message that has no file or does not exist', async () => {
    const { ingest, open, lines } = await setup();
    const text = await ingest({ id: 'wamid.text', type: 'text', text: { body: 'no file here' } });
    for (const id of [text, 'msg_never_stored']) {
      const response = await open(id);
      expect(response.status).toBe(404);
      expect(await response.text()).toContain('<h1>File not found</h1>');
    }
    expect(lines.filter((l) => l.level >= 50)).toEqual([]);
  });

  it('still refuse a forged or expired link with 403', async () => {
    const { t } = await setup();
    const response = await t.app.request(`/media/${t.workspaceId}/msg_1?exp=9999999999&sig=forged`);
    expect(response.status).toBe(403);
  });

  it('stop working once the workspace is deleted, and the cached file is gone from disk', async () => {
    const { wa, t, ingest, open } = await setup();
    const prepared = wa
      .customer({ waId: '447700900123', name: 'Ada' })
      .build.image({ bytes: 'jpeg!', caption: 'x' });
    const id = await ingest(prepared.message);
    const link = new URL(t.runtime.media.url(t.workspaceId, id));
    const served = await open(id);
    expect(served.status).toBe(200);
    await served.arrayBuffer();
    const cached = join(t.runtime.env.dataDir, 'media', t.workspaceId, `${id}.bin.sealed`);
    expect(existsSync(cached)).toBe(true);
    // Customer media is for the gateway's user only, like the database.
    expect((statSync(cached).mode & 0o777).toString(8)).toBe('600');
    expect((statSync(join(t.runtime.env.dataDir, 'media', t.workspaceId)).mode & 0o777).toString(8)).toBe(
      '700',
    );

    // The real `wabridge workspace delete`, as its own runtime on the same data directory.
    await workspaceDelete({ env: () => t.runtime.env, values: {}, positionals: [t.workspaceId], args: [] });

    const after = await t.app.request(link.pathname + link.search);
    expect(after.status).toBe(404);
    expect(await after.text()).toContain('<h1>File not found</h1>');
    expect(existsSync(cached)).toBe(false);
    expect(existsSync(join(t.runtime.env.dataDir, 'media', t.workspaceId))).toBe(false);
  });

  it('serve nothing from the cache for a message the database no longer has', async () => {
    const { wa, t, ingest, open } = await setup();
    const prepared = wa
      .customer({ waId: '447700900123', name: 'Ada' })
      .build.image({ bytes: 'jpeg!', caption: 'x' });
    const id = await ingest(prepared.message);
    expect((await open(id)).status).toBe(200);
    // Rows gone by any path (here straight through the store), the file still on disk.
    await t.runtime.store.deleteWorkspace(t.workspaceId);
    expect(existsSync(join(t.runtime.env.dataDir, 'media', t.workspaceId, `${id}.bin.sealed`))).toBe(true);
    expect((await open(id)).status).toBe(404);
  });
});
