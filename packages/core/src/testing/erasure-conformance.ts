import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CommandProcessor } from '../bridge/commands.ts';
import { isWabridgeError } from '../errors/index.ts';
import { silentLogger } from '../logger/index.ts';
import { noopMetrics } from '../metrics/index.ts';
import { hydrateEvent } from '../queue/hydrate.ts';
import type { Store } from '../store/types.ts';
import { identity, inboundMessage, ingestText, messagesUnit, seedWorkspace } from './fixtures.ts';

/** Returns a fresh, migrated, empty store reading its time from `now` (the part moves the clock). */
export type OpenClockedStore = (options: { now: () => number }) => Promise<Store>;

const DAY = 86_400_000;
const T0 = Date.UTC(2026, 0, 1);
const ADA = '15550001111';
const BO = '15550002222';

/**
 * GovernanceStore's erasure (GDPR art. 17, and art. 18 restriction where retention forbids
 * deleting), through the Store interface only, on an injected clock: nothing here depends on when
 * it runs. What only one store can show (its rows at rest, its archive chain, its lock races) stays
 * in that store's own tests.
 */
export function describeErasureConformance(name: string, open: OpenClockedStore): void {
  describe(`store conformance (erasure): ${name}`, () => {
    let store: Store;
    let clock = T0;

    beforeEach(async () => {
      clock = T0;
      store = await open({ now: () => clock });
      await seedWorkspace(store, { id: 'acme', connectors: ['slack', 'hubspot'] });
    });
    afterEach(() => store.close());

    const say = (waId: string, wamid: string, text: string, at: number) =>
      ingestText(store, 'acme', { waId, profileName: waId === ADA ? 'Ada' : 'Bo', wamid, text, at });

    /** The conversation of the contact whose number is (still) this one. */
    const conversationOf = async (waId: string) => {
      for (const conversation of await store.listConversations('acme')) {
        if ((await store.getContact('acme', conversation.contactId))?.waId === waId) return conversation;
      }
      return undefined;
    };
    /** The texts of these messages (by wamid), opened: null once erased. */
    const texts = async (...wamids: string[]) =>
      Promise.all(wamids.map(async (w) => (await store.getMessageByWamid('acme', w))?.text ?? null));

    async function refusal(run: () => Promise<unknown>) {
      try {
        await run();
      } catch (error) {
        if (isWabridgeError(error)) return error;
        throw error;
      }
      throw new Error('expected a refusal');
    }

    it('deletes the content, clears the identifiers, drops queued jobs and queues conversation.erased per connector', async () => {
      await say(ADA, 'w1', 'my card is 4111', T0);
      await say(BO, 'w2', 'other customer', T0);
      const ada = await conversationOf(ADA);
      await store.putRef('acme', {
        connectorId: 'slack',
        kind: 'thread',
        entityId: ada?.id ?? '',
        externalId: 'C1/1700000000.000100',
        data: {},
      });
      clock = T0 + DAY;
      const { certificate, messageIds } = await store.erase({
        workspaceId: 'acme',
        subject: { kind: 'contact', identifier: ADA },
        actor: 'cli:dpo',
        reason: 'art. 17 request #12',
      });
      expect(certificate).toMatchObject({
        outcome: 'erased',
        subject: { kind: 'contact', contactId: ada?.contactId },
        requestedBy: 'cli:dpo',
        requestedAt: T0 + DAY,
        wabridge: { conversations: [ada?.id], messages: 1, contactIdentifiersCleared: true },
      });
      expect(messageIds).toHaveLength(1);
      // The inbound message had queued a job for each of two connectors: both gone, counted as
      // jobs whether or not the store had admitted them to the queue yet.
      expect(certificate.wabridge.jobsRemoved).toBe(2);
      expect(certificate.connectors.map((p) => [p.connectorId, p.state])).toEqual([
        ['hubspot', 'queued'],
        ['slack', 'queued'],
      ]);
      expect(certificate.connectors[1]?.platformIds).toEqual([
        { kind: 'thread', entityId: ada?.id, externalId: 'C1/1700000000.000100' },
      ]);
      expect(await texts('w1', 'w2')).toEqual([null, 'other customer']);
      const contact = await store.getContact('acme', ada?.contactId ?? '');
      expect([contact?.waId ?? null, contact?.profileName ?? null]).toEqual([null, null]);
      const jobs = await store.claimJobs({ limit: 10, leaseMs: 60_000, workerId: 't', now: T0 + DAY });
      const erasureJobs = jobs.filter((j) => j.eventType === 'conversation.erased');
      expect(erasureJobs.map((j) => [j.connectorId, j.conversationId, j.entityId])).toEqual([
        ['hubspot', ada?.id, certificate.id],
        ['slack', ada?.id, certificate.id],
      ]);
      expect(
        jobs.filter((j) => j.conversationId === ada?.id && j.eventType !== 'conversation.erased'),
      ).toEqual([]);
      // Slack confirms; HubSpot gives up for good.
      const slack = erasureJobs.find((j) => j.connectorId === 'slack');
      const hubspot = erasureJobs.find((j) => j.connectorId === 'hubspot');
      clock = T0 + DAY + 5000;
      expect(await store.completeJob(slack?.lease ?? { jobId: 0, token: '' }, [])).toBe(true);
      await store.deadLetterJob(hubspot?.lease ?? { jobId: 0, token: '' }, 'auth_failed: token revoked');
      const status = await store.getErasure('acme', certificate.id);
      expect(status?.connectors.map((p) => [p.connectorId, p.state, p.confirmedAt, p.error])).toEqual([
        ['hubspot', 'dead', null, 'auth_failed: token revoked'],
        ['slack', 'confirmed', T0 + DAY + 5000, null],
      ]);
      expect(await store.getErasure('other', certificate.id)).toBeNull();
      const [act] = await store.listAudit({ workspaceId: 'acme', action: 'erasure' });
      expect((act?.details.certificate as { id: string } | undefined)?.id).toBe(certificate.id);

      // The media files deleted afterwards join the certificate, an admin act too.
      await store.recordErasureFiles({
        workspaceId: 'acme',
        erasureId: certificate.id,
        files: ['media/acme/m1.jpg'],
        actor: 'cli:dpo',
      });
      expect((await store.getErasure('acme', certificate.id))?.wabridge.mediaFiles).toEqual([
        'media/acme/m1.jpg',
      ]);
      expect((await store.listAudit({ workspaceId: 'acme', action: 'erasure.media' }))[0]?.details).toEqual({
        erasure: certificate.id,
        files: ['media/acme/m1.jpg'],
      });
      await expect(
        store.recordErasureFiles({ workspaceId: 'acme', erasureId: 'er_nope', files: [], actor: 'a' }),
      ).rejects.toMatchObject({ code: 'not_found' });

      // Ada writes again: a fresh contact and conversation, nothing of the old record.
      await say(ADA, 'w3', 'hi again', T0 + 2 * DAY);
      const fresh = await conversationOf(ADA);
      expect(fresh?.contactId).not.toBe(ada?.contactId);
      expect(fresh?.id).not.toBe(ada?.id);
      expect((await store.listMessages('acme', fresh?.id ?? '')).map((m) => m.text)).toEqual(['hi again']);
    });

    it('lets a delivery in flight finish first: the erasure runs after it and removes what it posted', async () => {
      await say(ADA, 'w1', 'in flight', T0);
      const inFlight = await store.claimJobs({ limit: 10, leaseMs: 60_000, workerId: 't', now: T0 });
      expect(inFlight.map((j) => j.connectorId).sort()).toEqual(['hubspot', 'slack']);
      clock = T0 + 1000;
      const { certificate } = await store.erase({
        workspaceId: 'acme',
        subject: { kind: 'contact', identifier: ADA },
        actor: 'a',
        reason: 'r',
      });
      expect(certificate.wabridge.jobsRemoved).toBe(0);
      // Behind the deliveries in flight, the erasures wait.
      expect(await store.claimJobs({ limit: 10, leaseMs: 60_000, workerId: 't', now: T0 + 2000 })).toEqual(
        [],
      );
      for (const job of inFlight) expect(await store.completeJob(job.lease, [])).toBe(true);
      const next = await store.claimJobs({ limit: 10, leaseMs: 60_000, workerId: 't', now: T0 + 3000 });
      expect(next.map((j) => [j.connectorId, j.eventType]).sort()).toEqual([
        ['hubspot', 'conversation.erased'],
        ['slack', 'conversation.erased'],
      ]);
    });

    it('refuses under a legal hold, naming it, and changes nothing', async () => {
      await say(ADA, 'w1', 'keep me', T0);
      const ada = await conversationOf(ADA);
      const hold = await store.addHold({
        workspaceId: 'acme',
        scope: { kind: 'range', from: T0 - DAY, to: T0 + DAY },
        reason: 'FINRA exam',
        actor: 'cli:lee',
      });
      const error = await refusal(() =>
        store.erase({
          workspaceId: 'acme',
          subject: { kind: 'contact', identifier: ADA },
          actor: 'cli:dpo',
          reason: 'r',
        }),
      );
      expect(error.code).toBe('conflict');
      expect(error.message).toContain(hold.id);
      expect(error.message).toContain('"FINRA exam", set by cli:lee');
      expect(error.message).toContain('Nothing was changed');
      // Nothing changed that the interface shows (each store's own tests compare every row).
      expect(await texts('w1')).toEqual(['keep me']);
      const after = await store.getConversation('acme', ada?.id ?? '');
      expect([after?.erasedAt, after?.restrictedAt]).toEqual([null, null]);
      expect((await store.getContact('acme', ada?.contactId ?? ''))?.waId).toBe(ADA);
      expect(await store.listAudit({ workspaceId: 'acme', action: 'erasure' })).toEqual([]);
      // Released, the same erasure goes through.
      await store.releaseHold({ workspaceId: 'acme', holdId: hold.id, actor: 'cli:lee', reason: 'closed' });
      const { certificate } = await store.erase({
        workspaceId: 'acme',
        subject: { kind: 'contact', identifier: ADA },
        actor: 'cli:dpo',
        reason: 'r',
      });
      expect(certificate.outcome).toBe('erased');
    });

    it('refuses an unknown contact, conversation or workspace, and an empty reason', async () => {
      const erase = (subject: Parameters<Store['erase']>[0]['subject'], reason = 'r', ws = 'acme') =>
        store.erase({ workspaceId: ws, subject, actor: 'a', reason });
      await say(ADA, 'w1', 'hello', T0);
      await expect(erase({ kind: 'contact', identifier: BO })).rejects.toMatchObject({ code: 'not_found' });
      await expect(erase({ kind: 'conversation', conversationId: 'cv_nope' })).rejects.toMatchObject({
        code: 'not_found',
      });
      await expect(erase({ kind: 'contact', identifier: ADA }, 'r', 'nope')).rejects.toMatchObject({
        code: 'not_found',
      });
      await expect(erase({ kind: 'contact', identifier: `+${ADA}` }, '  ')).rejects.toMatchObject({
        code: 'bad_request',
      });
      expect(await texts('w1')).toEqual(['hello']);
    });

    it('restricts instead of deleting while a retention rule still requires keeping the content (art. 18)', async () => {
      await say(ADA, 'w1', 'keep six years', T0);
      await store.setRetention({
        workspaceId: 'acme',
        kind: 'messages',
        keepDays: 2190,
        afterLastMessageDays: null,
        actor: 'cli:lee',
      });
      clock = T0 + DAY;
      const { certificate, messageIds } = await store.erase({
        workspaceId: 'acme',
        subject: { kind: 'contact', identifier: ADA },
        actor: 'cli:dpo',
        reason: 'r',
      });
      expect(certificate.outcome).toBe('restricted');
      expect(certificate.restrictionGround).toMatch(
        /keeps messages 2190 days \(set by cli:lee\).*kept until 2031/,
      );
      expect(certificate.wabridge.contactIdentifiersCleared).toBe(false);
      expect(messageIds).toEqual([]);
      expect(await texts('w1')).toEqual(['keep six years']);
      const conversation = await conversationOf(ADA);
      expect(conversation?.restrictedAt).toBe(T0 + DAY);
      expect(conversation?.erasedAt).toBeNull();
    });

    it('a restricted conversation is mirrored no more: only its erasure event hydrates', async () => {
      await say(ADA, 'w1', 'before', T0);
      await store.setRetention({
        workspaceId: 'acme',
        kind: 'messages',
        keepDays: 2190,
        afterLastMessageDays: null,
        actor: 'a',
      });
      await store.erase({
        workspaceId: 'acme',
        subject: { kind: 'contact', identifier: ADA },
        actor: 'a',
        reason: 'r',
      });
      // The customer writes again: stored (the obligation still runs) but not mirrored.
      await say(ADA, 'w2', 'after', T0 + 1000);
      const hydrated: [string, string | null][] = [];
      for (let round = 0; round < 5; round++) {
        const jobs = await store.claimJobs({ limit: 20, leaseMs: 60_000, workerId: 't', now: T0 + DAY });
        for (const job of jobs) {
          hydrated.push([job.eventType, (await hydrateEvent(store, job, T0 + DAY))?.type ?? null]);
          await store.completeJob(job.lease, []);
        }
      }
      expect(hydrated.sort()).toEqual([
        ['conversation.erased', 'conversation.erased'],
        ['conversation.erased', 'conversation.erased'],
        ['message.inbound', null],
        ['message.inbound', null],
      ]);
    });

    it("a restricted conversation takes no agent reply from its mirror's thread", async () => {
      await say(ADA, 'w1', 'hello', T0);
      const ada = await conversationOf(ADA);
      await store.putRef('acme', {
        connectorId: 'slack',
        kind: 'conversation',
        entityId: ada?.id ?? '',
        externalId: 'C1:1.0',
        data: {},
      });
      await store.setRetention({
        workspaceId: 'acme',
        kind: 'messages',
        keepDays: 2190,
        afterLastMessageDays: null,
        actor: 'a',
      });
      await store.erase({
        workspaceId: 'acme',
        subject: { kind: 'contact', identifier: ADA },
        actor: 'a',
        reason: 'r',
      });
      const commands = new CommandProcessor({
        store,
        logger: silentLogger,
        metrics: noopMetrics,
        now: () => clock,
      });
      const [outcome] = await commands.accept('acme', 'slack', [
        {
          type: 'agent.reply',
          idempotencyKey: 'k1',
          threadId: 'C1:1.0',
          messageId: 'C1:2.0',
          agent: { id: 'U1', name: 'Bo' },
          text: 'are you there?',
          attachments: [],
          mode: 'send',
        },
      ]);
      expect(outcome).toEqual({ status: 'ignored', reason: 'not a mirrored conversation thread' });
      expect((await store.listMessages('acme', ada?.id ?? '')).map((m) => m.direction)).toEqual(['inbound']);
    });

    it('erasing one conversation of a contact with others moves it to an anonymous contact', async () => {
      await say(ADA, 'w1', 'on number one', T0);
      await store.addPhoneNumber({
        workspaceId: 'acme',
        phoneNumberId: '2',
        displayPhoneNumber: null,
        wabaId: null,
      });
      await store.ingest(
        messagesUnit('acme', {
          phoneNumberId: '2',
          messages: [
            inboundMessage({ wamid: 'w2', contact: identity({ waId: ADA }), timestamp: T0, text: 'on two' }),
          ],
        }),
      );
      const first = await conversationOf(ADA);
      await store.erase({
        workspaceId: 'acme',
        subject: { kind: 'conversation', conversationId: first?.id ?? '' },
        actor: 'a',
        reason: 'r',
      });
      const moved = await store.getConversation('acme', first?.id ?? '');
      expect(moved?.contactId).not.toBe(first?.contactId);
      expect(moved?.erasedAt).toBe(T0);
      expect((await store.getContact('acme', first?.contactId ?? ''))?.waId).toBe(ADA);
    });
  });
}
