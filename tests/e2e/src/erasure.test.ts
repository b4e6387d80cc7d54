import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ErasureCertificate, SqliteStore } from '@wabridge/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FixtureRun, type FixtureStack, startFixtureStack } from './support/fixture-stack.ts';

/**
 * Erasure and retention (issue 18, items 4-6) end to end: a real gateway mirrors customers to the
 * Slack, Teams and HubSpot emulators, and the real CLI, in its own process on the same database,
 * erases one customer, sets and runs retention (with WABRIDGE_TEST_NOW, honoured only under
 * NODE_ENV=test, to let the months pass). Each emulator is asked what it still shows.
 */
const BIN = fileURLToPath(new URL('../../../apps/gateway/bin/wabridge.mjs', import.meta.url));
const TARGETS = ['slack', 'teams', 'hubspot'] as const;
const DAY = 86_400_000;

let stack: FixtureStack;
beforeAll(async () => {
  stack = await startFixtureStack();
}, 60_000);
afterAll(async () => {
  await stack?.close();
});

/** The real CLI on the run's data directory and master key. */
async function wabridge(
  run: FixtureRun,
  args: string[],
  env: Record<string, string> = {},
): Promise<{ stdout: string; stderr: string; code: number }> {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: {
      ...process.env,
      NODE_ENV: 'test',
      LOG_LEVEL: 'warn',
      WABRIDGE_DATA_DIR: run.runtime.env.dataDir,
      WABRIDGE_MASTER_KEY: run.runtime.env.WABRIDGE_MASTER_KEY ?? '',
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
  child.stdin.end();
  const code = await new Promise<number>((resolve) => child.on('close', (status) => resolve(status ?? -1)));
  return { stdout, stderr, code };
}

const dbOf = (run: FixtureRun) => (run.runtime.store as unknown as SqliteStore).db;

/** Every row of the tables an erasure or a purge would change, to show a refusal changed nothing. */
function snapshot(run: FixtureRun): string {
  const db = dbOf(run);
  return JSON.stringify(
    [
      'messages',
      'message_statuses',
      'contacts',
      'conversations',
      'notices',
      'jobs',
      'jobs_new',
      'erasures',
      'archive_records',
    ].map((t) => [t, db.all(`SELECT * FROM ${t} ORDER BY 1`)]),
    (_, v) => (v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v),
  );
}

interface Customer {
  waId: string;
  name: string;
  /** Our message ids of what the customer sent, text then image. */
  messages: string[];
}

/** Two customers write (text, then a photo with a caption); everything is mirrored. */
async function twoCustomers(run: FixtureRun): Promise<[Customer, Customer]> {
  const people: [Customer, Customer] = [
    { waId: '15550807001', name: 'Ada Erasable', messages: [] },
    { waId: '15550807002', name: 'Bo Stays', messages: [] },
  ];
  const base = Date.now() - 60_000;
  for (const [i, person] of people.entries()) {
    const customer = stack.whatsapp.customer({ waId: person.waId, name: person.name });
    const text = await customer.sendText(`canary text of ${person.name}`, { timestamp: base + i * 10 });
    const photo = await customer.sendImage(
      {
        bytes: `\xff\xd8\xff photo of ${person.name}`,
        mimeType: 'image/jpeg',
        caption: `canary caption of ${person.name}`,
      },
      { timestamp: base + i * 10 + 5 },
    );
    for (const wamid of [text, photo]) {
      const message = await run.runtime.store.getMessageByWamid(run.workspaceId, wamid);
      person.messages.push(message?.id ?? '');
    }
  }
  await run.settle();
  return people;
}

const mediaFile = (run: FixtureRun, messageId: string) =>
  join(run.runtime.env.dataDir, 'media', run.workspaceId, `${messageId}.bin.sealed`);

describe('erasure reaches every system', { timeout: 240_000 }, () => {
  it('refuses under a legal hold changing nothing, then erases in wabridge, Slack, Teams and HubSpot with a certificate', async () => {
    const run = await stack.fresh();
    const ws = run.workspaceId;
    const [ada, bo] = await twoCustomers(run);
    for (const target of TARGETS)
      for (const id of [...ada.messages, ...bo.messages])
        expect(await run.shown(target, id), `${target} shows ${id} before`).not.toBeNull();
    const photo = ada.messages[1] as string;
    expect(existsSync(mediaFile(run, photo)), 'the photo is cached').toBe(true);

    // Under a legal hold the same command refuses, naming the hold, and nothing changes anywhere.
    const hold = await wabridge(run, [
      'hold',
      'add',
      ws,
      '--contact',
      `+${ada.waId}`,
      '--reason',
      'FINRA exam 7',
    ]);
    expect(hold.code, hold.stderr).toBe(0);
    const holdId = /legal hold (hold_\w+)/.exec(hold.stdout)?.[1] ?? '';
    const before = snapshot(run);
    const refused = await wabridge(run, ['erase', ws, '--contact', `+${ada.waId}`]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`erasure refused: legal hold ${holdId} on contact`);
    expect(refused.stderr).toContain('"FINRA exam 7", set by cli:');
    expect(refused.stderr).toContain('Nothing was changed');
    await run.settle();
    expect(snapshot(run)).toBe(before);
    for (const target of TARGETS)
      for (const id of ada.messages)
        expect(await run.shown(target, id), `${target} after refusal`).not.toBeNull();
    expect(existsSync(mediaFile(run, photo))).toBe(true);

    const released = await wabridge(run, ['hold', 'release', ws, holdId, '--reason', 'exam closed']);
    expect(released.code, released.stderr).toBe(0);
    const erased = await wabridge(run, [
      'erase',
      ws,
      '--contact',
      `+${ada.waId}`,
      '--reason',
      'art. 17 request 12',
    ]);
    expect(erased.code, erased.stderr).toBe(0);
    const erasureId = /erasure (er_\w+): deleted 2 message\(s\)/.exec(erased.stdout)?.[1];
    expect(erasureId, erased.stdout).toBeDefined();
    await run.settle();

    // Gone from each emulator; the other customer untouched.
    for (const target of TARGETS) {
      for (const id of ada.messages)
        expect(await run.shown(target, id), `${target} still shows ${id}`).toBeNull();
      for (const id of bo.messages)
        expect(await run.shown(target, id), `${target} lost ${id}`).not.toBeNull();
    }
    const everything = run.everything().join('\n');
    expect(everything).not.toContain('canary text of Ada');
    expect(everything).not.toContain('canary caption of Ada');
    expect(everything).toContain('canary text of Bo');
    // Gone from wabridge: content, cached media, identifiers.
    expect(existsSync(mediaFile(run, photo))).toBe(false);
    expect(existsSync(join(run.runtime.env.dataDir, 'media', ws, `${photo}.json.sealed`))).toBe(false);
    for (const id of ada.messages) {
      const message = await run.runtime.store.getMessage(ws, id);
      expect([message?.text, message?.content]).toEqual([null, {}]);
    }

    // The certificate: what was removed where, and each connector's confirmation.
    const status = await wabridge(run, ['erase', 'status', ws, erasureId ?? '']);
    expect(status.code, status.stderr).toBe(0);
    const certificate = JSON.parse(status.stdout) as ErasureCertificate;
    expect(certificate).toMatchObject({
      id: erasureId,
      outcome: 'erased',
      reason: 'art. 17 request 12',
      wabridge: { messages: 2, contactIdentifiersCleared: true },
    });
    expect(certificate.wabridge.mediaFiles).toContain(`${ws}/${photo}.bin.sealed`);
    expect(certificate.connectors.map((p) => [p.connectorId, p.state])).toEqual([
      ['hubspot', 'confirmed'],
      ['slack', 'confirmed'],
      ['teams', 'confirmed'],
    ]);
    for (const part of certificate.connectors)
      expect(part.platformIds.length, part.connectorId).toBeGreaterThan(0);
    const verified = await wabridge(run, ['archive', 'verify', ws]);
    expect(verified.code, verified.stdout).toBe(0);
    expect(verified.stdout).toMatch(new RegExp(`record\\(s\\) purged[\\s\\S]*by erasure:${erasureId}`));

    // Ada writes again: a fresh contact and conversation, mirrored as a new thread.
    const erasedConversation = certificate.wabridge.conversations[0];
    const again = await stack.whatsapp.customer({ waId: ada.waId, name: ada.name }).sendText('hello again');
    await run.settle();
    const fresh = await run.runtime.store.getMessageByWamid(ws, again);
    expect(fresh?.conversationId).not.toBe(erasedConversation);
    expect(await run.shown('slack', fresh?.id ?? '')).toContain('hello again');
  });
});

describe('erasure under a retention obligation', { timeout: 240_000 }, () => {
  it('restricts: the content stays in wabridge, the mirrors lose their copies and get nothing new', async () => {
    const run = await stack.fresh();
    const ws = run.workspaceId;
    const [ada, bo] = await twoCustomers(run);
    expect((await wabridge(run, ['retention', 'set', ws, 'messages', '--keep-days', '2190'])).code).toBe(0);
    const restricted = await wabridge(run, ['erase', ws, '--contact', ada.waId]);
    expect(restricted.code, restricted.stderr).toBe(0);
    expect(restricted.stdout).toContain('RESTRICTED, not deleted (GDPR art. 18)');
    await run.settle();
    for (const target of TARGETS) {
      for (const id of ada.messages)
        expect(await run.shown(target, id), `${target} still shows ${id}`).toBeNull();
      for (const id of bo.messages)
        expect(await run.shown(target, id), `${target} lost ${id}`).not.toBeNull();
    }
    // Kept in wabridge, as the obligation requires.
    expect((await run.runtime.store.getMessage(ws, ada.messages[0] ?? ''))?.text).toBe(
      'canary text of Ada Erasable',
    );
    expect(existsSync(mediaFile(run, ada.messages[1] ?? ''))).toBe(true);
    // Ada writes again: kept, and mirrored nowhere.
    const again = await stack.whatsapp.customer({ waId: ada.waId, name: ada.name }).sendText('still there?');
    await run.settle();
    const message = await run.runtime.store.getMessageByWamid(ws, again);
    expect(message?.text).toBe('still there?');
    for (const target of TARGETS) expect(await run.shown(target, message?.id ?? ''), target).toBeNull();
    expect(run.everything().join('\n')).not.toContain('still there?');
  });
});

describe('retention purges on schedule', { timeout: 240_000 }, () => {
  it('purges content and media after the rule allows it, keeps what a legal hold covers, and the archive still verifies', async () => {
    const run = await stack.fresh();
    const ws = run.workspaceId;
    const [ada, bo] = await twoCustomers(run);
    const boConversation =
      (await run.runtime.store.getMessage(ws, bo.messages[0] ?? ''))?.conversationId ?? '';
    expect(
      (await wabridge(run, ['hold', 'add', ws, '--conversation', boConversation, '--reason', 'litigation']))
        .code,
    ).toBe(0);
    const set = await wabridge(run, ['retention', 'set', ws, 'messages', '--after-last-message-days', '30']);
    expect(set.stdout).toContain("delete 30 days after the conversation's last message");

    const today = await wabridge(run, ['retention', 'run', ws]);
    expect(today.stdout).toContain('purged 0');
    const later = { WABRIDGE_TEST_NOW: new Date(Date.now() + 31 * DAY).toISOString() };
    const dry = await wabridge(run, ['retention', 'run', ws, '--dry-run'], later);
    expect(dry.stdout).toContain('would purge 2, 2 kept under a legal hold');
    expect((await run.runtime.store.getMessage(ws, ada.messages[0] ?? ''))?.text).toBe(
      'canary text of Ada Erasable',
    );

    const purge = await wabridge(run, ['retention', 'run', ws], later);
    expect(purge.code, purge.stderr).toBe(0);
    expect(purge.stdout).toContain('purged 2, 2 kept under a legal hold');
    for (const id of ada.messages) expect((await run.runtime.store.getMessage(ws, id))?.text).toBeNull();
    expect(existsSync(mediaFile(run, ada.messages[1] ?? ''))).toBe(false);
    expect((await run.runtime.store.getMessage(ws, bo.messages[0] ?? ''))?.text).toBe(
      'canary text of Bo Stays',
    );
    expect(existsSync(mediaFile(run, bo.messages[1] ?? ''))).toBe(true);
    const verify = await wabridge(run, ['archive', 'verify', ws]);
    expect(verify.code, verify.stdout).toBe(0);
    expect(verify.stdout).toContain(
      "by retention:messages: retention rule: delete messages 30 days after the conversation's last message",
    );
    // The purge is a record of the archive: which rule, when, which messages.
    const recorded = dbOf(run).all<{ details: string }>(
      "SELECT details FROM audit_log WHERE action = 'retention.purge' AND workspace_id = :ws",
      { ws },
    );
    expect(recorded.map((r) => JSON.parse(r.details).messages)).toEqual([
      expect.arrayContaining(ada.messages),
    ]);
  });
});
