import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import {
  createTestBridge,
  customerMessage,
  type LedgerTarget,
  ledgerConnector,
  startLedgerTarget,
  type TestBridge,
} from '@wabridge/core/testing';
import { afterEach, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const BIN = fileURLToPath(new URL('../../../apps/gateway/bin/wabridge.mjs', import.meta.url));

/** Runs the real CLI in its own process against a data directory. */
async function wabridge(
  dataDir: string,
  ...args: string[]
): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args], {
      env: { ...process.env, NODE_ENV: 'development', LOG_LEVEL: 'warn', WABRIDGE_DATA_DIR: dataDir },
    });
    return { stdout, stderr, code: 0 };
  } catch (error) {
    const e = error as { stdout: string; stderr: string; code: number };
    return { stdout: e.stdout, stderr: e.stderr, code: e.code };
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('wabridge CLI', () => {
  const dirs: string[] = [];
  let bridge: TestBridge | null = null;
  let target: LedgerTarget | null = null;
  afterEach(async () => {
    await bridge?.close();
    await target?.close();
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it('manages workspaces and numbers, and refuses bad input with a clear message', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wabridge-cli-'));
    dirs.push(dir);
    expect((await wabridge(dir, 'workspace', 'create', 'Acme', 'Support', '--id', 'acme')).stdout).toContain(
      'created workspace acme',
    );
    expect(
      (
        await wabridge(
          dir,
          'workspace',
          'add-number',
          'acme',
          '106540352242922',
          '--display',
          '+1 555 078 3881',
        )
      ).code,
    ).toBe(0);
    const list = await wabridge(dir, 'workspace', 'list');
    expect(list.stdout).toMatch(/acme\s+Acme Support\s+106540352242922/);
    const taken = await wabridge(dir, 'workspace', 'create', 'Again', '--id', 'acme');
    expect(taken.code).toBe(1);
    expect(taken.stderr).toContain('conflict: workspace acme already exists');
    const badNumber = await wabridge(dir, 'workspace', 'add-number', 'acme', '+15550783881');
    expect(badNumber.stderr).toContain("must be digits (Meta's phone_number_id");
    const badConnector = await wabridge(
      dir,
      'connector',
      'enable',
      'acme',
      'slack',
      '--set',
      'botToken=xoxb-1',
    );
    expect(badConnector.code).toBe(1);
    expect(badConnector.stderr).toMatch(/config_invalid: slack configuration is invalid/);
    expect((await wabridge(dir, 'connector', 'list')).stdout).toContain('(none)');
    const usage = await wabridge(dir, 'frobnicate');
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('unknown command "frobnicate"');
    // Mistyped input is named, never answered with a stack trace or a success that did nothing.
    const badJson = await wabridge(dir, 'connector', 'enable', 'acme', 'slack', '--config', '{botToken:');
    expect(badJson.code).toBe(2);
    // Its own line on stderr, after any warning the runtime logged there.
    expect(badJson.stderr).toMatch(/^--config is not valid JSON: /m);
    expect(badJson.stderr).not.toContain('    at ');
    const noWorkspace = await wabridge(dir, 'workspace', 'delete', 'nope');
    expect(noWorkspace.code).toBe(2);
    expect(noWorkspace.stderr).toContain('workspace nope does not exist');
    const badId = await wabridge(dir, 'replay', '--id', 'x');
    expect(badId.code).toBe(2);
    expect(badId.stderr).toContain('--id takes dead job ids');
    const noFile = await wabridge(dir, 'config', 'check', join(dir, 'missing.yaml'));
    expect(noFile.code).toBe(1);
    expect(noFile.stderr).toMatch(
      /config_invalid: cannot read the config file .*missing\.yaml: no such file/,
    );
    expect((await wabridge(dir, 'workspace', 'list')).stdout).toMatch(/acme\s+Acme Support/);
  });

  it('replay redelivers dead-lettered jobs exactly once, in order', async () => {
    target = await startLedgerTarget();
    bridge = await createTestBridge({
      manifests: [ledgerConnector],
      connectors: { ledger: { url: target.url, secret: 'ledger-secret-123' } },
      backoff: { baseMs: 2, capMs: 10, maxAttempts: 2 },
    });
    const current = bridge;
    target.failWhere(() => true);
    const base = Date.now() - 10_000;
    for (const [i, text] of ['first', 'second', 'third'].entries())
      await current.customerText(text, { timestamp: base + i * 1000 });
    for (let i = 0; i < 200 && (await current.store.listDeadJobs()).length < 3; i++) {
      await current.worker.drain();
      await sleep(5);
    }
    expect(await current.store.listDeadJobs()).toHaveLength(3);

    const listed = await wabridge(current.dir, 'replay', '--list');
    expect(listed.stdout.match(/ledger\s+message\.inbound\s+2/g)).toHaveLength(3);
    target.failWhere(null);
    expect((await wabridge(current.dir, 'replay', '--all')).stdout).toContain('replayed 3 job(s)');
    expect((await wabridge(current.dir, 'replay', '--all')).stdout).toContain('replayed 0 job(s)');
    await current.worker.drain();
    expect(target.effects.map((e) => e.text)).toEqual(['first', 'second', 'third']);
    expect((await wabridge(current.dir, 'status')).stdout).toContain('jobs: 0 ready, 0 running, 0 dead');
  });

  it('replay --unrouted delivers what came for a number once a workspace claims it, past any backlog', async () => {
    target = await startLedgerTarget();
    bridge = await createTestBridge({
      manifests: [ledgerConnector],
      connectors: { ledger: { url: target.url, secret: 'ledger-secret-123' } },
    });
    const current = bridge;
    // One webhook of many changes, as Meta batches them: 1,200 for a number nobody owns, first,
    // then three for a number the workspace is about to claim. The claimed ones lie beyond the
    // first pages of the kept changes.
    const base = Date.now() - 60_000;
    const change = (phoneNumberId: string, wamid: string, text: string, at: number) => {
      const [entry] = customerMessage(wamid, { type: 'text', text: { body: text } }, { timestamp: at }).entry;
      const value = entry?.changes[0]?.value;
      return {
        field: 'messages',
        value: { ...value, metadata: { ...value?.metadata, phone_number_id: phoneNumberId } },
      };
    };
    const stray = Array.from({ length: 1200 }, (_, i) =>
      change('111111', `wamid.stray.${i}`, `stray ${i}`, base),
    );
    const claimed = ['first', 'second', 'third'].map((text, i) =>
      change('222222', `wamid.claimed.${i}`, text, base + 1000 * (i + 1)),
    );
    expect(
      (
        await current.ingest({
          object: 'whatsapp_business_account',
          entry: [{ id: '1', changes: [...stray, ...claimed] }],
        })
      ).unrouted,
    ).toBe(1203);
    expect((await wabridge(current.dir, 'status')).stdout).toContain('1203 unrouted webhook change(s) kept');

    expect((await wabridge(current.dir, 'workspace', 'add-number', current.workspaceId, '222222')).code).toBe(
      0,
    );
    const replayed = await wabridge(current.dir, 'replay', '--unrouted');
    expect(replayed.stdout).toContain('re-ingested 3 unrouted change(s) whose number now has a workspace');
    expect(replayed.stdout).toContain('1200 still unrouted, for numbers no workspace owns: 111111 (1200)');
    await current.worker.drain();
    expect(target.effects.map((e) => e.text)).toEqual(['first', 'second', 'third']);
    // Routed once: a second replay finds nothing more to do, and the status counts what is left.
    expect((await wabridge(current.dir, 'replay', '--unrouted')).stdout).toContain('re-ingested 0 unrouted');
    await current.worker.drain();
    expect(target.effects).toHaveLength(3);
    expect((await wabridge(current.dir, 'status')).stdout).toContain('1200 unrouted webhook change(s) kept');
  });

  it('events lists what Meta sent that is kept as a platform event, and exports it as JSON lines', async () => {
    bridge = await createTestBridge({ manifests: [ledgerConnector], connectors: {} });
    const current = bridge;
    // A WABA-wide update (no workspace), then a message whose contact carries a field we do not store.
    await current.ingest({
      object: 'whatsapp_business_account',
      entry: [
        {
          id: '419561257915477',
          time: 1749416390,
          changes: [
            { field: 'account_update', value: { event: 'VERIFIED_ACCOUNT', phone_number: '15550783881' } },
          ],
        },
      ],
    });
    const message = customerMessage('wamid.events.1', { type: 'text', text: { body: 'hi' } });
    const contact = message.entry[0]?.changes[0]?.value.contacts[0];
    if (contact) Object.assign(contact, { identity_key_hash: 'aGFzaA==' });
    await current.ingest(message);

    const listed = await wabridge(current.dir, 'events');
    expect(listed.code).toBe(0);
    const lines = listed.stdout.split('\n').filter((line) => /^\d{4}-/.test(line));
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(
      new RegExp(
        `${current.workspaceId}\\s+messages\\s+102290129340398\\s+keys not read: contacts\\[\\]\\.identity_key_hash`,
      ),
    );
    expect(lines[1]).toMatch(
      /\s-\s+account_update\s+419561257915477\s+not a message, status or consent change/,
    );
    const mine = await wabridge(
      current.dir,
      'events',
      '--workspace',
      current.workspaceId,
      '--field',
      'messages',
    );
    expect(mine.stdout).not.toContain('account_update');
    expect(mine.stdout).toContain('identity_key_hash');

    const exported = await wabridge(current.dir, 'events', '--unassigned', '--all', '--json');
    // Nothing but the events on stdout (logs go to stderr), so the output is a JSON-lines file as is.
    const events = exported.stdout
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(events).toEqual([
      expect.objectContaining({
        workspaceId: null,
        field: 'account_update',
        payload: { event: 'VERIFIED_ACCOUNT', phone_number: '15550783881' },
        wabaId: '419561257915477',
        entryTime: 1749416390,
      }),
    ]);

    const badLimit = await wabridge(current.dir, 'events', '--limit', 'ten');
    expect(badLimit.code).toBe(2);
    expect(badLimit.stderr).toContain('--limit takes a positive whole number, got ten');
    const noWorkspace = await wabridge(current.dir, 'events', '--workspace', 'nope');
    expect(noWorkspace.code).toBe(2);
    expect(noWorkspace.stderr).toContain('workspace nope does not exist');
  });

  it('backs up the live database to a file that opens with the same data', async () => {
    target = await startLedgerTarget();
    bridge = await createTestBridge({
      manifests: [ledgerConnector],
      connectors: { ledger: { url: target.url, secret: 'ledger-secret-123' } },
    });
    await bridge.customerText('keep me');
    const file = join(bridge.dir, 'backup.db');
    expect((await wabridge(bridge.dir, 'backup', file)).stdout).toContain('backup written');
    const copy = new DatabaseSync(file, { readOnly: true });
    expect(copy.prepare("SELECT text FROM messages WHERE text = 'keep me'").all()).toHaveLength(1);
    copy.close();
    expect((await wabridge(bridge.dir, 'backup', file)).stderr).toContain('exists');
  });
});
