import { fileURLToPath } from 'node:url';
import {
  expectStoreMatches,
  type FixtureDb,
  fixtureBodies,
  loadWebhookFixtures,
  type WebhookFixture,
} from '@wabridge/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FixtureStack, startFixtureStack } from './support/fixture-stack.ts';

/**
 * Every recorded WhatsApp body (tests/fixtures/whatsapp) through a real gateway with Slack,
 * Microsoft Teams and HubSpot on, against the sandbox emulators: what the archive holds, what each
 * emulator ended with for each message the file names, one thread per conversation in Slack and
 * Teams, no dead job, and none of the placeholder texts wabridge used to show for content it could
 * not read. `WABRIDGE_FIXTURES_PRINT=1` prints what each target shows, to write expectations from.
 */
const FIXTURES = fileURLToPath(new URL('../../fixtures/whatsapp/', import.meta.url));
const fixtures = loadWebhookFixtures(FIXTURES);
const TARGETS = ['slack', 'teams', 'hubspot'] as const;

/** What wabridge showed for content it could not read, before every type had a description. */
const PLACEHOLDERS = [
  /cannot show/i,
  /that Teams cannot/i,
  /^A [a-z_]+ message\.$/m,
  /^\(A [a-z_]+ message/m,
];

let stack: FixtureStack;
beforeAll(async () => {
  stack = await startFixtureStack();
}, 60_000);
afterAll(async () => {
  await stack?.close();
});

async function run(fixture: WebhookFixture) {
  const current = await stack.fresh();
  for (const body of fixtureBodies(fixture)) {
    const result = await stack.whatsapp.sendWebhook(body);
    expect(result.statuses, `${fixture.id}: the gateway's answer`).toEqual([200]);
  }
  await current.settle();
  const store = current.runtime.store as unknown as { db?: FixtureDb };
  return { current, db: store.db };
}

describe('recorded WhatsApp bodies, mirrored to Slack, Teams and HubSpot', () => {
  for (const fixture of fixtures) {
    it(`${fixture.id}: ${fixture.name}`, { timeout: 120_000 }, async () => {
      const sentBefore = stack.whatsapp.sentMessages().length;
      const { current, db } = await run(fixture);
      const { runtime, workspaceId } = current;
      if (!db) throw new Error('the fixture stack runs its store in this thread');
      // Jobs are counted as queued; here the worker has run them all.
      await expectStoreMatches(fixture, runtime.store, db, workspaceId, { skip: ['jobs'] });

      for (const [wamid, want] of Object.entries(fixture.mirror ?? {})) {
        const message = await runtime.store.getMessageByWamid(workspaceId, wamid);
        expect(message, `${fixture.id}: ${wamid} stored`).not.toBeNull();
        for (const target of TARGETS) {
          const shown = await current.shown(target, message?.id ?? '');
          if (process.env.WABRIDGE_FIXTURES_PRINT)
            process.stdout.write(`--- ${fixture.id} ${wamid} ${target}\n${shown}\n`);
          expect(shown, `${fixture.id}: ${wamid} in ${target}`).not.toBeNull();
          for (const text of [...(want[target] ?? []), ...(want.all ?? [])])
            expect(shown, `${fixture.id}: ${wamid} in ${target}`).toContain(text);
          for (const text of want.absent ?? [])
            expect(shown, `${fixture.id}: ${wamid} in ${target}`).not.toContain(text);
        }
      }

      const everything = current.everything();
      if (process.env.WABRIDGE_FIXTURES_PRINT && !fixture.mirror)
        process.stdout.write(`--- ${fixture.id}\n${everything.join('\n---\n')}\n`);
      for (const text of everything)
        for (const placeholder of PLACEHOLDERS) expect(text, fixture.id).not.toMatch(placeholder);
      expect(await runtime.store.listDeadJobs({ workspaceId }), `${fixture.id}: dead jobs`).toEqual([]);
      // One thread per conversation that has one, in each target with threads.
      const conversations = await runtime.store.listConversations(workspaceId);
      const threads = { slack: 0, teams: 0 };
      for (const conversation of conversations)
        for (const target of ['slack', 'teams'] as const)
          if (await runtime.store.getRef(workspaceId, target, 'conversation', conversation.id))
            threads[target] += 1;
      expect(current.roots(), `${fixture.id}: threads`).toEqual(threads);
      // Customers wrote, or the business wrote from its app: nothing is sent to WhatsApp.
      expect(stack.whatsapp.sentMessages().length - sentBefore, `${fixture.id}: sends`).toBe(0);
    });
  }
});
