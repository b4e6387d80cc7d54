import { ledgerConnector } from '@wabridge/core/testing';
import { parseWebhookPayload } from '@wabridge/whatsapp';
import { customerMessage } from '@wabridge/whatsapp/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp } from '../testing/harness.ts';
import { createTestAccount, signIn, TEST_SCRYPT } from './testing.ts';

let t: Awaited<ReturnType<typeof createTestApp>>;
let deadId: number;

beforeAll(async () => {
  t = await createTestApp({
    connectors: [
      { manifest: ledgerConnector, config: { url: 'http://127.0.0.1:9', secret: 'ledger-secret-123' } },
    ],
    access: { scrypt: TEST_SCRYPT },
  });
  await t.runtime.admin.createWorkspace('test', { id: 'globex', name: 'Globex' });
  await createTestAccount(t.runtime, { email: 'admin@example.com', role: 'admin', workspaceId: 'acme' });
  await createTestAccount(t.runtime, { email: 'super@example.com', role: 'supervisor', workspaceId: 'acme' });
  await createTestAccount(t.runtime, { email: 'globex@example.com', role: 'admin', workspaceId: 'globex' });
  // A customer message whose delivery to the ledger gave up: one dead job in acme.
  const parsed = parseWebhookPayload(
    customerMessage('wamid.admin.health.1', { type: 'text', text: { body: 'hi' } }),
  );
  if (!parsed.ok) throw new Error(parsed.issues.join('; '));
  await t.runtime.ingestor.ingest(parsed.changes);
  const [job] = await t.runtime.store.claimJobs({
    limit: 1,
    leaseMs: 30_000,
    workerId: 'w',
    now: Date.now(),
  });
  if (!job) throw new Error('no job to fail');
  await t.runtime.store.deadLetterJob(job.lease, 'gave up after 20 attempts: permanent: the ledger said no');
  deadId = job.id;
});
afterAll(() => t.close());

describe('health and dead letters', () => {
  it('a supervisor sees the connector’s health and its dead job, and cannot replay it', async () => {
    const supervisor = await signIn(t.app, 'super@example.com');
    const health = (await (await supervisor.request('/admin/api/workspaces/acme/health')).json()) as {
      connectors: { connector: string; dead: number; state: string; lastError: string }[];
      dead: number;
    };
    expect(health.dead).toBe(1);
    expect(health.connectors).toEqual([
      expect.objectContaining({
        connector: 'ledger',
        dead: 1,
        lastError: expect.stringMatching(/^Gave up after 20 attempts/),
      }),
    ]);
    const dead = (await (await supervisor.request('/admin/api/workspaces/acme/dead-letters')).json()) as {
      deadLetters: { id: number; connectorId: string }[];
    };
    expect(dead.deadLetters).toEqual([expect.objectContaining({ id: deadId, connectorId: 'ledger' })]);
    const replay = await supervisor.request('/admin/api/workspaces/acme/dead-letters/replay', {
      method: 'POST',
      json: { ids: [deadId] },
    });
    expect(replay.status).toBe(403);
  });

  it('another workspace’s admin neither sees nor replays it (the id answers like a missing one)', async () => {
    const globex = await signIn(t.app, 'globex@example.com');
    expect((await globex.request('/admin/api/workspaces/acme/dead-letters')).status).toBe(404);
    const own = await globex.request('/admin/api/workspaces/globex/dead-letters/replay', {
      method: 'POST',
      json: { ids: [deadId] },
    });
    expect(own.status).toBe(404);
    const missing = await globex.request('/admin/api/workspaces/globex/dead-letters/replay', {
      method: 'POST',
      json: { ids: [deadId + 1000] },
    });
    expect(await own.text()).toBe(await missing.text());
    expect(await t.runtime.store.listDeadJobs({ workspaceId: 'acme' })).toHaveLength(1);
    const globexHealth = (await (await globex.request('/admin/api/workspaces/globex/health')).json()) as {
      connectors: unknown[];
    };
    expect(globexHealth.connectors).toEqual([]);
  });

  it('the workspace admin replays it: back in the queue, audited', async () => {
    const admin = await signIn(t.app, 'admin@example.com');
    const replay = await admin.request('/admin/api/workspaces/acme/dead-letters/replay', {
      method: 'POST',
      json: { ids: [deadId] },
    });
    expect(replay.status).toBe(200);
    expect(await replay.json()).toEqual({ replayed: 1 });
    expect(await t.runtime.store.listDeadJobs({ workspaceId: 'acme' })).toEqual([]);
    expect((await t.runtime.store.jobStats()).ready).toBe(1);
    const [entry] = await t.runtime.store.listAudit({ action: 'deadletter.replay', limit: 1 });
    expect(entry).toMatchObject({
      actor: 'account:admin@example.com',
      workspaceId: 'acme',
      details: { ids: [deadId], replayed: 1 },
    });
  });
});
