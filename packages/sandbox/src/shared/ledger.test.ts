import { describe, expect, it } from 'vitest';
import { Ledger, LedgerTimeoutError } from './ledger.ts';

type Event =
  | { platform: 'a'; kind: 'sent'; to: string }
  | { platform: 'a'; kind: 'failed'; code: number }
  | { platform: 'b'; kind: 'posted'; channel: string };

describe('Ledger', () => {
  it('numbers entries from 1 in recording order and stamps them with the injected clock', () => {
    let now = 1000;
    const ledger = new Ledger<Event>({ now: () => now });
    const first = ledger.record({ platform: 'a', kind: 'sent', to: 'x' });
    now = 2000;
    const second = ledger.record({ platform: 'b', kind: 'posted', channel: 'c' });
    expect([first.seq, first.at, second.seq, second.at]).toEqual([1, 1000, 2, 2000]);
    expect(ledger.size).toBe(2);
  });

  it('keeps entries immutable: recorded entries are frozen and data cannot override seq', () => {
    const ledger = new Ledger();
    const entry = ledger.record({ platform: 'a', kind: 'x', seq: 99 } as { platform: string; kind: string });
    expect(entry.seq).toBe(1);
    expect(Object.isFrozen(entry)).toBe(true);
  });

  it('filters and counts by kind with an optional predicate, or by predicate alone', () => {
    const ledger = new Ledger<Event>();
    ledger.record({ platform: 'a', kind: 'sent', to: 'x' });
    ledger.record({ platform: 'a', kind: 'sent', to: 'y' });
    ledger.record({ platform: 'a', kind: 'failed', code: 5 });
    expect(ledger.count('sent')).toBe(2);
    expect(ledger.filter('sent', (e) => e.to === 'y').map((e) => e.seq)).toEqual([2]);
    expect(ledger.count((e) => e.platform === 'a')).toBe(3);
    expect(ledger.last('sent')?.to).toBe('y');
    expect(ledger.last('posted')).toBeUndefined();
  });

  it('mark() and since() isolate what happened after a point', () => {
    const ledger = new Ledger<Event>();
    ledger.record({ platform: 'a', kind: 'sent', to: 'x' });
    const mark = ledger.mark();
    ledger.record({ platform: 'a', kind: 'sent', to: 'y' });
    expect(ledger.since(mark).map((e) => e.seq)).toEqual([2]);
  });

  it('waitFor resolves at once for entries already recorded', async () => {
    const ledger = new Ledger<Event>();
    ledger.record({ platform: 'a', kind: 'failed', code: 1 });
    await expect(ledger.waitFor('failed')).resolves.toHaveLength(1);
  });

  it('waitFor resolves when the requested count of matching entries arrives later', async () => {
    const ledger = new Ledger<Event>();
    const waiting = ledger.waitFor('sent', { count: 2, where: (e) => e.to !== 'skip' });
    ledger.record({ platform: 'a', kind: 'sent', to: 'one' });
    ledger.record({ platform: 'a', kind: 'sent', to: 'skip' });
    setTimeout(() => ledger.record({ platform: 'a', kind: 'sent', to: 'two' }), 5);
    const entries = await waiting;
    expect(entries.map((e) => e.to)).toEqual(['one', 'two']);
  });

  it('waitFor with since ignores entries before the mark', async () => {
    const ledger = new Ledger<Event>();
    ledger.record({ platform: 'a', kind: 'sent', to: 'old' });
    const since = ledger.mark();
    const waiting = ledger.waitFor('sent', { since });
    ledger.record({ platform: 'a', kind: 'sent', to: 'new' });
    expect((await waiting)[0]?.to).toBe('new');
  });

  it('waitFor rejects with a LedgerTimeoutError that lists the latest entries', async () => {
    const ledger = new Ledger<Event>();
    ledger.record({ platform: 'b', kind: 'posted', channel: 'c' });
    const error = await ledger.waitFor('sent', { timeoutMs: 20 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LedgerTimeoutError);
    expect(String((error as Error).message)).toContain('#1 b/posted');
  });

  it('waitUntil re-checks its condition after every entry', async () => {
    const ledger = new Ledger<Event>();
    const waiting = ledger.waitUntil((l) => l.count('failed') === 2, 1000);
    ledger.record({ platform: 'a', kind: 'failed', code: 1 });
    ledger.record({ platform: 'a', kind: 'failed', code: 2 });
    await expect(waiting).resolves.toBeUndefined();
  });

  it('a throwing subscriber does not stop recording', () => {
    const ledger = new Ledger<Event>();
    ledger.subscribe(() => {
      throw new Error('boom');
    });
    expect(() => ledger.record({ platform: 'a', kind: 'sent', to: 'x' })).not.toThrow();
    expect(ledger.size).toBe(1);
  });
});
