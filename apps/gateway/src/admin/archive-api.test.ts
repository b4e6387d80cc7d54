import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { verifyContactExport } from '@wabridge/core';
import { identity, inboundMessage, messagesUnit } from '@wabridge/core/testing';
import { freshSchema, testDatabaseUrl } from '@wabridge/store-postgres/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp } from '../testing/harness.ts';
import { createTestAccount, signIn, TEST_SCRYPT, type TestSession } from './testing.ts';

// biome-ignore lint/suspicious/noExplicitAny: answers are read field by field; their schemas are tested in openapi.test.ts.
type Json = any;
const DAY = 86_400_000;
const START = Date.parse('2026-06-01T12:00:00Z');
const clock = START;
let t: Awaited<ReturnType<typeof createTestApp>>;
let compliance: TestSession;
let auditor: TestSession;
let owner: TestSession;
const A = '/admin/api/workspaces/acme/archive';
const UA = { 'user-agent': 'archive-test/1' };

async function write(who: TestSession, method: string, path: string, json: unknown) {
  const response = await who.request(path, { method, json, headers: UA });
  return { status: response.status, body: (await response.json()) as Json };
}
async function read(who: TestSession, path: string) {
  const response = await who.request(path, { headers: UA });
  return { status: response.status, body: (await response.json()) as Json };
}

// The same operations on both stores: the SQLite file, and Postgres (DATABASE_URL), where the
// archive's verify, checkpoints and exports read through the store's ArchiveReader.
describe.each(['sqlite', 'postgres'] as const)('on %s', (store) => {
  let dropSchema: () => Promise<void> = async () => {};
  beforeAll(async () => {
    let env: Record<string, string> = {};
    if (store === 'postgres') {
      const fresh = await freshSchema('wb_archive_api');
      dropSchema = fresh.drop;
      env = { DATABASE_URL: testDatabaseUrl, DATABASE_SCHEMA: fresh.schema };
    }
    t = await createTestApp({ now: () => clock, access: { scrypt: TEST_SCRYPT }, env });
    await createTestAccount(t.runtime, {
      email: 'cora@example.com',
      role: 'compliance',
      workspaceId: 'acme',
    });
    await createTestAccount(t.runtime, { email: 'aud@example.com', role: 'auditor', workspaceId: 'acme' });
    await createTestAccount(t.runtime, { email: 'own@example.com', owner: true });
    compliance = await signIn(t.app, 'cora@example.com');
    auditor = await signIn(t.app, 'aud@example.com');
    owner = await signIn(t.app, 'own@example.com');
    // Two customers wrote: Ada (kept under a hold, then erased) and Bob (purged by retention).
    await t.runtime.store.ingest(
      messagesUnit(
        'acme',
        {
          messages: [
            inboundMessage({
              wamid: 'w-ada',
              contact: identity({ waId: '15550001111', profileName: 'Ada' }),
              timestamp: START - DAY,
              text: 'my account number is 42',
            }),
            inboundMessage({
              wamid: 'w-bob',
              contact: identity({ waId: '15550002222', profileName: 'Bob' }),
              timestamp: START - 10 * DAY,
              text: 'old news',
            }),
          ],
        },
        START,
      ),
    );
  }, 60_000);
  afterAll(async () => {
    await t.close();
    await dropSchema();
  });

  describe('archive operations in the admin API', () => {
    it('places a hold, refuses the erasure it covers with its sentence (nothing changed), then erases once released', async () => {
      const hold = await write(compliance, 'POST', `${A}/holds`, {
        scope: { kind: 'contact', contactId: '+1 555 000 1111' },
        reason: 'SEC inquiry 17',
      });
      expect(hold.status).toBe(201);
      expect(hold.body).toMatchObject({ reason: 'SEC inquiry 17', createdBy: 'account:cora@example.com' });
      expect((await read(auditor, `${A}/holds`)).body.holds.map((h: { id: string }) => h.id)).toEqual([
        hold.body.id,
      ]);

      const refused = await write(compliance, 'POST', `${A}/erasures`, {
        contact: '15550001111',
        reason: 'request #12',
      });
      expect(refused.status).toBe(409);
      expect(refused.body.error.code).toBe('conflict');
      expect(refused.body.error.message).toContain(`erasure refused: legal hold ${hold.body.id}`);
      expect(refused.body.error.message).toContain('"SEC inquiry 17", set by account:cora@example.com');
      const ada = await t.runtime.store.getMessageByWamid('acme', 'w-ada');
      expect(ada?.text).toBe('my account number is 42');

      // Bad input: a clear error naming the field, and nothing stored.
      const noReason = await write(compliance, 'POST', `${A}/holds/${hold.body.id}/release`, { reason: ' ' });
      expect(noReason.status).toBe(400);
      expect(noReason.body.error.message).toContain('reason');
      const released = await write(compliance, 'POST', `${A}/holds/${hold.body.id}/release`, {
        reason: 'matter closed',
      });
      expect(released.status).toBe(200);
      expect(released.body.released).toMatchObject({
        by: 'account:cora@example.com',
        reason: 'matter closed',
      });
      const again = await write(compliance, 'POST', `${A}/holds/${hold.body.id}/release`, {
        reason: 'twice',
      });
      expect(again.status).toBe(409);

      const both = await write(compliance, 'POST', `${A}/erasures`, {
        contact: '15550001111',
        conversationId: 'cv_x',
        reason: 'r',
      });
      expect(both.status).toBe(400);
      expect(both.body.error.message).toContain('contact or conversationId (one of them)');

      const erased = await write(compliance, 'POST', `${A}/erasures`, {
        contact: '15550001111',
        reason: 'request #12',
      });
      expect(erased.status).toBe(201);
      expect(erased.body).toMatchObject({ outcome: 'erased', requestedBy: 'account:cora@example.com' });
      expect(erased.body.wabridge.messages).toBe(1);
      expect((await t.runtime.store.getMessageByWamid('acme', 'w-ada'))?.text).toBeNull();

      const certificate = await read(auditor, `${A}/erasures/${erased.body.id}`);
      expect(certificate.status).toBe(200);
      expect(certificate.body.id).toBe(erased.body.id);
      expect((await read(auditor, `${A}/erasures`)).body.erasures).toEqual([
        expect.objectContaining({
          id: erased.body.id,
          outcome: 'erased',
          reason: 'request #12',
          conversations: 1,
        }),
      ]);
      expect((await read(auditor, `${A}/erasures/er_missing`)).status).toBe(404);

      // Who, what, when, from where: each act in the audit trail.
      const audit = await t.runtime.store.listAudit({ workspaceId: 'acme', action: 'hold.*', limit: 10 });
      expect(audit.map((e) => e.action)).toEqual(['hold.release', 'hold.add']);
      for (const entry of audit) {
        expect(entry.actor).toBe('account:cora@example.com');
        expect(entry.at).toBe(START);
        expect(entry.details.from).toMatchObject({ userAgent: 'archive-test/1' });
      }
      const [erasure] = await t.runtime.store.listAudit({ workspaceId: 'acme', action: 'erasure', limit: 1 });
      expect(erasure?.details.from).toMatchObject({ userAgent: 'archive-test/1' });
    });

    it('refuses the auditor every change, and a compliance officer the checkpoint (workspace admins sign)', async () => {
      expect(
        (await write(auditor, 'POST', `${A}/holds`, { scope: { kind: 'workspace' }, reason: 'x' })).status,
      ).toBe(403);
      expect(
        (await write(auditor, 'POST', `${A}/erasures`, { contact: '15550002222', reason: 'x' })).status,
      ).toBe(403);
      expect((await write(compliance, 'POST', `${A}/checkpoints`, {})).status).toBe(403);
      const signed = await write(owner, 'POST', `${A}/checkpoints`, {});
      expect(signed.status).toBe(201);
      expect(signed.body.note).toContain('/archive/acme');
      const verify = await read(auditor, `${A}/verify`);
      expect(verify.status).toBe(200);
      expect(verify.body).toMatchObject({ ok: true, checkpoints: 1, contentChecked: true, failure: null });
      expect(verify.body.verifiedSize).toBe(signed.body.size);
    });

    it('sets a retention rule, shows what a run would purge (changing nothing), then purges at the injected time', async () => {
      const bad = await write(compliance, 'PUT', `${A}/retention/messages`, { keepDays: 'six years' });
      expect(bad.status).toBe(400);
      expect(bad.body.error.message).toContain('keepDays');
      const set = await write(compliance, 'PUT', `${A}/retention/messages`, {
        keepDays: null,
        afterLastMessageDays: 5,
      });
      expect(set.status).toBe(200);
      expect(set.body.rule).toMatchObject({ kind: 'messages', afterLastMessageDays: 5, updatedAt: START });
      expect((await read(auditor, `${A}/retention`)).body.rules).toHaveLength(1);

      // Bob's conversation went quiet 10 days ago, Ada's one day ago (and is erased anyway).
      const dry = await read(auditor, `${A}/retention/dry-run`);
      expect(dry.status).toBe(200);
      expect(dry.body).toMatchObject({
        dryRun: true,
        at: START,
        kinds: [{ kind: 'messages', purged: 1, held: 0 }],
      });
      expect((await t.runtime.store.getMessageByWamid('acme', 'w-bob'))?.text).toBe('old news');

      expect((await write(auditor, 'POST', `${A}/retention/run`, {})).status).toBe(403);
      const run = await write(compliance, 'POST', `${A}/retention/run`, {});
      expect(run.status).toBe(200);
      expect(run.body.kinds).toEqual([expect.objectContaining({ kind: 'messages', purged: 1 })]);
      expect((await t.runtime.store.getMessageByWamid('acme', 'w-bob'))?.text).toBeNull();

      const removed = await write(compliance, 'PUT', `${A}/retention/messages`, {
        keepDays: null,
        afterLastMessageDays: null,
      });
      expect(removed.body.rule).toBeNull();
    });

    it('reads a transcript (recorded) and answers another conversation id like a missing one', async () => {
      await t.runtime.store.ingest(
        messagesUnit(
          'acme',
          {
            messages: [
              inboundMessage({
                wamid: 'w-cy',
                contact: identity({ waId: '15550003333', profileName: 'Cy' }),
                timestamp: START,
                text: 'hello from Cy',
              }),
            ],
          },
          START,
        ),
      );
      const message = await t.runtime.store.getMessageByWamid('acme', 'w-cy');
      const transcript = await read(auditor, `${A}/conversations/${message?.conversationId}/transcript`);
      expect(transcript.status).toBe(200);
      expect(transcript.body.messages).toEqual([
        expect.objectContaining({ direction: 'inbound', text: 'hello from Cy', contentRemoved: false }),
      ]);
      const [entry] = await t.runtime.store.listAudit({
        workspaceId: 'acme',
        action: 'archive.transcript',
        limit: 1,
      });
      expect(entry).toMatchObject({
        actor: 'account:aud@example.com',
        details: { conversation: message?.conversationId },
      });
      const missing = await read(auditor, `${A}/conversations/cv_nope/transcript`);
      expect(missing.status).toBe(404);
    });

    it("streams a contact's export as a ZIP that verifies, leaving no file behind", async () => {
      expect((await auditor.request(`${A}/export?contact=15550003333`)).status).toBe(403);
      const noContact = await compliance.request(`${A}/export`);
      expect(noContact.status).toBe(400);
      const unknown = await compliance.request(`${A}/export?contact=15559999999`);
      expect(unknown.status).toBe(404);

      const response = await compliance.request(`${A}/export?contact=%2B15550003333`, { headers: UA });
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe('application/zip');
      expect(response.headers.get('content-disposition')).toMatch(
        /^attachment; filename="acme-ct_[^"]+\.zip"$/,
      );
      const zip = Buffer.from(await response.arrayBuffer());
      expect(zip.subarray(0, 2).toString()).toBe('PK');
      const path = join(t.runtime.env.dataDir, 'downloaded.zip');
      writeFileSync(path, zip);
      const report = await verifyContactExport(path);
      expect(report.ok).toBe(true);
      expect(readdirSync(t.runtime.env.dataDir).filter((f) => f.startsWith('export-'))).toEqual([]);
      const [entry] = await t.runtime.store.listAudit({
        workspaceId: 'acme',
        action: 'archive.export',
        limit: 1,
      });
      expect(entry?.actor).toBe('account:cora@example.com');
    });
  });
});
