import { isWabridgeError, type PaceRule, Pacer } from '@wabridge/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openPostgresStore, type PostgresStore } from './store.ts';
import { testDatabaseUrl } from './testing/index.ts';
import { openTestStore } from './testing/open.ts';

// Two stores on one schema, each with its own pool: two worker processes on one database. Intervals
// are a minute long, so whichever milliseconds the statements take, the answers are the same.

const MINUTE = 60_000;
const oneAMinute: PaceRule = { intervalMs: MINUTE, burst: 1, windowMs: null };
let a: PostgresStore;
let b: PostgresStore;

beforeEach(async () => {
  a = await openTestStore();
  b = await openPostgresStore({ url: testDatabaseUrl, schema: a.db.schema ?? undefined, poolSize: 4 });
});

afterEach(async () => {
  await b.close();
  await a.close();
});

/** A refused reservation's wait: a minute away, less the moments the statements took. */
const aboutAMinute = { granted: false, waitMs: expect.closeTo(MINUTE, -4) };

describe('the shared pace ledger', () => {
  it("gives a lane's slot to one process: the other is told how far away the next one is", async () => {
    expect(await a.paceLedger.reserve('slack/posts:T1/C1', oneAMinute, 0)).toEqual({
      granted: true,
      waitMs: 0,
    });
    const refused = await b.paceLedger.reserve('slack/posts:T1/C1', oneAMinute, 0);
    expect(refused).toEqual(aboutAMinute);
    expect(refused.waitMs).toBeGreaterThan(MINUTE - 5000);
    expect(refused.waitMs).toBeLessThanOrEqual(MINUTE);
    // Other lanes are independent.
    expect((await b.paceLedger.reserve('slack/posts:T1/C2', oneAMinute, 0)).granted).toBe(true);
    // Waiting is allowed up to maxWaitMs: then the slot after is reserved, and the next is further.
    expect(await b.paceLedger.reserve('slack/posts:T1/C1', oneAMinute, 2 * MINUTE)).toEqual({
      granted: true,
      waitMs: expect.closeTo(MINUTE, -4),
    });
    const third = await a.paceLedger.reserve('slack/posts:T1/C1', oneAMinute, 0);
    expect(third.granted).toBe(false);
    expect(third.waitMs).toBeGreaterThan(2 * MINUTE - 5000);
  });

  it('allows a rested lane its burst across processes, then refuses', async () => {
    const rule: PaceRule = { intervalMs: MINUTE, burst: 3, windowMs: null };
    for (const store of [a, b, a])
      expect((await store.paceLedger.reserve('hub', rule, 0)).granted).toBe(true);
    expect(await b.paceLedger.reserve('hub', rule, 0)).toEqual(aboutAMinute);
  });

  it('counts the window shape across processes: `burst` calls per window, never more', async () => {
    const rule: PaceRule = { intervalMs: MINUTE / 2, burst: 2, windowMs: MINUTE };
    expect((await a.paceLedger.reserve('graph', rule, 0)).granted).toBe(true);
    expect((await b.paceLedger.reserve('graph', rule, 0)).granted).toBe(true);
    expect(await a.paceLedger.reserve('graph', rule, 0)).toEqual(aboutAMinute);
  });

  it("shares a 429's Retry-After: the other process waits it out too", async () => {
    await a.paceLedger.block('slack/posts:T1/C1', oneAMinute, MINUTE);
    expect(await b.paceLedger.reserve('slack/posts:T1/C1', oneAMinute, 0)).toEqual(aboutAMinute);
    // The bucket is empty after the wait: a burst of 3 gets one slot at its end, then one per interval.
    const bursty: PaceRule = { intervalMs: MINUTE, burst: 3, windowMs: null };
    await b.paceLedger.block('hub', bursty, MINUTE);
    const first = await a.paceLedger.reserve('hub', bursty, 10 * MINUTE);
    const second = await a.paceLedger.reserve('hub', bursty, 10 * MINUTE);
    expect(first.waitMs).toBeGreaterThan(MINUTE - 5000);
    expect(second.waitMs - first.waitMs).toBeGreaterThan(MINUTE - 5000);
  });

  it('spaces the sends that really go out, whichever process sends', async () => {
    expect(await a.paceLedger.claimSend('slack/posts:T1/C1', MINUTE)).toBe(0);
    const wait = await b.paceLedger.claimSend('slack/posts:T1/C1', MINUTE);
    expect(wait).toBeGreaterThan(MINUTE - 5000);
    expect(wait).toBeLessThanOrEqual(MINUTE);
  });

  it('hands concurrent callers of two processes distinct consecutive slots', async () => {
    const grants = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        (i % 2 === 0 ? a : b).paceLedger.reserve('slack/posts:T1/C1', oneAMinute, 100 * MINUTE),
      ),
    );
    expect(grants.every((g) => g.granted)).toBe(true);
    const waits = grants.map((g) => g.waitMs).sort((x, y) => x - y);
    expect(waits[0]).toBe(0);
    // One slot a minute apart each: no two callers were given the same one.
    for (let i = 1; i < waits.length; i++)
      expect((waits[i] as number) - (waits[i - 1] as number)).toBeGreaterThan(MINUTE - 5000);
  });

  it("is what a Pacer uses when given it: one process's call holds back the other's", async () => {
    const pacer = (store: PostgresStore) =>
      new Pacer({
        label: 'Slack posts',
        ratePerSecond: 1 / 60,
        burst: 1,
        maxWaitMs: 0,
        ledger: store.paceLedger,
      });
    await pacer(a).acquire('C1');
    const refused = await pacer(b)
      .acquire('C1')
      .catch((error: unknown) => error);
    expect(isWabridgeError(refused) && refused.code).toBe('rate_limited');
    expect(await pacer(b).tryTake('C1')).toBeGreaterThan(MINUTE - 5000);
    await pacer(b).block('C2', MINUTE);
    expect(await pacer(a).tryTake('C2')).toBeGreaterThan(MINUTE - 5000);
  });
});
