import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createRegistry } from '../connector/registry.ts';
import { createSecretBox } from '../secrets/index.ts';
import { openSqliteStore, type SqliteStore } from '../store/sqlite/index.ts';
import { ledgerConnector } from '../testing/ledger-connector.ts';
import { configFileSchema, interpolateEnv, WorkspaceAdmin } from './admin.ts';

describe('workspace administration', () => {
  let dir: string;
  let store: SqliteStore;
  let admin: WorkspaceAdmin;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'wabridge-admin-'));
    store = await openSqliteStore({ path: join(dir, 'db') });
    admin = new WorkspaceAdmin({
      store,
      registry: createRegistry([ledgerConnector]),
      secrets: createSecretBox(Buffer.alloc(32, 4)),
    });
    await admin.createWorkspace('test', { id: 'acme', name: 'Acme' });
  });
  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('stores secret fields encrypted, never in the plain config, and shows them masked', async () => {
    await admin.setConnector('test', 'acme', 'ledger', {
      enabled: true,
      config: { url: 'http://127.0.0.1:1', secret: 'hunter2-hunter2' },
    });
    const stored = await store.getConnector('acme', 'ledger');
    expect(stored?.config).toEqual({ url: 'http://127.0.0.1:1' });
    expect(stored?.encryptedSecrets).toMatch(/^v1\./);
    expect(JSON.stringify(stored)).not.toContain('hunter2');
    expect((await admin.describeConnector('acme', 'ledger'))?.config).toEqual({
      url: 'http://127.0.0.1:1',
      secret: '••••••',
    });
    const audit = store.db.all<{ details: string }>(
      "SELECT details FROM audit_log WHERE action = 'connector.enable'",
    );
    expect(audit[0]?.details).not.toContain('hunter2');
  });

  it('keeps internal notes out of the archive by default; the policy is validated and its changes audited both ways', async () => {
    expect((await store.getWorkspace('acme'))?.policies.archiveInternalNotes).toBe(false);
    await expect(
      admin.updatePolicies('cli:ana', 'acme', { archiveInternalNotes: 'yes' } as never),
    ).rejects.toMatchObject({
      code: 'config_invalid',
      message: expect.stringMatching(/archiveInternalNotes/),
    });
    expect((await store.getWorkspace('acme'))?.policies.archiveInternalNotes).toBe(false);
    await admin.updatePolicies('cli:ana', 'acme', { archiveInternalNotes: true });
    await admin.updateWorkspace('cli:bo', 'acme', { policies: { archiveInternalNotes: true } });
    await admin.updateWorkspace('cli:bo', 'acme', { policies: { archiveInternalNotes: false } });
    expect((await store.getWorkspace('acme'))?.policies.archiveInternalNotes).toBe(false);
    const audit = (await store.listAudit({ workspaceId: 'acme' }))
      .filter((e) => e.action === 'workspace.policies' || e.action === 'workspace.update')
      .reverse();
    expect(audit.map((e) => [e.actor, e.details.archiveInternalNotes ?? null])).toEqual([
      ['cli:ana', { from: false, to: true }],
      // Set to what it already was: named among the keys, but no change to report.
      ['cli:bo', null],
      ['cli:bo', { from: true, to: false }],
    ]);
  });

  it('refuses an invalid configuration and stores nothing', async () => {
    await expect(
      admin.setConnector('test', 'acme', 'ledger', { enabled: true, config: { url: 'not a url' } }),
    ).rejects.toMatchObject({
      code: 'config_invalid',
    });
    expect(await store.getConnector('acme', 'ledger')).toBeNull();
  });

  it('merges a partial change over the stored settings', async () => {
    await admin.setConnector('test', 'acme', 'ledger', {
      enabled: true,
      config: { url: 'http://127.0.0.1:1', secret: 'hunter2-hunter2' },
    });
    await admin.setConnector('test', 'acme', 'ledger', { config: { url: 'http://127.0.0.1:2' } });
    expect(await admin.describeConnector('acme', 'ledger')).toMatchObject({
      enabled: true,
      config: { url: 'http://127.0.0.1:2', secret: '••••••' },
    });
  });

  // biome-ignore lint/suspicious/noTemplateCurlyInString: the config file's own ${VAR} syntax
  it('applies a declarative file with ${VAR} secrets, validating everything before the first write', async () => {
    const raw = {
      workspaces: [
        {
          id: 'beta',
          name: 'Beta',
          phoneNumbers: [{ phoneNumberId: '222' }],
          connectors: {
            // biome-ignore lint/suspicious/noTemplateCurlyInString: the config file's own ${VAR} syntax
            ledger: { enabled: true, config: { url: 'http://127.0.0.1:3', secret: '${LEDGER_SECRET}' } },
          },
        },
      ],
    };
    expect(() => interpolateEnv(raw, {})).toThrow(/LEDGER_SECRET/);
    const file = configFileSchema.parse(interpolateEnv(raw, { LEDGER_SECRET: 'from-the-env-1' }));
    expect(await admin.apply('test', file)).toEqual({ workspaces: 1, numbers: 1, connectors: 1 });
    expect(await store.resolvePhoneNumber('222')).toMatchObject({ workspaceId: 'beta' });
    const broken = configFileSchema.parse({
      workspaces: [{ id: 'gamma', name: 'G', connectors: { ledger: { config: { url: 'x' } } } }],
    });
    await expect(admin.apply('test', broken)).rejects.toMatchObject({ code: 'config_invalid' });
    expect(await store.getWorkspace('gamma')).toBeNull();
  });
});
