import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Job, Store } from '../store/types.ts';
import { WHATSAPP_SENDER } from '../store/types.ts';
import { describeErasureConformance } from './erasure-conformance.ts';
import { identity, inboundMessage, messagesUnit, seedWorkspace, status } from './fixtures.ts';

/**
 * The behaviour every store adapter must have, in one part per role of `Store` (store/types.ts):
 * config, admin access, ingest and commands, jobs, refs, connector state, reads. Each adapter's test file calls
 * `describeStoreConformance` with a factory that returns a fresh, migrated, empty store; an adapter
 * built role by role (a Postgres store) can run the parts one at a time as its roles arrive. A part
 * checks its own role's methods, using the others only to set up and to look (seeding a workspace,
 * claiming the jobs an ingest queued).
 *
 * @example describeStoreConformance('sqlite', () => openSqliteStore({ path: ':memory:' }))
 */
export function describeStoreConformance(
  name: string,
  open: OpenStore,
  parts: { erasure?: boolean } = {},
): void {
  describeConfigConformance(name, open);
  describeAccessConformance(name, open);
  describeIngestConformance(name, open);
  describeJobsConformance(name, open);
  describeRefsConformance(name, open);
  describeConnectorStateConformance(name, open);
  describeReadsConformance(name, open);
  // Erasure needs a store that takes an injected clock; one that cannot opts out (parts.erasure).
  if (parts.erasure !== false) describeErasureConformance(name, open);
}

/**
 * Returns a fresh, migrated, empty store; the suite closes it after each test. `now`, when given,
 * is the store's clock (the erasure part moves it).
 */
export type OpenStore = (options?: { now?: () => number }) => Promise<Store>;

// The store of the running test: the parts' tests run one at a time, each on a store of its own.
let store: Store;
const claim = (now = Date.now(), limit = 100) =>
  store.claimJobs({ limit, leaseMs: 30_000, workerId: 'w1', now });

/** Opens a store before each test of the part and closes it after. */
function eachTestOpens(open: OpenStore): void {
  beforeEach(async () => {
    store = await open();
  });
  afterEach(async () => {
    await store.close();
  });
}

/** ConfigStore: routing numbers to workspaces, the config version. */
export function describeConfigConformance(name: string, open: OpenStore): void {
  describe(`store conformance (config): ${name}`, () => {
    eachTestOpens(open);

    describe('workspaces and numbers', () => {
      it('routes a number to its workspace and refuses to give it to another', async () => {
        const ws = await seedWorkspace(store, { id: 'acme' });
        expect(await store.resolvePhoneNumber('106540352242922')).toMatchObject({ workspaceId: ws });
        await store.createWorkspace({ id: 'other', name: 'Other' });
        await expect(
          store.addPhoneNumber({
            workspaceId: 'other',
            phoneNumberId: '106540352242922',
            displayPhoneNumber: null,
            wabaId: null,
          }),
        ).rejects.toMatchObject({ code: 'conflict' });
        expect(await store.resolvePhoneNumber('nope')).toBeNull();
      });

      it('moves the config version on every admin change', async () => {
        const before = await store.configVersion();
        await seedWorkspace(store, { connectors: ['slack'] });
        expect(await store.configVersion()).toBeGreaterThan(before);
      });
    });
  });
}

/** AccessStore: admin accounts, grants, sessions, API tokens, the login throttle. */
export function describeAccessConformance(name: string, open: OpenStore): void {
  describe(`store conformance (access): ${name}`, () => {
    eachTestOpens(open);

    const account = (id: string, email: string) => ({
      id,
      email,
      name: id,
      owner: false,
      createdAt: 1,
      disabledAt: null,
      passwordHash: 'scrypt$hash',
    });

    it('takes an email once, compared lowercased, even from concurrent creators', async () => {
      const results = await Promise.allSettled([
        store.createAdminAccount(account('a1', 'Ada@Example.com')),
        store.createAdminAccount(account('a2', 'ada@example.COM')),
      ]);
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      expect(results.find((r) => r.status === 'rejected')).toMatchObject({ reason: { code: 'conflict' } });
      const found = await store.findAdminAccountByEmail('ADA@example.com');
      expect(found).toMatchObject({ email: 'ada@example.com', owner: false, passwordHash: 'scrypt$hash' });
      expect(await store.listAdminAccounts()).toEqual([
        {
          id: found?.id,
          email: 'ada@example.com',
          name: found?.id,
          owner: false,
          createdAt: 1,
          disabledAt: null,
        },
      ]);
    });

    it('patches only the fields named; disabledAt null enables again', async () => {
      await store.createAdminAccount(account('a1', 'a@x.io'));
      await store.updateAdminAccount('a1', { owner: true, disabledAt: 5 });
      expect(await store.getAdminAccount('a1')).toMatchObject({
        name: 'a1',
        owner: true,
        disabledAt: 5,
        passwordHash: 'scrypt$hash',
      });
      await store.updateAdminAccount('a1', { name: 'Ada', passwordHash: 'new' });
      expect(await store.getAdminAccount('a1')).toMatchObject({ name: 'Ada', owner: true, disabledAt: 5 });
      await store.updateAdminAccount('a1', { disabledAt: null });
      expect(await store.getAdminAccount('a1')).toMatchObject({ disabledAt: null, passwordHash: 'new' });
      await expect(store.updateAdminAccount('nope', { name: 'x' })).rejects.toMatchObject({
        code: 'not_found',
      });
    });

    it('replaces and revokes grants, listed by account or by workspace', async () => {
      await store.setAdminGrant({ accountId: 'a1', workspaceId: 'w1', role: 'auditor', at: 1 });
      await store.setAdminGrant({ accountId: 'a1', workspaceId: 'w1', role: 'admin', at: 2 });
      await store.setAdminGrant({ accountId: 'a2', workspaceId: 'w1', role: 'auditor', at: 3 });
      await store.setAdminGrant({ accountId: 'a1', workspaceId: 'w2', role: 'auditor', at: 4 });
      expect(await store.listAdminGrants({ accountId: 'a1' })).toEqual([
        { accountId: 'a1', workspaceId: 'w1', role: 'admin', grantedAt: 2 },
        { accountId: 'a1', workspaceId: 'w2', role: 'auditor', grantedAt: 4 },
      ]);
      expect((await store.listAdminGrants({ workspaceId: 'w1' })).map((g) => g.accountId)).toEqual([
        'a1',
        'a2',
      ]);
      await store.setAdminGrant({ accountId: 'a1', workspaceId: 'w1', role: null, at: 5 });
      expect(await store.listAdminGrants({})).toHaveLength(2);
    });

    it("touches sessions forward only, deletes an account's sessions but one, purges the stale", async () => {
      const session = (idHash: string, createdAt: number) => ({
        idHash,
        accountId: 'a1',
        createdAt,
        lastSeenAt: createdAt,
        ip: null,
        userAgent: 'ua',
      });
      for (const id of ['s1', 's2', 's3']) await store.createAdminSession(session(id, 100));
      await store.touchAdminSession('s1', 300);
      await store.touchAdminSession('s1', 200);
      expect(await store.getAdminSession('s1')).toMatchObject({ lastSeenAt: 300, userAgent: 'ua', ip: null });
      expect(await store.deleteAdminSessions({ accountId: 'a1', except: 's1' })).toBe(2);
      expect(await store.deleteAdminSessions({ idHash: 's2' })).toBe(0);
      await store.createAdminSession(session('s4', 100));
      expect(await store.deleteAdminSessions({ accountId: 'a1' })).toBe(2);

      await store.createAdminSession(session('old', 10));
      await store.createAdminSession(session('new', 1000));
      await store.takeLoginAttempt([{ key: 'ip:1', free: 5 }], 10, {
        baseMs: 1000,
        maxMs: 60_000,
        resetMs: 3_600_000,
      });
      expect(
        await store.purgeAdminAccess({ lastSeenBefore: 500, createdBefore: 0, attemptsBefore: 500 }),
      ).toBe(2);
      expect(await store.getAdminSession('new')).not.toBeNull();
      expect(await store.getAdminSession('old')).toBeNull();
    });

    it('finds API tokens by hash, lists them without it, revokes each once in its workspace', async () => {
      const token = {
        id: 't1',
        tokenHash: 'h1',
        name: 'ci',
        workspaceId: 'w1',
        role: 'admin' as const,
        createdBy: 'a1',
        createdAt: 1,
        lastUsedAt: null,
        revokedAt: null,
      };
      await store.createApiToken(token);
      expect(await store.getApiTokenByHash('h1')).toEqual(token);
      const { tokenHash: _, ...listed } = token;
      expect(await store.listApiTokens('w1')).toEqual([listed]);
      await store.touchApiToken('t1', 7);
      await store.touchApiToken('t1', 3);
      expect(await store.revokeApiToken('w2', 't1', 8)).toBe(false);
      expect(await store.revokeApiToken('w1', 't1', 8)).toBe(true);
      expect(await store.revokeApiToken('w1', 't1', 9)).toBe(false);
      expect(await store.getApiTokenByHash('h1')).toMatchObject({ lastUsedAt: 7, revokedAt: 8 });
    });

    it('counts every one of a burst of parallel sign-in attempts: only the free ones pass', async () => {
      const policy = { baseMs: 1000, maxMs: 60_000, resetMs: 3_600_000 };
      const keys = [
        { key: 'account:a1', free: 3 },
        { key: 'ip:10.0.0.1', free: 20 },
      ];
      const decisions = await Promise.all(
        Array.from({ length: 10 }, () => store.takeLoginAttempt(keys, 1000, policy)),
      );
      expect(decisions.filter((d) => d.ok)).toHaveLength(3);
      expect(decisions.filter((d) => !d.ok)).toEqual(
        Array.from({ length: 7 }, () => ({ ok: false, retryAfterMs: 1000 })),
      );
      // Three failures counted: the wait is over at 2000 and a fourth is counted, which doubles it.
      expect(await store.takeLoginAttempt(keys, 2000, policy)).toEqual({ ok: true });
      expect(await store.takeLoginAttempt(keys, 2000, policy)).toEqual({ ok: false, retryAfterMs: 2000 });
      // A success forgets the account's failures; the IP's (4 of 20 free) do not lock.
      await store.clearLoginAttempts('account:a1');
      expect(await store.takeLoginAttempt(keys, 2000, policy)).toEqual({ ok: true });
    });
  });
}

/** IngestStore: webhook contents, statuses, consent, commands and their keys, with the jobs they queue. */
export function describeIngestConformance(name: string, open: OpenStore): void {
  describe(`store conformance (ingest): ${name}`, () => {
    eachTestOpens(open);

    describe('ingest', () => {
      it('stores a message and queues one job per enabled connector', async () => {
        const ws = await seedWorkspace(store, { connectors: ['slack', 'hubspot'] });
        const result = await store.ingest(
          messagesUnit(ws, { messages: [inboundMessage({ wamid: 'wamid.1' })] }),
        );
        expect(result).toMatchObject({ messagesStored: 1, messagesDuplicate: 0, jobsQueued: 2 });
        const stored = await store.getMessageByWamid(ws, 'wamid.1');
        expect(stored).toMatchObject({ direction: 'inbound', type: 'text', text: 'hello' });
        const jobs = await claim();
        expect(jobs.map((j) => j.connectorId).sort()).toEqual(['hubspot', 'slack']);
      });

      it('a repeated delivery of the same wamid changes nothing and queues nothing', async () => {
        const ws = await seedWorkspace(store, { connectors: ['slack'] });
        await store.ingest(messagesUnit(ws, { messages: [inboundMessage({ wamid: 'wamid.1' })] }));
        const again = await store.ingest(
          messagesUnit(ws, { messages: [inboundMessage({ wamid: 'wamid.1', text: 'changed' })] }),
        );
        expect(again).toMatchObject({ messagesStored: 0, messagesDuplicate: 1, jobsQueued: 0 });
        expect((await store.getMessageByWamid(ws, 'wamid.1'))?.text).toBe('hello');
        expect((await store.jobStats()).ready).toBe(1);
      });

      it('five concurrent deliveries of one webhook store one message and one job per connector', async () => {
        const ws = await seedWorkspace(store, { connectors: ['slack', 'teams'] });
        await Promise.all(
          Array.from({ length: 5 }, () =>
            store.ingest(messagesUnit(ws, { messages: [inboundMessage({ wamid: 'wamid.dup' })] })),
          ),
        );
        const conversations = await store.listConversations(ws);
        expect(conversations).toHaveLength(1);
        expect(await store.listMessages(ws, conversations[0]?.id ?? '')).toHaveLength(1);
        expect((await store.jobStats()).byConnector).toEqual({
          slack: { ready: 1, running: 0, dead: 0, coalesced: 0 },
          teams: { ready: 1, running: 0, dead: 0, coalesced: 0 },
        });
      });

      it('queues jobs only for enabled connectors that mirror the event type', async () => {
        const ws = await seedWorkspace(store, { connectors: ['slack'] });
        await store.setConnector({
          workspaceId: ws,
          connectorId: 'teams',
          enabled: false,
          events: ['message.inbound'],
          config: {},
          encryptedSecrets: null,
        });
        await store.setConnector({
          workspaceId: ws,
          connectorId: 'hubspot',
          enabled: true,
          events: ['consent.changed'],
          config: {},
          encryptedSecrets: null,
        });
        await store.ingest(messagesUnit(ws, { messages: [inboundMessage({ wamid: 'wamid.1' })] }));
        expect(Object.keys((await store.jobStats()).byConnector)).toEqual(['slack']);
      });

      it('keys a contact by BSUID when present, else phone, and links the two when both appear', async () => {
        const ws = await seedWorkspace(store);
        await store.ingest(
          messagesUnit(ws, {
            messages: [inboundMessage({ wamid: 'w1', contact: identity({ waId: '15550002222' }) })],
          }),
        );
        await store.ingest(
          messagesUnit(ws, {
            messages: [
              inboundMessage({ wamid: 'w2', contact: identity({ waId: '15550002222', bsuid: 'US.123' }) }),
            ],
          }),
        );
        // A username user whose phone is withheld: only the BSUID arrives.
        await store.ingest(
          messagesUnit(ws, {
            messages: [inboundMessage({ wamid: 'w3', contact: identity({ bsuid: 'US.123' }) })],
          }),
        );
        await store.ingest(
          messagesUnit(ws, {
            messages: [inboundMessage({ wamid: 'w4', contact: identity({ bsuid: 'US.999' }) })],
          }),
        );
        const conversations = await store.listConversations(ws);
        expect(conversations).toHaveLength(2);
        const first = await store.getContact(ws, conversations[0]?.contactId ?? '');
        expect(first).toMatchObject({ waId: '15550002222', bsuid: 'US.123' });
        const second = await store.getContact(ws, conversations[1]?.contactId ?? '');
        expect(second).toMatchObject({ waId: null, bsuid: 'US.999' });
      });

      it('tracks the newest inbound time as the window start, ignoring system messages, edits and deletions', async () => {
        const ws = await seedWorkspace(store);
        await store.ingest(messagesUnit(ws, { messages: [inboundMessage({ wamid: 'a', timestamp: 2000 })] }));
        await store.ingest(messagesUnit(ws, { messages: [inboundMessage({ wamid: 'b', timestamp: 1000 })] }));
        await store.ingest(
          messagesUnit(ws, { messages: [inboundMessage({ wamid: 'c', timestamp: 9000, type: 'system' })] }),
        );
        for (const type of ['edit', 'revoke']) {
          await store.ingest(
            messagesUnit(ws, {
              messages: [inboundMessage({ wamid: `c.${type}`, timestamp: 8000, type, relatesTo: 'a' })],
            }),
          );
        }
        const [conversation] = await store.listConversations(ws);
        expect(conversation?.lastInboundAt).toBe(2000);
        expect((await store.getConversation(ws, conversation?.id ?? ''))?.lastInboundAt).toBe(2000);
        await store.ingest(messagesUnit(ws, { messages: [inboundMessage({ wamid: 'd', timestamp: 5000 })] }));
        expect((await store.getConversation(ws, conversation?.id ?? ''))?.lastInboundAt).toBe(5000);
      });

      it('keeps an edit and a revoke as rows of their own beside an original that never changes', async () => {
        const ws = await seedWorkspace(store, { connectors: ['slack'] });
        const edit = (wamid: string, text: string, timestamp: number) =>
          inboundMessage({
            wamid,
            type: 'edit',
            timestamp,
            text,
            relatesTo: 'wamid.orig',
            content: {
              type: 'edit',
              edit: { original_message_id: 'wamid.orig', message: { text: { body: text } } },
            },
          });
        // The second edit and the revoke overtake the original; the first edit comes last.
        await store.ingest(messagesUnit(ws, { messages: [edit('wamid.e2', 'third', 3000)] }));
        await store.ingest(
          messagesUnit(ws, {
            messages: [
              inboundMessage({
                wamid: 'wamid.r',
                type: 'revoke',
                timestamp: 4000,
                text: null,
                relatesTo: 'wamid.orig',
                content: { type: 'revoke', revoke: { original_message_id: 'wamid.orig' } },
              }),
            ],
          }),
        );
        await store.ingest(
          messagesUnit(ws, {
            messages: [inboundMessage({ wamid: 'wamid.orig', timestamp: 1000, text: 'first' })],
          }),
        );
        await store.ingest(messagesUnit(ws, { messages: [edit('wamid.e1', 'second', 2000)] }));
        await store.ingest(messagesUnit(ws, { messages: [edit('wamid.e1', 'second', 2000)] }));
        expect(await store.getMessageByWamid(ws, 'wamid.orig')).toMatchObject({
          text: 'first',
          type: 'text',
        });
        const revisions = await store.listRevisions(ws, 'wamid.orig');
        expect(revisions.map((m) => [m.wamid, m.type, m.timestamp, m.text, m.relatesTo])).toEqual([
          ['wamid.e1', 'edit', 2000, 'second', 'wamid.orig'],
          ['wamid.e2', 'edit', 3000, 'third', 'wamid.orig'],
          ['wamid.r', 'revoke', 4000, null, 'wamid.orig'],
        ]);
        expect(await store.listRevisions(ws, 'wamid.other')).toEqual([]);
        // Another workspace cannot read them.
        const other = await seedWorkspace(store, { phoneNumberId: '106540352242999' });
        expect(await store.listRevisions(other, 'wamid.orig')).toEqual([]);
        // Each change is mirrored once, after the original in the conversation's queue.
        const order: string[] = [];
        for (let jobs = await claim(); jobs.length > 0; jobs = await claim()) {
          for (const job of jobs) {
            order.push((await store.getMessage(ws, job.entityId))?.wamid ?? '?');
            await store.completeJob(job.lease, []);
          }
        }
        expect(order).toEqual(['wamid.orig', 'wamid.e1', 'wamid.e2', 'wamid.r']);
      });

      it('stores an echo of the WhatsApp Business app as a sent outbound message, mirrored and never sent', async () => {
        const ws = await seedWorkspace(store, { connectors: ['slack', 'hubspot'] });
        const echo = inboundMessage({
          wamid: 'wamid.echo',
          direction: 'outbound',
          sender: { via: 'whatsapp_business_app', agentId: null, agentName: null },
          text: 'Your table is ready',
          content: { type: 'text', to: '15550001111', text: { body: 'Your table is ready' } },
        });
        const first = await store.ingest(messagesUnit(ws, { messages: [echo] }));
        const again = await store.ingest(messagesUnit(ws, { messages: [{ ...echo, id: 'msg_other' }] }));
        expect(first).toMatchObject({ messagesStored: 1, jobsQueued: 2 });
        expect(again).toMatchObject({ messagesStored: 0, messagesDuplicate: 1, jobsQueued: 0 });
        const stored = await store.getMessageByWamid(ws, 'wamid.echo');
        expect(stored).toMatchObject({
          direction: 'outbound',
          state: 'sent',
          sender: { via: 'whatsapp_business_app', agentId: null, agentName: null },
        });
        const jobs = await claim();
        expect(jobs.map((j) => [j.connectorId, j.eventType]).sort()).toEqual([
          ['hubspot', 'message.outbound'],
          ['slack', 'message.outbound'],
        ]);
        expect(jobs.some((j) => j.connectorId === WHATSAPP_SENDER)).toBe(false);
        // The business writing does not open the customer's 24-hour window.
        expect((await store.getConversation(ws, stored?.conversationId ?? ''))?.lastInboundAt).toBeNull();
      });

      it('a number change keeps one contact and one conversation, even when the new number wrote first', async () => {
        const ws = await seedWorkspace(store, { connectors: ['slack'] });
        const old = identity({ waId: '16505551234', profileName: 'Sheena' });
        await store.ingest(
          messagesUnit(ws, { messages: [inboundMessage({ wamid: 'w.old', contact: old, timestamp: 1000 })] }),
        );
        // Meta delivered the first message from the new number before the notice about it.
        await store.ingest(
          messagesUnit(ws, {
            messages: [
              inboundMessage({
                wamid: 'w.early',
                contact: identity({ waId: '12195555358', bsuid: 'US.new', profileName: 'Sheena' }),
                timestamp: 3000,
              }),
            ],
          }),
        );
        await store.recordConsent({
          commandKey: null,
          workspaceId: ws,
          contactId:
            (await store.getContact(ws, (await store.listConversations(ws))[1]?.contactId ?? ''))?.id ?? '',
          category: 'marketing',
          state: 'opted_out',
          source: 'admin',
          actor: 'test',
          evidenceMessageId: null,
          occurredAt: 3500,
          details: {},
        });
        await store.ingest(
          messagesUnit(ws, {
            messages: [
              inboundMessage({
                wamid: 'w.notice',
                type: 'system',
                text: 'User Sheena changed from 16505551234 to 12195555358',
                contact: identity({ waId: '16505551234' }),
                identityChange: { waId: '12195555358', bsuid: 'US.new', parentBsuid: null },
                timestamp: 2000,
              }),
            ],
          }),
        );
        await store.ingest(
          messagesUnit(ws, {
            messages: [
              inboundMessage({
                wamid: 'w.later',
                contact: identity({ waId: '12195555358', bsuid: 'US.new', profileName: 'Sheena' }),
                timestamp: 4000,
              }),
            ],
          }),
        );
        const conversations = await store.listConversations(ws);
        expect(conversations).toHaveLength(1);
        const [conversation] = conversations;
        const messages = await store.listMessages(ws, conversation?.id ?? '');
        expect(messages.map((m) => m.wamid)).toEqual(['w.old', 'w.notice', 'w.early', 'w.later']);
        expect(await store.getContact(ws, conversation?.contactId ?? '')).toMatchObject({
          waId: '12195555358',
          bsuid: 'US.new',
        });
        // The consent given under the new number stays with the customer.
        expect((await store.consentSnapshot(ws, conversation?.contactId ?? '')).marketing.state).toBe(
          'opted_out',
        );
        // Every message's job is in the one conversation's queue.
        const jobs = await claim(Date.now(), 100);
        expect(new Set(jobs.map((j) => j.conversationId))).toEqual(new Set([conversation?.id]));
      });

      it('a preference Meta delivers again after a number change creates no contact under the old number', async () => {
        const ws = await seedWorkspace(store);
        const preference = {
          receivedAt: Date.now(),
          changes: [
            {
              kind: 'user_preferences' as const,
              workspaceId: ws,
              phoneNumberId: '106540352242922',
              displayPhoneNumber: '15550783881',
              preferences: [
                {
                  entryId: 'cns_pref_1',
                  contact: identity({ waId: '16505551234' }),
                  category: 'marketing' as const,
                  state: 'opted_out' as const,
                  occurredAt: 1000,
                  details: {},
                },
              ],
            },
          ],
        };
        await store.ingest(preference);
        await store.ingest(
          messagesUnit(ws, {
            messages: [
              inboundMessage({
                wamid: 'p.notice',
                type: 'system',
                contact: identity({ waId: '16505551234' }),
                identityChange: { waId: '12195555358', bsuid: null, parentBsuid: null },
              }),
            ],
          }),
        );
        const again = await store.ingest(preference);
        expect(again.consentChanges).toBe(0);
        const conversations = await store.listConversations(ws);
        expect(conversations).toHaveLength(1);
        expect(await store.getContact(ws, conversations[0]?.contactId ?? '')).toMatchObject({
          waId: '12195555358',
        });
      });

      it('a user id change without a phone number keeps the conversation of the previous id', async () => {
        const ws = await seedWorkspace(store);
        await store.ingest(
          messagesUnit(ws, {
            messages: [
              inboundMessage({ wamid: 'b.1', contact: identity({ bsuid: 'US.old', username: '@ana' }) }),
            ],
          }),
        );
        await store.ingest(
          messagesUnit(ws, {
            messages: [
              inboundMessage({
                wamid: 'b.notice',
                type: 'system',
                contact: identity({ bsuid: 'US.old' }),
                identityChange: { waId: null, bsuid: 'US.new', parentBsuid: null },
              }),
            ],
          }),
        );
        await store.ingest(
          messagesUnit(ws, {
            messages: [inboundMessage({ wamid: 'b.2', contact: identity({ bsuid: 'US.new' }) })],
          }),
        );
        const conversations = await store.listConversations(ws);
        expect(conversations).toHaveLength(1);
        expect((await store.listMessages(ws, conversations[0]?.id ?? '')).map((m) => m.wamid)).toEqual([
          'b.1',
          'b.notice',
          'b.2',
        ]);
      });

      it('keeps unrouted changes and platform events, once each', async () => {
        const unit = {
          receivedAt: 1,
          changes: [
            {
              kind: 'unrouted' as const,
              id: 'unr_1',
              phoneNumberId: '999',
              field: 'messages',
              payload: { a: 1 },
            },
            {
              kind: 'unrouted' as const,
              id: 'unr_1',
              phoneNumberId: '999',
              field: 'messages',
              payload: { a: 1 },
            },
          ],
        };
        expect((await store.ingest(unit)).unrouted).toBe(1);
        expect(await store.listUnrouted()).toEqual([
          { id: 'unr_1', phoneNumberId: '999', field: 'messages', payload: { a: 1 }, receivedAt: 1 },
        ]);
      });

      it('lists unrouted changes oldest first, page by page, until each is routed once', async () => {
        const ws = await seedWorkspace(store, { connectors: ['slack'] });
        const kept = (id: string, receivedAt: number) =>
          store.ingest({
            receivedAt,
            changes: [{ kind: 'unrouted', id, phoneNumberId: '999', field: 'messages', payload: { id } }],
          });
        // Two at the same time: their ids break the tie, so a page boundary between them loses neither.
        for (const [id, at] of [
          ['unr_c', 30],
          ['unr_a', 10],
          ['unr_b2', 20],
          ['unr_b1', 20],
        ] as const)
          await kept(id, at);
        const ids = (events: { id: string }[]) => events.map((e) => e.id);
        const first = await store.listUnrouted({ limit: 2 });
        expect(ids(first)).toEqual(['unr_a', 'unr_b1']);
        const second = await store.listUnrouted({ limit: 2, after: first.at(-1) });
        expect(ids(second)).toEqual(['unr_b2', 'unr_c']);
        expect(await store.listUnrouted({ limit: 2, after: second.at(-1) })).toEqual([]);
        expect(await store.countUnrouted()).toBe(4);

        expect(await store.markUnroutedRouted('unr_b1', ws)).toBe(true);
        expect(await store.markUnroutedRouted('unr_b1', ws)).toBe(false);
        expect(await store.markUnroutedRouted('unr_nope', ws)).toBe(false);
        expect(ids(await store.listUnrouted())).toEqual(['unr_a', 'unr_b2', 'unr_c']);
        expect(await store.countUnrouted()).toBe(3);
        // Meta sending the routed change again does not make it pending a second time.
        await kept('unr_b1', 40);
        expect(await store.countUnrouted()).toBe(3);
      });

      it('lists platform events newest first, by workspace or none, with where Meta sent them from', async () => {
        const ws = await seedWorkspace(store, { connectors: ['slack'] });
        const other = await seedWorkspace(store, { id: 'ws_other', phoneNumberId: '222', connectors: [] });
        const event = (id: string, workspaceId: string | null, field: string, receivedAt: number) =>
          store.ingest({
            receivedAt,
            changes: [
              {
                kind: 'other',
                id,
                workspaceId,
                field,
                payload: { id },
                parseIssues: [`issue of ${id}`],
                origin: { wabaId: `waba-${id}`, entryTime: receivedAt / 1000 },
              },
            ],
          });
        expect((await event('pev_1', null, 'account_update', 1000)).platformEvents).toBe(1);
        expect((await event('pev_1', null, 'account_update', 1000)).platformEvents).toBe(0);
        await event('pev_2', ws, 'messages', 2000);
        await event('pev_3', other, 'messages', 3000);
        await event('pev_4b', ws, 'messages', 4000);
        await event('pev_4a', ws, 'user_preferences', 4000);
        // Value-level errors of a messages change are platform events too, with the change's origin.
        await store.ingest(
          messagesUnit(
            ws,
            {
              errors: [{ code: 131000, title: 'Something went wrong' }],
              origin: { wabaId: 'waba-e', entryTime: 5 },
            },
            5000,
          ),
        );
        const ids = (events: { id: string }[]) => events.map((e) => e.id);
        const all = await store.listPlatformEvents();
        expect(all).toHaveLength(6);
        expect(all[0]).toMatchObject({
          workspaceId: ws,
          field: 'messages.errors',
          payload: { code: 131000 },
          wabaId: 'waba-e',
          entryTime: 5,
          receivedAt: 5000,
        });
        expect(ids(all.slice(1))).toEqual(['pev_4b', 'pev_4a', 'pev_3', 'pev_2', 'pev_1']);
        expect(all.at(-1)).toEqual({
          id: 'pev_1',
          workspaceId: null,
          field: 'account_update',
          payload: { id: 'pev_1' },
          parseIssues: ['issue of pev_1'],
          wabaId: 'waba-pev_1',
          entryTime: 1,
          receivedAt: 1000,
        });
        expect(ids(await store.listPlatformEvents({ workspaceId: null }))).toEqual(['pev_1']);
        expect(ids(await store.listPlatformEvents({ workspaceId: other }))).toEqual(['pev_3']);
        expect(ids(await store.listPlatformEvents({ workspaceId: ws, field: 'messages' }))).toEqual([
          'pev_4b',
          'pev_2',
        ]);
        // Pages: the two received at the same time are split across pages and neither is lost.
        const first = await store.listPlatformEvents({ workspaceId: ws, limit: 2 });
        const rest = await store.listPlatformEvents({ workspaceId: ws, limit: 2, before: first.at(-1) });
        expect([...ids(first), ...ids(rest)].slice(1)).toEqual(['pev_4b', 'pev_4a', 'pev_2']);
        expect(await store.listPlatformEvents({ workspaceId: ws, before: rest.at(-1) })).toEqual([]);
      });
    });

    describe('statuses', () => {
      async function outbound(ws: string) {
        await store.ingest(messagesUnit(ws, { messages: [inboundMessage({ wamid: 'in.1' })] }));
        const [conversation] = await store.listConversations(ws);
        const conversationId = conversation?.id ?? '';
        await store.recordOutbound({
          commandKey: { source: 'slack', key: 'ev1' },
          workspaceId: ws,
          conversationId,
          message: {
            id: 'msg_out1',
            type: 'text',
            text: 'hi',
            content: {},
            sender: { via: 'slack', agentId: 'U1', agentName: 'Bo' },
            relatesTo: null,
            timestamp: 3000,
          },
          originRef: { connectorId: 'slack', externalId: '1700.01', data: {} },
        });
        return conversationId;
      }

      it('stores a status once per (wamid, status) and only moves the message forward', async () => {
        const ws = await seedWorkspace(store, { connectors: ['slack'] });
        await outbound(ws);
        const [send] = (await claim()).filter((j) => j.connectorId === WHATSAPP_SENDER);
        expect(send).toBeDefined();
        await store.markAccepted(send!.lease, 'msg_out1', 'wamid.out1');
        await store.completeJob(send!.lease, []);
        const read = await store.ingest(
          messagesUnit(ws, { statuses: [status({ wamid: 'wamid.out1', status: 'read' })] }),
        );
        const late = await store.ingest(
          messagesUnit(ws, { statuses: [status({ wamid: 'wamid.out1', status: 'delivered' })] }),
        );
        const again = await store.ingest(
          messagesUnit(ws, { statuses: [status({ wamid: 'wamid.out1', status: 'read' })] }),
        );
        expect(read.statusesStored).toBe(1);
        expect(late.statusesStored).toBe(1);
        expect(again).toMatchObject({ statusesStored: 0, statusesDuplicate: 1, jobsQueued: 0 });
        expect((await store.getMessage(ws, 'msg_out1'))?.state).toBe('read');
      });

      it('links a status that overtakes the send response through its callback data', async () => {
        const ws = await seedWorkspace(store, { connectors: ['slack'] });
        await outbound(ws);
        const sent = await store.ingest(
          messagesUnit(ws, {
            statuses: [
              status({ wamid: 'wamid.early', status: 'sent', raw: { biz_opaque_callback_data: 'msg_out1' } }),
            ],
          }),
        );
        expect(sent.jobsQueued).toBe(1);
        expect(await store.getMessage(ws, 'msg_out1')).toMatchObject({ wamid: 'wamid.early', state: 'sent' });
      });

      it('links a status without callback data once the send is accepted', async () => {
        const ws = await seedWorkspace(store, { connectors: ['slack'] });
        await outbound(ws);
        await store.ingest(
          messagesUnit(ws, { statuses: [status({ wamid: 'wamid.x', status: 'delivered' })] }),
        );
        const send = (await claim()).find((j) => j.connectorId === WHATSAPP_SENDER);
        await store.markAccepted(send!.lease, 'msg_out1', 'wamid.x');
        expect((await store.getMessage(ws, 'msg_out1'))?.state).toBe('delivered');
      });

      describe('status storms coalesced', () => {
        const T = 1_750_000_000_000;

        /** Admits every queued job into its queue and claims nothing (no connector is called this). */
        const admit = () =>
          store.claimJobs({
            limit: 1,
            leaseMs: 30_000,
            workerId: 'w1',
            now: Date.now(),
            connectorIds: ['-'],
          });

        /** Runs every queue to empty, one job at a time per queue; returns what ran, per connector, in order. */
        async function drain(ws: string): Promise<Record<string, string[]>> {
          const ran: Record<string, string[]> = {};
          for (let round = 0; round < 100; round++) {
            const jobs = await claim();
            if (jobs.length === 0) return ran;
            for (const job of jobs) {
              const label =
                job.eventType === 'message.status'
                  ? `status:${(await store.getStatus(ws, job.entityId))?.status}`
                  : job.eventType;
              ran[job.connectorId] ??= [];
              ran[job.connectorId]?.push(label);
              expect(await store.completeJob(job.lease, [])).toBe(true);
            }
          }
          throw new Error('queues did not drain in 100 rounds');
        }

        /** WhatsApp accepts the queued send of `messageId` as `wamid`; every other job queued is run. */
        async function acceptSend(ws: string, messageId: string, wamid: string): Promise<void> {
          for (const job of await claim()) {
            if (job.connectorId === WHATSAPP_SENDER) await store.markAccepted(job.lease, messageId, wamid);
            await store.completeJob(job.lease, []);
          }
          await drain(ws);
        }

        /** An outbound message accepted by WhatsApp as `wamid.out1`, every job before it run. */
        async function accepted(connectors: string[]): Promise<string> {
          const ws = await seedWorkspace(store, { connectors });
          await outbound(ws);
          await acceptSend(ws, 'msg_out1', 'wamid.out1');
          return ws;
        }

        const statusOf = (name: string, timestamp: number, wamid = 'wamid.out1') =>
          messagesUnit(ws0(), { statuses: [status({ wamid, status: name, timestamp })] });
        let currentWs = '';
        const ws0 = () => currentWs;

        it('drops queued sent and delivered jobs once read is queued for the same message and connector; read runs', async () => {
          currentWs = await accepted(['slack', 'teams']);
          await store.ingest(statusOf('sent', T + 1000));
          await admit(); // sent is in its queues before delivered arrives
          await store.ingest(statusOf('delivered', T + 2000));
          await store.ingest(statusOf('read', T + 3000));
          expect(await drain(currentWs)).toEqual({ slack: ['status:read'], teams: ['status:read'] });
          const stats = await store.jobStats();
          expect(stats.coalesced).toBe(4);
          expect(stats.byConnector.slack?.coalesced).toBe(2);
          expect((await store.getMessage(currentWs, 'msg_out1'))?.state).toBe('read');
        });

        it('never drops a running status job: its lease holder completes it, and only the queued older one goes', async () => {
          currentWs = await accepted(['slack']);
          await store.ingest(statusOf('sent', T + 1000));
          const [running] = await claim();
          expect(running?.eventType).toBe('message.status');
          await store.ingest(statusOf('delivered', T + 2000));
          await store.ingest(statusOf('read', T + 3000));
          await admit();
          expect(await store.completeJob(running!.lease, [])).toBe(true);
          expect(await drain(currentWs)).toEqual({ slack: ['status:read'] });
          expect((await store.jobStats()).coalesced).toBe(1);
        });

        it('a claimed status job with a newer status of its message queued for its connector builds no event; other connectors still get theirs', async () => {
          currentWs = await accepted(['slack', 'teams']);
          await store.ingest(statusOf('sent', T + 1000));
          const running = await claim(); // sent, for slack and for teams, runs before delivered arrives
          // From here on, teams no longer mirrors statuses: delivered is queued for slack only.
          await store.setConnector({
            workspaceId: currentWs,
            connectorId: 'teams',
            enabled: true,
            events: ['message.inbound', 'message.outbound'],
            config: {},
            encryptedSecrets: null,
          });
          await store.ingest(statusOf('delivered', T + 2000));
          await admit();
          // Optional in the Store contract; a store that offers it must coalesce.
          expect(typeof store.hydrateEvent).toBe('function');
          const hydrate = (job: Job) => store.hydrateEvent?.(job, Date.now());
          const slack = running.find((job) => job.connectorId === 'slack');
          const teams = running.find((job) => job.connectorId === 'teams');
          expect(await hydrate(slack!)).toBeNull();
          expect(await hydrate(teams!)).toMatchObject({ type: 'message.status', status: { status: 'sent' } });
          for (const job of running) expect(await store.completeJob(job.lease, [])).toBe(true);
          expect(await drain(currentWs)).toEqual({ slack: ['status:delivered'] });
        });

        it('never drops a failed status job, and a failed one drops nothing', async () => {
          currentWs = await accepted(['slack']);
          await store.ingest(statusOf('sent', T + 1000));
          await store.ingest(statusOf('failed', T + 2000));
          await store.ingest(statusOf('delivered', T + 3000));
          expect(await drain(currentWs)).toEqual({ slack: ['status:failed', 'status:delivered'] });
          expect((await store.jobStats()).coalesced).toBe(1);
        });

        it("leaves another message's statuses and another connector's queue untouched", async () => {
          currentWs = await accepted(['slack', 'teams']);
          // A second outbound message of the same conversation, accepted as wamid.out2.
          const [conversation] = await store.listConversations(currentWs);
          await store.recordOutbound({
            commandKey: { source: 'slack', key: 'ev2' },
            workspaceId: currentWs,
            conversationId: conversation?.id ?? '',
            message: {
              id: 'msg_out2',
              type: 'text',
              text: 'again',
              content: {},
              sender: { via: 'slack', agentId: 'U1', agentName: 'Bo' },
              relatesTo: null,
              timestamp: 4000,
            },
            originRef: { connectorId: 'slack', externalId: '1700.02', data: {} },
          });
          await acceptSend(currentWs, 'msg_out2', 'wamid.out2');

          await store.ingest(statusOf('sent', T + 1000));
          // From here on, teams no longer mirrors statuses: the read below goes to slack only.
          await store.setConnector({
            workspaceId: currentWs,
            connectorId: 'teams',
            enabled: true,
            events: ['message.inbound', 'message.outbound'],
            config: {},
            encryptedSecrets: null,
          });
          await store.ingest(statusOf('read', T + 2000, 'wamid.out2'));
          await store.ingest(statusOf('read', T + 3000));
          expect(await drain(currentWs)).toEqual({
            slack: ['status:read', 'status:read'],
            teams: ['status:sent'],
          });
        });

        it('keeps the order of the jobs that remain in the queue', async () => {
          currentWs = await accepted(['slack']);
          await store.ingest(statusOf('sent', T + 5000));
          await store.ingest(
            messagesUnit(currentWs, { messages: [inboundMessage({ wamid: 'in.2', timestamp: T + 6000 })] }),
          );
          await store.ingest(statusOf('delivered', T + 7000));
          await store.ingest(
            messagesUnit(currentWs, { messages: [inboundMessage({ wamid: 'in.3', timestamp: T + 8000 })] }),
          );
          await admit();
          await store.ingest(statusOf('read', T + 9000));
          expect(await drain(currentWs)).toEqual({
            slack: ['message.inbound', 'message.inbound', 'status:read'],
          });
          expect((await store.jobStats()).coalesced).toBe(2);
        });
      });
    });

    describe('consent', () => {
      it('records a keyword opt-out once, with its evidence, and tells every mirror', async () => {
        const ws = await seedWorkspace(store, { connectors: ['slack'] });
        const message = inboundMessage({
          wamid: 'stop.1',
          text: 'STOP',
          consent: { category: 'all', state: 'opted_out', entryId: 'cns_1' },
        });
        const first = await store.ingest(messagesUnit(ws, { messages: [message] }));
        await store.ingest(messagesUnit(ws, { messages: [{ ...message, id: 'other' }] }));
        expect(first).toMatchObject({ consentChanges: 1, jobsQueued: 2 });
        const [conversation] = await store.listConversations(ws);
        const contactId = conversation?.contactId ?? '';
        expect((await store.consentSnapshot(ws, contactId)).all).toMatchObject({
          state: 'opted_out',
          source: 'keyword',
        });
        const history = await store.consentHistory(ws, contactId);
        expect(history).toHaveLength(1);
        expect(history[0]).toMatchObject({ source: 'keyword', evidenceMessageId: message.id });
      });

      it('an older change arriving late is kept in the ledger but does not undo a newer state', async () => {
        const ws = await seedWorkspace(store, { connectors: ['hubspot'] });
        await store.ingest(messagesUnit(ws, { messages: [inboundMessage({ wamid: 'w' })] }));
        const [conversation] = await store.listConversations(ws);
        const contactId = conversation?.contactId ?? '';
        const base = {
          workspaceId: ws,
          contactId,
          category: 'all' as const,
          source: 'hubspot' as const,
          actor: 'u',
          evidenceMessageId: null,
          details: {},
        };
        await store.recordConsent({
          ...base,
          commandKey: { source: 'hubspot', key: 'e2' },
          state: 'opted_out',
          occurredAt: 2000,
        });
        await store.recordConsent({
          ...base,
          commandKey: { source: 'hubspot', key: 'e1' },
          state: 'opted_in',
          occurredAt: 1000,
        });
        const dup = await store.recordConsent({
          ...base,
          commandKey: { source: 'hubspot', key: 'e1' },
          state: 'opted_in',
          occurredAt: 1000,
        });
        expect(dup.duplicate).toBe(true);
        expect((await store.consentSnapshot(ws, contactId)).all.state).toBe('opted_out');
        expect(await store.consentHistory(ws, contactId)).toHaveLength(2);
        // Every change that becomes the state reaches every mirror, the origin too (it records
        // source and time beside the state); the late, older one is history only.
        expect((await store.jobStats()).byConnector.hubspot?.ready).toBe(2);
      });
    });

    describe('commands', () => {
      it('records an agent reply once per key, with its send job, mirror jobs and the origin ref', async () => {
        const ws = await seedWorkspace(store, { connectors: ['slack', 'teams'] });
        await store.ingest(messagesUnit(ws, { messages: [inboundMessage({ wamid: 'w' })] }));
        const [conversation] = await store.listConversations(ws);
        const input = {
          commandKey: { source: 'slack', key: 'Ev1' },
          workspaceId: ws,
          conversationId: conversation?.id ?? '',
          message: {
            id: 'msg_r1',
            type: 'text',
            text: 'on it',
            content: {},
            sender: { via: 'slack', agentId: 'U1', agentName: null },
            relatesTo: null,
            timestamp: 5,
          },
          originRef: { connectorId: 'slack', externalId: 'C1:1700.5', data: {} },
        };
        expect(await store.recordOutbound(input)).toEqual({ duplicate: false, messageId: 'msg_r1' });
        expect(await store.recordOutbound({ ...input, message: { ...input.message, id: 'msg_r2' } })).toEqual(
          { duplicate: true, messageId: 'msg_r1' },
        );
        const byConnector = (await store.jobStats()).byConnector;
        expect(byConnector.whatsapp?.ready).toBe(1);
        expect(byConnector.teams?.ready).toBe(2); // the inbound message and the reply
        expect(byConnector.slack?.ready).toBe(1); // only the inbound message: no echo of the reply
        expect(await store.findRefByExternalId(ws, 'slack', 'message', 'C1:1700.5')).toMatchObject({
          entityId: 'msg_r1',
        });
      });

      it('rejects a reply to a conversation of another workspace and stores nothing', async () => {
        const ws1 = await seedWorkspace(store, { id: 'ws-one' });
        const ws2 = await seedWorkspace(store, { id: 'ws-two', phoneNumberId: '222' });
        await store.ingest(messagesUnit(ws1, { messages: [inboundMessage({ wamid: 'w' })] }));
        const [conversation] = await store.listConversations(ws1);
        await expect(
          store.recordOutbound({
            commandKey: { source: 'slack', key: 'x' },
            workspaceId: ws2,
            conversationId: conversation?.id ?? '',
            message: {
              id: 'msg_x',
              type: 'text',
              text: 'x',
              content: {},
              sender: { via: 'slack', agentId: null, agentName: null },
              relatesTo: null,
              timestamp: 1,
            },
            originRef: null,
          }),
        ).rejects.toMatchObject({ code: 'not_found' });
        expect(await store.getMessage(ws2, 'msg_x')).toBeNull();
        expect(await store.claimCommandKey(ws2, 'slack', 'x')).toBe(true);
        expect(await store.getConversation(ws2, conversation?.id ?? '')).toBeNull();
      });
    });

    describe('expiring keys (replay protection)', () => {
      it('a key is claimed once per workspace and source, and the claim is durable within its time', async () => {
        const ws = await seedWorkspace(store, { connectors: [] });
        const other = await seedWorkspace(store, { connectors: [], phoneNumberId: '106540352242999' });
        expect(await store.claimExpiringKey(ws, 'replay:hubspot', 'sig-1', 600_000)).toBe(true);
        expect(await store.claimExpiringKey(ws, 'replay:hubspot', 'sig-1', 600_000)).toBe(false);
        expect(await store.claimExpiringKey(other, 'replay:hubspot', 'sig-1', 600_000)).toBe(true);
        expect(await store.claimExpiringKey(ws, 'replay:slack', 'sig-1', 600_000)).toBe(true);
      });

      it('a key older than its time is forgotten, and command keys are never touched', async () => {
        const ws = await seedWorkspace(store, { connectors: [] });
        expect(await store.claimCommandKey(ws, 'hubspot', 'cmd-1')).toBe(true);
        expect(await store.claimExpiringKey(ws, 'replay:hubspot', 'sig-1', 1)).toBe(true);
        // Stamped before the claim resolved; waits for the clock to move past its 1 ms, not for
        // a duration.
        const claimedAt = Date.now();
        while (Date.now() <= claimedAt + 2) await new Promise((resolve) => setTimeout(resolve, 1));
        expect(await store.claimExpiringKey(ws, 'replay:hubspot', 'sig-1', 1)).toBe(true);
        expect(await store.claimCommandKey(ws, 'hubspot', 'cmd-1')).toBe(false);
      });
    });
  });
}

/** JobStore: claims in order, leases, retries, dead jobs, counts and health. */
export function describeJobsConformance(name: string, open: OpenStore): void {
  describe(`store conformance (jobs): ${name}`, () => {
    eachTestOpens(open);

    describe('jobs', () => {
      async function queue(ws: string, wamids: string[], contact = '15550001111') {
        for (const [i, wamid] of wamids.entries()) {
          await store.ingest(
            messagesUnit(ws, {
              messages: [
                inboundMessage({ wamid, timestamp: 1000 + i, contact: identity({ waId: contact }) }),
              ],
            }),
          );
        }
      }

      it('runs the jobs of one conversation strictly one after another, in order', async () => {
        const ws = await seedWorkspace(store, { connectors: ['slack'] });
        await queue(ws, ['a', 'b', 'c']);
        const first = await claim();
        expect(first).toHaveLength(1);
        expect(await claim()).toHaveLength(0);
        await store.completeJob(first[0]!.lease, []);
        const second = await claim();
        expect((await store.getMessage(ws, second[0]!.entityId))?.wamid).toBe('b');
      });

      it('orders a conversation by WhatsApp time, not arrival', async () => {
        const ws = await seedWorkspace(store, { connectors: ['slack'] });
        await store.ingest(
          messagesUnit(ws, { messages: [inboundMessage({ wamid: 'late', timestamp: 2000 })] }),
        );
        await store.ingest(
          messagesUnit(ws, { messages: [inboundMessage({ wamid: 'early', timestamp: 1000 })] }),
        );
        const [job] = await claim();
        expect((await store.getMessage(ws, job!.entityId))?.wamid).toBe('early');
      });

      it('a reply sorts after the message it answers, even within the same WhatsApp second', async () => {
        const ws = await seedWorkspace(store, { connectors: ['slack'] });
        await store.ingest(
          messagesUnit(ws, { messages: [inboundMessage({ wamid: 'in.0', timestamp: 1_000_000 })] }),
        );
        const [conversation] = await store.listConversations(ws);
        const [first] = await claim();
        await store.completeJob(first!.lease, []);
        await store.recordOutbound({
          commandKey: { source: 'teams', key: 'k1' },
          workspaceId: ws,
          conversationId: conversation?.id ?? '',
          message: {
            id: 'msg_tpl',
            type: 'template',
            text: 'Did it arrive?',
            content: {},
            sender: { via: 'teams', agentId: 'a', agentName: null },
            relatesTo: null,
            timestamp: 5_000_700,
          },
          originRef: null,
        });
        const jobs = await claim();
        const send = jobs.find((j) => j.connectorId === WHATSAPP_SENDER);
        const mirror = jobs.find((j) => j.connectorId === 'slack');
        await store.markAccepted(send!.lease, 'msg_tpl', 'wamid.tpl');
        await store.completeJob(send!.lease, []);
        // The customer taps the quick reply within the same second (WhatsApp time 5_000 s).
        await store.ingest(
          messagesUnit(ws, {
            messages: [inboundMessage({ wamid: 'in.reply', timestamp: 5_000_000, relatesTo: 'wamid.tpl' })],
          }),
        );
        expect(await claim()).toEqual([]);
        await store.completeJob(mirror!.lease, []);
        const [next] = await claim();
        expect((await store.getMessage(ws, next!.entityId))?.wamid).toBe('in.reply');
      });

      it('a message arriving within its WhatsApp second sorts after our own messages of that second', async () => {
        const ws = await seedWorkspace(store, { connectors: ['slack'] });
        await store.ingest(
          messagesUnit(
            ws,
            { messages: [inboundMessage({ wamid: 'in.0', timestamp: 1_000_000 })] },
            1_000_100,
          ),
        );
        const [conversation] = await store.listConversations(ws);
        const [first] = await claim();
        await store.completeJob(first!.lease, []);
        await store.recordOutbound({
          commandKey: { source: 'teams', key: 'k2' },
          workspaceId: ws,
          conversationId: conversation?.id ?? '',
          message: {
            id: 'msg_out',
            type: 'text',
            text: 'on it',
            content: {},
            sender: { via: 'teams', agentId: 'a', agentName: null },
            relatesTo: null,
            timestamp: 7_000_300,
          },
          originRef: null,
        });
        const mirror = (await claim()).find((j) => j.connectorId === 'slack');
        // "STOP", typed in the same WhatsApp second (7 000 s) and received at 7 000.600 s.
        await store.ingest(
          messagesUnit(
            ws,
            { messages: [inboundMessage({ wamid: 'in.stop', timestamp: 7_000_000 })] },
            7_000_600,
          ),
        );
        expect((await claim()).filter((j) => j.connectorId === 'slack')).toEqual([]);
        await store.completeJob(mirror!.lease, []);
        const [next] = await claim();
        expect((await store.getMessage(ws, next!.entityId))?.wamid).toBe('in.stop');
      });

      it('a failing conversation does not block the others', async () => {
        const ws = await seedWorkspace(store, { connectors: ['slack'] });
        await queue(ws, ['a1', 'a2'], '111');
        await queue(ws, ['b1', 'b2'], '222');
        const jobs = await claim();
        expect(jobs).toHaveLength(2);
        const [a] = jobs;
        await store.retryJob(a!.lease, { runAt: Date.now() + 60_000, error: 'down', countAttempt: true });
        await store.completeJob(jobs[1]!.lease, []);
        const next = await claim();
        expect(next).toHaveLength(1);
        expect((await store.getMessage(ws, next[0]!.entityId))?.wamid).toBe('b2');
      });

      it('a stale worker cannot settle a job it lost', async () => {
        const ws = await seedWorkspace(store, { connectors: ['slack'] });
        await queue(ws, ['a']);
        const now = Date.now();
        const [stale] = await claim(now);
        // The lease expires and another worker takes the job over.
        const [fresh] = await store.claimJobs({
          limit: 10,
          leaseMs: 30_000,
          workerId: 'w2',
          now: now + 60_000,
        });
        expect(fresh?.id).toBe(stale?.id);
        expect(fresh?.attempts).toBe(2);
        expect(await store.completeJob(stale!.lease, [])).toBe(false);
        expect(await store.retryJob(stale!.lease, { runAt: 0, error: 'x', countAttempt: true })).toBe(false);
        expect(await store.deadLetterJob(stale!.lease, 'x')).toBe(false);
        expect(
          await store.checkpointRef(stale!.lease, ws, {
            connectorId: 'slack',
            kind: 'message',
            entityId: 'm',
            externalId: 'e',
            data: {},
          }),
        ).toBe(false);
        expect(
          await store.completeJob(fresh!.lease, [
            { connectorId: 'slack', kind: 'message', entityId: fresh!.entityId, externalId: 'ts1', data: {} },
          ]),
        ).toBe(true);
        expect(await store.getRef(ws, 'slack', 'message', fresh!.entityId)).toMatchObject({
          externalId: 'ts1',
        });
      });

      it('a checkpoint is written for its lease holder only, and answers true when the ref is already as given', async () => {
        const ws = await seedWorkspace(store, { connectors: ['slack'] });
        await queue(ws, ['a']);
        const now = Date.now();
        const [stale] = await claim(now);
        const [fresh] = await store.claimJobs({
          limit: 10,
          leaseMs: 30_000,
          workerId: 'w2',
          now: now + 60_000,
        });
        const ref = (externalId: string) => ({
          connectorId: 'slack',
          kind: 'message',
          entityId: fresh!.entityId,
          externalId,
          data: {},
        });
        expect(await store.checkpointRef(stale!.lease, ws, ref('stale'))).toBe(false);
        expect(await store.getRef(ws, 'slack', 'message', fresh!.entityId)).toBeNull();
        expect(await store.checkpointRef(fresh!.lease, ws, ref('pending:2'))).toBe(true);
        // The same ref again (a retried step): nothing to write, and the lease is still held.
        expect(await store.checkpointRef(fresh!.lease, ws, ref('pending:2'))).toBe(true);
        expect(await store.checkpointRef(stale!.lease, ws, ref('pending:2'))).toBe(false);
        expect(await store.getRef(ws, 'slack', 'message', fresh!.entityId)).toMatchObject({
          externalId: 'pending:2',
        });
      });

      it("a checkpoint naming another workspace than its job's writes nothing there, alone or with others", async () => {
        const ws = await seedWorkspace(store, { connectors: ['slack'] });
        const other = await seedWorkspace(store, { phoneNumberId: '222', connectors: ['slack'] });
        // Two conversations, so both jobs are claimed at once.
        await queue(ws, ['a']);
        await queue(ws, ['b'], '15550002222');
        const [a, b] = await claim();
        expect(b).toBeDefined();
        const ref = (entityId: string) => ({
          connectorId: 'slack',
          kind: 'message',
          entityId,
          externalId: 'pending:1',
          data: {},
        });
        expect(await store.checkpointRef(a!.lease, other, ref(a!.entityId))).toBe(false);
        // Asked for together (a store may settle them in one statement): each judged on its own.
        const together = await Promise.all([
          store.checkpointRef(a!.lease, other, ref('x')),
          store.checkpointRef(b!.lease, ws, ref(b!.entityId)),
        ]);
        expect(together).toEqual([false, true]);
        expect(await store.getRef(other, 'slack', 'message', a!.entityId)).toBeNull();
        expect(await store.getRef(other, 'slack', 'message', 'x')).toBeNull();
        expect(await store.getRef(ws, 'slack', 'message', b!.entityId)).toMatchObject({
          externalId: 'pending:1',
        });
      });

      it('a rate-limit retry does not count as an attempt', async () => {
        const ws = await seedWorkspace(store, { connectors: ['slack'] });
        await queue(ws, ['a']);
        const [job] = await claim();
        await store.retryJob(job!.lease, { runAt: 0, error: 'slow down', countAttempt: false });
        const [again] = await claim();
        expect(again?.attempts).toBe(1);
      });

      it('dead-letters with the reason and replays a dead job exactly once', async () => {
        const ws = await seedWorkspace(store, { connectors: ['slack'] });
        await queue(ws, ['a', 'b']);
        const [job] = await claim();
        await store.deadLetterJob(job!.lease, 'permanent: channel_not_found');
        const dead = await store.listDeadJobs();
        expect(dead).toEqual([
          expect.objectContaining({
            id: job!.id,
            reason: 'permanent: channel_not_found',
            connectorId: 'slack',
          }),
        ]);
        // The next message of the conversation is no longer blocked.
        const [next] = await claim();
        expect((await store.getMessage(ws, next!.entityId))?.wamid).toBe('b');
        await store.completeJob(next!.lease, []);
        expect(await store.replayDeadJobs('all')).toBe(1);
        expect(await store.replayDeadJobs('all')).toBe(0);
        const [replayed] = await claim();
        expect(replayed?.entityId).toBe(job!.entityId);
        expect(await store.listDeadJobs()).toEqual([]);
      });

      // Many messages of one or more customers in one transaction (one webhook's worth).
      async function backlog(ws: string, customers: { waId: string; count: number }[]) {
        const messages = customers.flatMap(({ waId, count }) =>
          Array.from({ length: count }, (_, i) =>
            inboundMessage({ wamid: `${waId}.${i}`, timestamp: 1000 + i, contact: identity({ waId }) }),
          ),
        );
        await store.ingest(messagesUnit(ws, { messages }));
      }
      const wamidOf = async (ws: string, job: Job | undefined) =>
        (await store.getMessage(ws, job?.entityId ?? ''))?.wamid;

      // A message WhatsApp timestamped earlier arrives after a later one of its conversation was
      // claimed: it heads the queue now, but must wait until the running job is settled, or the two
      // run at once and each creates the conversation's thread (issue 15).
      const lateOlderMessage = async (ws: string, contact: string) => {
        await store.ingest(
          messagesUnit(ws, {
            messages: [
              inboundMessage({
                wamid: `${contact}.new`,
                timestamp: 2000,
                contact: identity({ waId: contact }),
              }),
            ],
          }),
        );
      };
      const olderArrives = async (ws: string, contact: string) => {
        await store.ingest(
          messagesUnit(ws, {
            messages: [
              inboundMessage({
                wamid: `${contact}.old`,
                timestamp: 1000,
                contact: identity({ waId: contact }),
              }),
            ],
          }),
        );
      };

      it('does not claim a late older message while a newer one of its conversation runs', async () => {
        const ws = await seedWorkspace(store, { connectors: ['slack'] });
        await lateOlderMessage(ws, '15550001111');
        const [running] = await claim();
        expect(await wamidOf(ws, running)).toBe('15550001111.new');
        await olderArrives(ws, '15550001111');
        const now = Date.now();
        expect(await claim(now)).toEqual([]);
        // Settled (here, a 429 sends it back to wait): the older message now goes first.
        await store.retryJob(running!.lease, {
          runAt: now + 5_000,
          error: 'rate_limited',
          countAttempt: false,
        });
        const [next] = await claim(now + 2);
        expect(await wamidOf(ws, next)).toBe('15550001111.old');
        expect(await claim(now + 10_000)).toEqual([]);
      });

      it('does not claim a late older message while a newer one runs, past a backlog of blocked jobs', async () => {
        const ws = await seedWorkspace(store, { connectors: ['slack'] });
        // 300 jobs of another customer fill the window of oldest ready jobs, all behind their head
        // in flight: the claim walks the queues instead (the third claim path).
        await backlog(ws, [{ waId: '15550009999', count: 300 }]);
        const [busy] = await claim(Date.now(), 1);
        expect(await wamidOf(ws, busy)).toBe('15550009999.0');
        await lateOlderMessage(ws, '15550001111');
        const [running] = await claim(Date.now(), 1);
        expect(await wamidOf(ws, running)).toBe('15550001111.new');
        await olderArrives(ws, '15550001111');
        expect(await claim(Date.now(), 1)).toEqual([]);
        expect(await claim(Date.now(), 1)).toEqual([]);
      });

      it('takes over an expired lease only when no other job of its queue runs', async () => {
        const ws = await seedWorkspace(store, { connectors: ['slack'] });
        await lateOlderMessage(ws, '15550001111');
        const [newer] = await store.claimJobs({ limit: 10, leaseMs: 1_000, workerId: 'w1' });
        await olderArrives(ws, '15550001111');
        const now = Date.now();
        // The newer job's lease has expired: its worker is gone, so the older message may run.
        const [older] = await store.claimJobs({
          limit: 10,
          leaseMs: 30_000,
          workerId: 'w2',
          now: now + 2_000,
        });
        expect(await wamidOf(ws, older)).toBe('15550001111.old');
        expect(newer).toBeDefined();
        // While the older one runs, the expired newer one is not taken over.
        expect(await claim(now + 3_000)).toEqual([]);
        await store.completeJob(older!.lease, []);
        const [again] = await claim(now + 4_000);
        expect(again?.id).toBe(newer!.id);
      });

      it('a batch claim skips a conversation while a newer message of it runs, even behind an older arrival', async () => {
        const ws = await seedWorkspace(store, { connectors: ['hubspot'] });
        await lateOlderMessage(ws, '15550001111');
        const batch = (limit = 100) =>
          store.claimBatch({
            workspaceId: ws,
            connectorId: 'hubspot',
            limit,
            leaseMs: 30_000,
            workerId: 'w',
          });
        const [running] = await batch();
        expect(await wamidOf(ws, running)).toBe('15550001111.new');
        await olderArrives(ws, '15550001111');
        expect(await batch()).toEqual([]);
        await store.completeJob(running!.lease, []);
        const [next] = await batch();
        expect(await wamidOf(ws, next)).toBe('15550001111.old');
      });

      it('finds a ready conversation behind hundreds of jobs waiting on their conversation’s head', async () => {
        const ws = await seedWorkspace(store, { connectors: ['slack'] });
        await backlog(ws, [{ waId: '15550001111', count: 300 }]);
        await backlog(ws, [{ waId: '15550002222', count: 1 }]);
        const [head] = await claim(Date.now(), 1);
        expect(await wamidOf(ws, head)).toBe('15550001111.0');
        // The 299 older jobs all wait behind that head; the other customer must not wait for them.
        const [other] = await claim(Date.now(), 1);
        expect(await wamidOf(ws, other)).toBe('15550002222.0');
        expect(await claim(Date.now(), 1)).toEqual([]);
      });

      it('claims for some connectors past an older backlog of another connector’s', async () => {
        const ws = await seedWorkspace(store, { connectors: ['hubspot'] });
        // 300 customers: 300 HubSpot queues, all older than anything Slack will have.
        await backlog(
          ws,
          Array.from({ length: 300 }, (_, i) => ({ waId: `1555${String(i).padStart(7, '0')}`, count: 1 })),
        );
        await store.setConnector({
          workspaceId: ws,
          connectorId: 'slack',
          enabled: true,
          events: ['message.inbound'],
          config: {},
          encryptedSecrets: null,
        });
        await backlog(ws, [{ waId: '15559999999', count: 1 }]);
        const jobs = await store.claimJobs({
          limit: 1,
          leaseMs: 30_000,
          workerId: 'w1',
          connectorIds: ['slack', 'whatsapp'],
        });
        expect(jobs.map((job) => job.connectorId)).toEqual(['slack']);
        expect(await wamidOf(ws, jobs[0])).toBe('15559999999.0');
      });

      it('gives every conversation its turn, one claim at a time, and keeps each in order', async () => {
        const ws = await seedWorkspace(store, { connectors: ['slack'] });
        await backlog(ws, [
          { waId: '15550001111', count: 120 },
          { waId: '15550002222', count: 120 },
          { waId: '15550003333', count: 120 },
        ]);
        const heads = [];
        for (let i = 0; i < 3; i++) heads.push(...(await claim(Date.now(), 1)));
        expect(await Promise.all(heads.map((job) => wamidOf(ws, job)))).toEqual(
          expect.arrayContaining(['15550001111.0', '15550002222.0', '15550003333.0']),
        );
        expect(await claim(Date.now(), 1)).toEqual([]);
        for (const job of heads) await store.completeJob(job.lease, []);
        const seconds = await claim(Date.now(), 10);
        expect((await Promise.all(seconds.map((job) => wamidOf(ws, job)))).sort()).toEqual([
          '15550001111.1',
          '15550002222.1',
          '15550003333.1',
        ]);
      });

      it('claims a batch as each conversation’s ready prefix, skipping conversations in flight', async () => {
        const ws = await seedWorkspace(store, { connectors: ['hubspot'] });
        await queue(ws, ['a1', 'a2', 'a3'], '111');
        await queue(ws, ['b1', 'b2'], '222');
        const batch = await store.claimBatch({
          workspaceId: ws,
          connectorId: 'hubspot',
          limit: 100,
          leaseMs: 30_000,
          workerId: 'w',
        });
        expect(batch).toHaveLength(5);
        expect(
          await store.claimBatch({
            workspaceId: ws,
            connectorId: 'hubspot',
            limit: 100,
            leaseMs: 30_000,
            workerId: 'w',
          }),
        ).toHaveLength(0);
      });

      it('fills a batch from ready conversations behind hundreds of jobs waiting on a head in flight', async () => {
        const ws = await seedWorkspace(store, { connectors: ['hubspot'] });
        await backlog(ws, [{ waId: '15550001111', count: 700 }]);
        await backlog(ws, [
          { waId: '15550002222', count: 2 },
          { waId: '15550003333', count: 2 },
        ]);
        const [head] = await claim(Date.now(), 1);
        expect(await wamidOf(ws, head)).toBe('15550001111.0');
        const batch = await store.claimBatch({
          workspaceId: ws,
          connectorId: 'hubspot',
          limit: 10,
          leaseMs: 30_000,
          workerId: 'w',
        });
        expect((await Promise.all(batch.map((job) => wamidOf(ws, job)))).sort()).toEqual([
          '15550002222.0',
          '15550002222.1',
          '15550003333.0',
          '15550003333.1',
        ]);
      });

      it('counts jobs by connector and state: ready, running, dead', async () => {
        const ws = await seedWorkspace(store, { connectors: ['slack', 'hubspot'] });
        await backlog(ws, [
          { waId: '15550001111', count: 3 },
          { waId: '15550002222', count: 2 },
        ]);
        const claimed = await store.claimJobs({
          limit: 3,
          leaseMs: 30_000,
          workerId: 'w1',
          connectorIds: ['slack'],
        });
        expect(claimed).toHaveLength(2);
        await store.deadLetterJob(claimed[0]!.lease, 'permanent: test');
        expect(await store.jobStats()).toEqual({
          ready: 8,
          running: 1,
          dead: 1,
          coalesced: 0,
          byConnector: {
            slack: { ready: 3, running: 1, dead: 1, coalesced: 0 },
            hubspot: { ready: 5, running: 0, dead: 0, coalesced: 0 },
          },
        });
      });

      it('records per workspace and connector the last success, the last failure and its reason', async () => {
        const ws = await seedWorkspace(store, { connectors: ['slack', 'hubspot'] });
        expect(await store.connectorHealth()).toEqual([]);
        await queue(ws, ['a', 'b'], '15550001111');
        await queue(ws, ['c'], '15550002222');
        const first = await claim();
        const slack = first.filter((j) => j.connectorId === 'slack');
        const hubspot = first.filter((j) => j.connectorId === 'hubspot');
        expect(slack).toHaveLength(2);
        // slack: one delivered, one failing and waiting to retry; hubspot: rate-limited, then dead.
        await store.completeJob(slack[0]!.lease, []);
        await store.retryJob(slack[1]!.lease, {
          runAt: Date.now() + 60_000,
          error: 'auth_failed: Slack refused the bot token: invalid_auth',
          countAttempt: true,
        });
        await store.retryJob(hubspot[0]!.lease, {
          runAt: 0,
          error: 'rate_limited: wait',
          countAttempt: false,
        });
        await store.deadLetterJob(hubspot[1]!.lease, 'permanent: no such property');
        const health = await store.connectorHealth();
        expect(health).toEqual([
          {
            workspaceId: ws,
            connectorId: 'hubspot',
            lastSuccessAt: null,
            lastErrorAt: expect.any(Number),
            lastError: 'permanent: no such property',
            // The rate-limited job waits too, but it did not fail.
            retrying: 0,
            dead: 1,
          },
          {
            workspaceId: ws,
            connectorId: 'slack',
            lastSuccessAt: expect.any(Number),
            lastErrorAt: expect.any(Number),
            lastError: 'auth_failed: Slack refused the bot token: invalid_auth',
            retrying: 1,
            dead: 0,
          },
        ]);
      });

      it('shows a recovery: the first success after a failure is recorded at once', async () => {
        const ws = await seedWorkspace(store, { connectors: ['slack'] });
        await queue(ws, ['a']);
        await queue(ws, ['b'], '15550002222');
        const [one, two] = await claim();
        await store.completeJob(one!.lease, []);
        await store.retryJob(two!.lease, {
          runAt: 0,
          error: 'transient: Slack unreachable',
          countAttempt: true,
        });
        const failing = (await store.connectorHealth())[0]!;
        expect(failing.retrying).toBe(1);
        const [again] = await claim();
        expect(again?.attempts).toBe(2);
        // While its retry runs, the job still counts as retrying.
        expect((await store.connectorHealth())[0]?.retrying).toBe(1);
        await store.completeJob(again!.lease, []);
        const recovered = (await store.connectorHealth())[0]!;
        expect(recovered.retrying).toBe(0);
        expect(recovered.lastSuccessAt).toBeGreaterThanOrEqual(failing.lastErrorAt!);
        expect(recovered.lastError).toBe('transient: Slack unreachable');
      });

      it('reports the next time a job becomes ready', async () => {
        const ws = await seedWorkspace(store, { connectors: ['slack'] });
        expect(await store.nextRunAt()).toBeNull();
        await queue(ws, ['a']);
        const [job] = await claim();
        await store.retryJob(job!.lease, { runAt: 123_456, error: 'x', countAttempt: true });
        expect(await store.nextRunAt()).toBe(123_456);
      });
    });
  });
}

/** RefStore: what a connector created for an entity, by entity and by external id. */
export function describeRefsConformance(name: string, open: OpenStore): void {
  describe(`store conformance (refs): ${name}`, () => {
    eachTestOpens(open);

    describe('refs', () => {
      it('keeps one ref per workspace, connector, kind and entity, found by entity and by external id', async () => {
        const ws = await seedWorkspace(store, { id: 'refs' });
        const other = await seedWorkspace(store, { id: 'refs-other', phoneNumberId: '106540352240003' });
        const ref = {
          connectorId: 'slack',
          kind: 'message',
          entityId: 'm1',
          externalId: 'C1:1.1',
          data: { ts: '1.1' },
        };
        await store.putRef(ws, ref);
        expect(await store.getRef(ws, 'slack', 'message', 'm1')).toEqual(ref);
        expect(await store.findRefByExternalId(ws, 'slack', 'message', 'C1:1.1')).toEqual(ref);
        // Scoped by workspace, connector and kind.
        expect(await store.getRef(other, 'slack', 'message', 'm1')).toBeNull();
        expect(await store.getRef(ws, 'teams', 'message', 'm1')).toBeNull();
        expect(await store.getRef(ws, 'slack', 'conversation', 'm1')).toBeNull();
        expect(await store.findRefByExternalId(other, 'slack', 'message', 'C1:1.1')).toBeNull();
        // A second put for the same entity replaces the first: the old external id finds nothing.
        const moved = { ...ref, externalId: 'C2:2.2', data: { ts: '2.2' } };
        await store.putRef(ws, moved);
        expect(await store.getRef(ws, 'slack', 'message', 'm1')).toEqual(moved);
        expect(await store.findRefByExternalId(ws, 'slack', 'message', 'C1:1.1')).toBeNull();
      });
    });
  });
}

/** ConnectorStateStore: state per workspace and connector, single-use takes, named leases. */
export function describeConnectorStateConformance(name: string, open: OpenStore): void {
  describe(`store conformance (connector state): ${name}`, () => {
    eachTestOpens(open);

    describe('connector state and leases', () => {
      it('keeps connector state per workspace and connector', async () => {
        const ws = await seedWorkspace(store);
        await store.setConnectorState(ws, 'teams', 'subscription', { id: 's1' });
        expect(await store.getConnectorState(ws, 'teams', 'subscription')).toEqual({ id: 's1' });
        expect(await store.getConnectorState(ws, 'slack', 'subscription')).toBeNull();
      });

      it('hands a taken connector state to one of two concurrent takers, in its own workspace only', async () => {
        const ws = await seedWorkspace(store, { id: 'taker' });
        const other = await seedWorkspace(store, { id: 'taker-other', phoneNumberId: '106540352240002' });
        await store.setConnectorState(ws, 'slack', 'oauth-state:x', { exp: 1 });
        expect(await store.takeConnectorState(other, 'slack', 'oauth-state:x')).toBeNull();
        const taken = await Promise.all([
          store.takeConnectorState(ws, 'slack', 'oauth-state:x'),
          store.takeConnectorState(ws, 'slack', 'oauth-state:x'),
        ]);
        expect(taken.filter((t) => t !== null)).toEqual([{ exp: 1 }]);
        expect(await store.getConnectorState(ws, 'slack', 'oauth-state:x')).toBeNull();
      });

      it('counts up to a limit atomically, per workspace and connector', async () => {
        const ws = await seedWorkspace(store, { id: 'counter' });
        const other = await seedWorkspace(store, { id: 'counter-other', phoneNumberId: '106540352240003' });
        // Eight concurrent counters against a limit of five: exactly five counts are granted, each
        // number once, and the other three are refused without changing the count.
        const counts = await Promise.all(
          Array.from({ length: 8 }, () => store.countConnectorState(ws, 'teams', 'quota:day', 5)),
        );
        expect(counts.filter((c) => c !== null).sort()).toEqual([1, 2, 3, 4, 5]);
        expect(counts.filter((c) => c === null)).toHaveLength(3);
        expect(await store.getConnectorState(ws, 'teams', 'quota:day')).toBe(5);
        expect(await store.countConnectorState(ws, 'teams', 'quota:day', 6)).toBe(6);
        expect(await store.countConnectorState(other, 'teams', 'quota:day', 5)).toBe(1);
        expect(await store.countConnectorState(ws, 'slack', 'quota:day', 5)).toBe(1);
        expect(await store.countConnectorState(ws, 'teams', 'quota:none', 0)).toBeNull();
      });

      it('grants a named lease to one holder until it expires', async () => {
        const now = Date.now();
        expect(await store.tryAcquireLease('maintenance', 'a', now + 60_000)).toBe(true);
        expect(await store.tryAcquireLease('maintenance', 'b', now + 60_000)).toBe(false);
        expect(await store.tryAcquireLease('maintenance', 'a', now + 120_000)).toBe(true);
      });
    });
  });
}

/** ReadStore: reads scoped by workspace, activity counts. */
export function describeReadsConformance(name: string, open: OpenStore): void {
  describe(`store conformance (reads): ${name}`, () => {
    eachTestOpens(open);

    describe('reads', () => {
      it('scopes every read by workspace', async () => {
        const ws = await seedWorkspace(store, { id: 'one' });
        await seedWorkspace(store, { id: 'two', phoneNumberId: '2' });
        await store.ingest(messagesUnit(ws, { messages: [inboundMessage({ wamid: 'w' })] }));
        const message = await store.getMessageByWamid(ws, 'w');
        expect(await store.getMessage('two', message?.id ?? '')).toBeNull();
        expect(await store.getMessageByWamid('two', 'w')).toBeNull();
        expect(await store.getConversation('two', message?.conversationId ?? '')).toBeNull();
      });

      it("counts a workspace's conversations and messages each way, and nothing of another workspace", async () => {
        const ws = await seedWorkspace(store, { id: 'one' });
        const other = await seedWorkspace(store, { id: 'two', phoneNumberId: '2' });
        expect(await store.workspaceActivity(ws)).toEqual({
          conversations: 0,
          inbound: 0,
          outbound: 0,
          lastInboundAt: null,
        });
        await store.ingest(
          messagesUnit(ws, {
            messages: [
              inboundMessage({ wamid: 'a', timestamp: 1000 }),
              inboundMessage({ wamid: 'b', timestamp: 3000 }),
              inboundMessage({
                wamid: 'c',
                timestamp: 2000,
                contact: identity({ waId: '15550002222' }),
                direction: 'outbound',
              }),
            ],
          }),
        );
        await store.ingest({
          ...messagesUnit(other, { messages: [inboundMessage({ wamid: 'd', timestamp: 9000 })] }),
        });
        expect(await store.workspaceActivity(ws)).toEqual({
          conversations: 2,
          inbound: 2,
          outbound: 1,
          lastInboundAt: 3000,
        });
        expect((await store.workspaceActivity('nowhere')).conversations).toBe(0);
      });
    });
  });
}
