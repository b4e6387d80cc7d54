import { createHmac } from 'node:crypto';
import { type LedgerTarget, ledgerConnector, startLedgerTarget } from '@wabridge/core/testing';
import { freshSchema, testDatabaseUrl } from '@wabridge/store-postgres/testing';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { signWorkspaceCheckpoint, verifyWorkspaceArchive } from './archive-operations.ts';
import { backupCommand, withArchiveDatabase } from './cli/admin.ts';
import { EnvError, loadEnv } from './env.ts';
import { openChosenStore, usesPostgres } from './store-choice.ts';
import { startTestGateway, TEST_APP_SECRET } from './testing/harness.ts';

const PHONE_NUMBER_ID = '106540352242922';

function textWebhook(wamid: string, body: string): string {
  return JSON.stringify({
    object: 'whatsapp_business_account',
    entry: [
      {
        id: '419561257915477',
        changes: [
          {
            field: 'messages',
            value: {
              messaging_product: 'whatsapp',
              metadata: { display_phone_number: '15550783881', phone_number_id: PHONE_NUMBER_ID },
              contacts: [{ profile: { name: 'Sheena Nelson' }, wa_id: '16505551234' }],
              messages: [
                { from: '16505551234', id: wamid, timestamp: '1749416383', type: 'text', text: { body } },
              ],
            },
          },
        ],
      },
    ],
  });
}

describe('DATABASE_URL', () => {
  it('selects Postgres only for postgres:// and postgresql:// URLs', () => {
    const base = { NODE_ENV: 'test', WABRIDGE_DATA_DIR: '/tmp/wb-choice' };
    expect(usesPostgres(loadEnv(base))).toBe(false);
    expect(usesPostgres(loadEnv({ ...base, DATABASE_URL: 'sqlite:/tmp/x.db' }))).toBe(false);
    expect(loadEnv({ ...base, DATABASE_URL: 'sqlite:/tmp/x.db' }).databasePath).toBe('/tmp/x.db');
    for (const url of ['postgres://u@h/db', 'postgresql://u@h:5433/db']) {
      expect(loadEnv({ ...base, DATABASE_URL: url }).postgresUrl).toBe(url);
    }
    expect(() => loadEnv({ ...base, DATABASE_URL: 'mysql://h/db' })).toThrow(EnvError);
    expect(() => loadEnv({ ...base, DATABASE_URL: 'postgres://u@h/db', DATABASE_SCHEMA: 'a;drop' })).toThrow(
      /DATABASE_SCHEMA/,
    );
  });

  it('fails at start with one clear line when the server cannot be reached', async () => {
    // Port 1: nothing listens there, the connection is refused at once.
    const env = loadEnv({
      NODE_ENV: 'test',
      WABRIDGE_DATA_DIR: '/tmp/wb-choice',
      DATABASE_URL: 'postgres://postgres@127.0.0.1:1/test',
    });
    await expect(openChosenStore(env)).rejects.toMatchObject({
      code: 'unavailable',
      message: expect.stringMatching(/^cannot open the Postgres store at DATABASE_URL: /),
    });
  });
});

describe('the SQLite-only commands on Postgres', () => {
  it('refuse in one line instead of opening a SQLite file that is not the database; backup names pg_dump', async () => {
    const env = loadEnv({
      NODE_ENV: 'test',
      WABRIDGE_DATA_DIR: '/tmp/wb-choice',
      DATABASE_URL: 'postgres://postgres@127.0.0.1:1/test',
    });
    const refused = { code: 'config_invalid', message: expect.stringMatching(/not built for Postgres/) };
    await expect(
      backupCommand({ env: () => env, values: {}, positionals: ['/tmp/wb-choice-backup.db'], args: [] }),
    ).rejects.toMatchObject({
      code: 'config_invalid',
      message: expect.stringMatching(/use pg_dump|with pg_dump/),
    });
    await expect(withArchiveDatabase(env, async () => null)).rejects.toMatchObject(refused);
  });
});

describe('the gateway on Postgres', () => {
  let target: LedgerTarget | null = null;
  let drop: (() => Promise<void>) | null = null;
  afterEach(async () => {
    await target?.close();
    await drop?.();
    target = null;
    drop = null;
  });

  it('ingests a signed webhook, delivers its effect and keeps its data across a restart', async () => {
    const fresh = await freshSchema('wb_gw');
    drop = fresh.drop;
    target = await startLedgerTarget();
    const env = { DATABASE_URL: testDatabaseUrl, DATABASE_SCHEMA: fresh.schema };
    const first = await startTestGateway({ env, connectors: [ledgerConnector] });
    try {
      expect(first.runtime.store).toMatchObject({ kind: 'postgres' });
      // The threaded SQLite store is not used on Postgres: nothing to stall.
      expect(first.runtime.storeStalledForMs()).toBe(0);
      const admin = first.runtime.admin;
      await admin.createWorkspace('test', { id: 'acme', name: 'Acme' });
      await admin.addPhoneNumber('test', 'acme', { phoneNumberId: PHONE_NUMBER_ID });
      await admin.setConnector('test', 'acme', 'ledger', {
        enabled: true,
        config: { url: target.url, secret: 'ledger-secret-123' },
      });
      const body = textWebhook('wamid.PG1', 'stored in Postgres');
      const res = await fetch(first.webhookUrl, {
        method: 'POST',
        body,
        headers: {
          'content-type': 'application/json',
          'x-hub-signature-256': `sha256=${createHmac('sha256', TEST_APP_SECRET).update(body).digest('hex')}`,
        },
      });
      expect(res.status).toBe(200);
      // The worker delivers asynchronously: wait (bounded) for the ledger to see the effect.
      const ledger = target;
      await vi.waitFor(() => expect(ledger.effects).toHaveLength(1), { timeout: 20_000, interval: 50 });
      expect(ledger.effects[0]).toMatchObject({ eventType: 'message.inbound', text: 'stored in Postgres' });
      // The archive's verify and checkpoints, as the admin API and console call them, on Postgres.
      const signed = await signWorkspaceCheckpoint(first.runtime, 'test', 'acme');
      expect(signed.note).toMatch(/^wabridge\/archive\/acme\n/);
      const report = await verifyWorkspaceArchive(first.runtime, 'acme');
      expect(report).toMatchObject({
        ok: true,
        contentChecked: true,
        verifiedSize: signed.size,
        failure: null,
      });
    } finally {
      await first.close();
    }

    // A new process (new data directory, same database): the data is still there.
    const second = await startTestGateway({ env, connectors: [ledgerConnector], worker: false });
    try {
      expect(await second.runtime.store.getWorkspace('acme')).toMatchObject({ id: 'acme' });
      const message = await second.runtime.store.getMessageByWamid('acme', 'wamid.PG1');
      expect(message).toMatchObject({ text: 'stored in Postgres' });
      expect(target.effects).toHaveLength(1);
    } finally {
      await second.close();
    }
  }, 60_000);
});
