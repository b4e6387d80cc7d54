import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { fileURLToPath } from 'node:url';
import { openSqliteStore } from '@wabridge/core';
import { type LedgerTarget, ledgerConnector, startLedgerTarget } from '@wabridge/core/testing';
import { type SlackEmulator, startSlackEmulator } from '@wabridge/sandbox/slack';
import {
  createTestBridge,
  customerMessage,
  TEST_BRIDGE_MASTER_KEY,
  type TestBridge,
} from '@wabridge/whatsapp/testing';
import { afterEach, describe, expect, it } from 'vitest';

const BIN = fileURLToPath(new URL('../../../apps/gateway/bin/wabridge.mjs', import.meta.url));

/** Runs the real CLI in its own process against a data directory (with `input` on its stdin). */
async function wabridge(
  dataDir: string,
  ...args: (string | { input?: string; env?: Record<string, string> })[]
): Promise<{ stdout: string; stderr: string; code: number }> {
  const words = args.filter((a): a is string => typeof a === 'string');
  const extra = args.find(
    (a): a is { input?: string; env?: Record<string, string> } => typeof a !== 'string',
  );
  const child = spawn(process.execPath, [BIN, ...words], {
    env: {
      ...process.env,
      NODE_ENV: 'development',
      LOG_LEVEL: 'warn',
      WABRIDGE_DATA_DIR: dataDir,
      // A test bridge's data: the CLI shares its master key, as it shares the gateway's in production.
      ...(basename(dataDir).startsWith('wabridge-bridge-')
        ? { WABRIDGE_MASTER_KEY: TEST_BRIDGE_MASTER_KEY }
        : {}),
      ...extra?.env,
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
  child.stdin.end(extra?.input ?? '');
  const code = await new Promise<number>((resolve) => child.on('close', (status) => resolve(status ?? -1)));
  return { stdout, stderr, code };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// Each test starts the CLI many times, a Node process each: on a busy two-core machine a start takes
// seconds, so these tests get a longer limit than the suite's default.
describe('wabridge CLI', { timeout: 180_000 }, () => {
  const dirs: string[] = [];
  let bridge: TestBridge | null = null;
  let target: LedgerTarget | null = null;
  let slack: SlackEmulator | null = null;
  afterEach(async () => {
    await bridge?.close();
    await target?.close();
    await slack?.close();
    bridge = null;
    target = null;
    slack = null;
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it('manages workspaces and numbers, and refuses bad input with a clear message', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wabridge-cli-'));
    dirs.push(dir);
    expect((await wabridge(dir, 'workspace', 'create', 'Acme Support', '--id', 'acme')).stdout).toContain(
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
    expect((await wabridge(dir, 'connector', 'list')).stdout).toContain('set up: none yet');
    const usage = await wabridge(dir, 'frobnicate');
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('unknown command "frobnicate"');
    // Mistyped input is named, never answered with a stack trace or a success that did nothing.
    const badJson = await wabridge(dir, 'connector', 'enable', 'acme', 'slack', '--config', '{botToken:');
    expect(badJson.code).toBe(2);
    // Its own line on stderr, after any warning the runtime logged there.
    expect(badJson.stderr).toMatch(/^--config is not valid JSON: /m);
    expect(badJson.stderr).not.toContain('    at ');
    // Understood but impossible: a failure (1), like any other, not a usage error (2).
    const noWorkspace = await wabridge(dir, 'workspace', 'delete', 'nope');
    expect(noWorkspace.code).toBe(1);
    expect(noWorkspace.stderr).toContain('not_found: workspace nope does not exist');
    const badId = await wabridge(dir, 'replay', '--id', 'x');
    expect(badId.code).toBe(2);
    expect(badId.stderr).toContain('--id takes dead job ids');
    const noFile = await wabridge(dir, 'config', 'check', join(dir, 'missing.yaml'));
    expect(noFile.code).toBe(1);
    expect(noFile.stderr).toMatch(/^not_found: the config file .*missing\.yaml does not exist$/m);
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
    expect(noWorkspace.code).toBe(1);
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
    // The copy opens with the same data, given the master key; the text itself is sealed in it.
    const copy = await openSqliteStore({
      path: file,
      masterKeys: { current: Buffer.from(TEST_BRIDGE_MASTER_KEY, 'base64') },
    });
    const [conversation] = await copy.listConversations(bridge.workspaceId);
    const texts = (await copy.listMessages(bridge.workspaceId, conversation?.id ?? '')).map((m) => m.text);
    await copy.close();
    expect(texts).toEqual(['keep me']);
    const raw = new DatabaseSync(file, { readOnly: true });
    expect(raw.prepare('SELECT typeof(content) AS t FROM messages').all()).toEqual([{ t: 'blob' }]);
    raw.close();
    expect((await wabridge(bridge.dir, 'backup', file)).stderr).toContain('exists');
  });

  const fresh = () => {
    const dir = mkdtempSync(join(tmpdir(), 'wabridge-cli-'));
    dirs.push(dir);
    return dir;
  };

  it('names a mistyped command, subcommand or option and the nearest one, and refuses stray words', async () => {
    const dir = fresh();
    const command = await wabridge(dir, 'worksapce', 'list');
    expect([command.code, command.stderr.trim()]).toEqual([
      2,
      'unknown command "worksapce"; did you mean "workspace"? (wabridge --help lists the commands)',
    ]);
    const sub = await wabridge(dir, 'connector', 'tset', 'acme', 'slack');
    expect(sub.stderr).toContain('unknown connector subcommand "tset"; did you mean "test"?');
    const option = await wabridge(dir, 'workspace', 'create', 'Beta', '--iid', 'beta');
    expect([option.code, option.stderr]).toEqual([
      2,
      expect.stringContaining('unknown option --iid for wabridge workspace create; did you mean --id?'),
    ]);
    // What `npm run wabridge workspace create "Beta" --id beta` (no --) passes on: npm keeps --id.
    const stray = await wabridge(dir, 'workspace', 'create', 'Beta', 'beta');
    expect(stray.code).toBe(2);
    expect(stray.stderr).toContain('wabridge workspace create takes <name>, but was also given "beta"');
    expect(stray.stderr).toContain('npm run wabridge -- workspace create');
    const group = await wabridge(dir, 'workspace');
    expect([group.code, group.stderr]).toEqual([
      2,
      expect.stringContaining('wabridge workspace needs a subcommand'),
    ]);
    for (const result of [command, sub, option, stray, group]) expect(result.stderr).not.toContain('    at ');
    // Nothing was created by any of them.
    expect((await wabridge(dir, 'workspace', 'list')).stdout).toContain('no workspaces yet');
  });

  it('serve on a port in use says so in one line and exits 1, after warning that the verify token is unset', async () => {
    const dir = fresh();
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const port = (holder.address() as AddressInfo).port;
    try {
      const serve = await wabridge(dir, 'serve', { env: { PORT: String(port), HOST: '127.0.0.1' } });
      expect(serve.code).toBe(1);
      // The server logs to stdout; the error that ends it goes to stderr.
      expect(serve.stdout).toContain('WHATSAPP_VERIFY_TOKEN is not set');
      expect(serve.stderr.trimEnd().split('\n').at(-1)).toBe(
        `conflict: cannot listen on 127.0.0.1:${port}: the port is in use (another wabridge?); stop that process or set PORT to a free port`,
      );
      expect(serve.stderr).not.toContain('    at ');
    } finally {
      await new Promise((resolve) => holder.close(resolve));
    }
  });

  it('warns about the development master key once per data directory, and labels an empty queue', async () => {
    const dir = fresh();
    const first = await wabridge(dir, 'status');
    expect(first.stderr).toContain('development mode: using a generated master key');
    expect(first.stdout).toContain('jobs: 0 ready, 0 running, 0 dead');
    expect(first.stdout).toContain('connectors: none set up');
    expect(first.stdout).not.toContain('(none)');
    const second = await wabridge(dir, 'workspace', 'list');
    expect(second.stderr).toBe('');
  });

  it('refuses the README placeholder token and a misspelled key before storing anything', async () => {
    const dir = fresh();
    await wabridge(dir, 'workspace', 'create', 'Acme', '--id', 'acme');
    const placeholder = await wabridge(
      dir,
      'connector',
      'enable',
      'acme',
      'slack',
      '--config',
      '{"botToken":"xoxb-…","signingSecret":"…","teamId":"T0…","defaultChannel":"C0…"}',
    );
    expect(placeholder.code).toBe(1);
    expect(placeholder.stderr).toMatch(
      /^config_invalid: slack configuration is invalid: (signingSecret|botToken): contains "…" \(U\+2026\) at character \d+/m,
    );
    expect(placeholder.stderr.trim().split('\n')).toHaveLength(1);
    const misspelled = await wabridge(
      dir,
      'connector',
      'enable',
      'acme',
      'slack',
      '--config',
      '{"botToken":"xoxb-1-2-abc","signingSecret":"s3cr3t","teamId":"T0123ABCD","defaultchannel":"C0123ABCD"}',
    );
    expect(misspelled.stderr).toContain('unknown key "defaultchannel" (did you mean "defaultChannel"?)');
    const userToken = await wabridge(
      dir,
      'connector',
      'enable',
      'acme',
      'slack',
      '--set',
      'botToken=xoxp-1-2',
    );
    expect(userToken.stderr).toContain('botToken: starts with "xoxp-": that is a user token');
    expect((await wabridge(dir, 'connector', 'list', 'acme')).stdout).toContain('set up: none yet');
  });

  it('takes secrets from a file, standard input or the environment, and tests them against Slack', async () => {
    slack = await startSlackEmulator({
      signingSecret: 'cli-signing-secret',
      botToken: 'xoxb-cli-bot-token',
      channels: [{ id: 'C0SUPPORT01', name: 'support' }],
    });
    const dir = fresh();
    await wabridge(dir, 'workspace', 'create', 'Acme', '--id', 'acme');
    const env = { SLACK_BOT_TOKEN: slack.botToken, SLACK_SIGNING_SECRET: slack.signingSecret };
    // A file naming the variables; none of the secrets is on a command line.
    const file = join(dir, 'slack.yaml');
    writeFileSync(
      file,
      [
        // biome-ignore lint/suspicious/noTemplateCurlyInString: wabridge fills ${NAME}, not JavaScript.
        'botToken: ${SLACK_BOT_TOKEN}',
        // biome-ignore lint/suspicious/noTemplateCurlyInString: as above.
        'signingSecret: ${SLACK_SIGNING_SECRET}',
        `teamId: ${slack.teamId}`,
        'defaultChannel: C0SUPPORT01',
        `slackApiUrl: ${slack.apiUrl}`,
      ].join('\n'),
    );
    const fromFile = await wabridge(dir, 'connector', 'enable', 'acme', 'slack', '--config-file', file, {
      env,
    });
    expect([fromFile.code, fromFile.stdout.trim()]).toEqual([0, 'slack enabled for acme']);
    const works = await wabridge(dir, 'connector', 'test', 'acme', 'slack');
    expect(works.code).toBe(0);
    expect(works.stdout.trim()).toBe(
      'slack in acme works: token ok: bot @wabridge (U0WABRIDGEBOT) in team wabridge-sandbox (T0WABRIDGE); channel C0SUPPORT01 ok: #support, the app is a member',
    );
    // Standard input: a revoked token, then the test says what fails and what to set.
    const fromStdin = await wabridge(dir, 'connector', 'enable', 'acme', 'slack', '--config', '-', {
      input: '{"botToken":"xoxb-revoked-token"}',
    });
    expect(fromStdin.code).toBe(0);
    const fails = await wabridge(dir, 'connector', 'test', 'acme', 'slack');
    expect(fails.code).toBe(1);
    expect(fails.stdout.trim()).toBe(
      'slack in acme does not work: token FAILED: Slack refused the bot token (invalid_auth): set botToken to the Bot User OAuth Token of the installed app (OAuth & Permissions, xoxb-…)',
    );
    // An environment variable, named on the command line.
    const fromEnv = await wabridge(
      dir,
      'connector',
      'enable',
      'acme',
      'slack',
      '--set-env',
      'botToken=SLACK_BOT_TOKEN',
      {
        env,
      },
    );
    expect(fromEnv.code).toBe(0);
    expect((await wabridge(dir, 'connector', 'test', 'acme', 'slack')).code).toBe(0);
    const unset = await wabridge(
      dir,
      'connector',
      'enable',
      'acme',
      'slack',
      '--set-env',
      'botToken=NOT_SET_ANYWHERE',
    );
    expect([unset.code, unset.stderr.trim()]).toEqual([
      2,
      '--set-env botToken=NOT_SET_ANYWHERE: the environment variable NOT_SET_ANYWHERE is not set',
    ]);
    // Stored encrypted, shown masked.
    expect((await wabridge(dir, 'workspace', 'show', 'acme')).stdout).not.toContain(slack.botToken);
  });

  it('status shows a failing connector with its last error and retries, then its recovery', async () => {
    target = await startLedgerTarget();
    bridge = await createTestBridge({
      manifests: [ledgerConnector],
      connectors: { ledger: { url: target.url, secret: 'ledger-secret-123' } },
      backoff: { baseMs: 60_000, capMs: 60_000, maxAttempts: 5 },
    });
    const current = bridge;
    target.failWhere(() => true);
    await current.customerText('first');
    await current.customerText('second', { waId: '15550002222' });
    await current.worker.drain();
    const failing = await wabridge(current.dir, 'status');
    expect(failing.stdout).toContain('jobs: 2 ready, 0 running, 0 dead');
    expect(failing.stdout).toMatch(
      /ws-test\/ledger\s+failing\s+last success never, last error \d+ s ago, 2 retrying/,
    );
    expect(failing.stdout).toContain(
      'Retried with back-off; it recovers by itself once the platform answers.',
    );
    const json = JSON.parse((await wabridge(current.dir, 'status', '--json')).stdout) as {
      connectors: { connector: string; state: string; retrying: number; lastErrorCode: string }[];
    };
    expect(json.connectors).toEqual([
      expect.objectContaining({
        connector: 'ledger',
        state: 'failing',
        retrying: 2,
        lastErrorCode: 'transient',
      }),
    ]);
    target.failWhere(null);
    await current.store.replayDeadJobs('all');
    // The retries are due in a minute: a worker whose clock is past that runs them now.
    const later = await current.store.claimJobs({
      limit: 10,
      leaseMs: 30_000,
      workerId: 'later',
      now: Date.now() + 120_000,
    });
    for (const job of later) await current.store.completeJob(job.lease, []);
    const recovered = await wabridge(current.dir, 'status');
    expect(recovered.stdout).toMatch(/ws-test\/ledger\s+ok\s+last success \d+ s ago, last error \d+ s ago$/m);
  });
});
