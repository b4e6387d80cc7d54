import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteStore } from '@wabridge/core';
import { identity, inboundMessage, messagesUnit } from '@wabridge/core/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../testing/cli.ts';

const dir = mkdtempSync(join(tmpdir(), 'wabridge-governance-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const MASTER_KEY = Buffer.alloc(32, 5);

const env = {
  NODE_ENV: 'test',
  WABRIDGE_DATA_DIR: join(dir, 'data'),
  WABRIDGE_MASTER_KEY: MASTER_KEY.toString('base64'),
  LOG_LEVEL: 'silent',
};

/** The real CLI in its own process, as an operator runs it. */
async function wabridge(...args: string[]) {
  return runCli(args, { cwd: dir, env: env });
}

describe('wabridge hold, retention and erase', () => {
  it('refuse a wrong command line (exit 2), restrict an erasure under a keep obligation and say so, and keep a held workspace', async () => {
    expect((await wabridge('workspace', 'create', 'Acme', '--id', 'acme')).code).toBe(0);
    expect((await wabridge('workspace', 'add-number', 'acme', '106540352242922')).code).toBe(0);
    // A customer wrote (stored directly, sealed with the same master key as the CLI's).
    const store = await openSqliteStore({
      path: join(dir, 'data', 'wabridge.db'),
      masterKeys: { current: MASTER_KEY },
    });
    await store.ingest(
      messagesUnit('acme', {
        messages: [
          inboundMessage({ wamid: 'w1', contact: identity({ waId: '15550001111' }), timestamp: Date.now() }),
        ],
      }),
    );
    await store.close();

    const usage = await Promise.all([
      wabridge('hold', 'add', 'acme', '--reason', 'x'),
      wabridge('hold', 'add', 'acme', '--workspace', '--contact', '15550001111', '--reason', 'x'),
      wabridge('hold', 'add', 'acme', '--workspace'),
      wabridge('hold', 'add', 'acme', '--from', '2026-13-01', '--to', '2026-12-31', '--reason', 'x'),
      wabridge('retention', 'set', 'acme', 'messages'),
      wabridge('retention', 'set', 'acme', 'messages', '--keep-days', 'six years'),
      wabridge('erase', 'acme'),
    ]);
    expect(usage.map((u) => u.code)).toEqual([2, 2, 2, 2, 2, 2, 2]);
    expect(usage[0]?.stderr).toContain('name exactly one scope');
    expect(usage[2]?.stderr).toContain('--reason is required');
    expect(usage[6]?.stderr).toContain('--contact <number|BSUID> or --conversation <id>');

    expect((await wabridge('retention', 'set', 'acme', 'messages', '--keep-days', '2190')).stdout).toContain(
      'acme messages: keep 2190 days',
    );
    const erased = await wabridge('erase', 'acme', '--contact', '+1 555 000 1111');
    expect(erased.code, erased.stderr).toBe(0);
    expect(erased.stdout).toContain('RESTRICTED, not deleted (GDPR art. 18)');
    expect(erased.stdout).toMatch(/keeps messages 2190 days \(set by cli:[^)]*\); the newest is from /);
    const id = /erasure (er_\w+)/.exec(erased.stdout)?.[1] ?? '';
    const status = await wabridge('erase', 'status', 'acme', id);
    expect(JSON.parse(status.stdout)).toMatchObject({ id, outcome: 'restricted', connectors: [] });

    expect((await wabridge('hold', 'add', 'acme', '--workspace', '--reason', 'SEC 17a-4')).code).toBe(0);
    const deleted = await wabridge('workspace', 'delete', 'acme');
    expect(deleted.code).toBe(1);
    expect(deleted.stderr).toMatch(
      /deleting the workspace refused: legal hold hold_\w+ on the whole workspace \("SEC 17a-4"/,
    );
    expect((await wabridge('workspace', 'list')).stdout).toContain('acme');
  }, 180_000);
});
