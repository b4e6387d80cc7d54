/**
 * The ledger: an append-only, in-memory record of every effect an emulator performs or observes.
 *
 * Tests count instead of trusting: "the gateway sent exactly one message to 15550001111",
 * "the status webhook was attempted three times", "nothing was posted to Slack twice". Every emulator
 * writes to a ledger, and several emulators may share one so the order across platforms is visible.
 *
 * Shape of an entry: `{ seq, at, platform, kind, ...data }`; `seq` grows by one per entry (1-based)
 * across the whole ledger, `at` is epoch ms from the ledger's clock (a controllable clock when the
 * emulator has one). Entries are frozen; nothing is ever removed.
 *
 * Typing: a ledger is generic over a discriminated union of events keyed by `kind`, so
 * `ledger.filter('send.accepted')` returns entries with that event's fields. A ledger shared by
 * several emulators is typed with the union of their event types (any `Ledger<X>` is assignable to
 * `Ledger<LedgerEvent>`, which is what emulators accept); filter by `platform` as well when two
 * platforms use the same kind name.
 *
 * @example
 *   const ledger = new Ledger<WhatsAppEvent>();
 *   const mark = ledger.mark();
 *   await gateway.doSomething();
 *   await ledger.waitFor('send.accepted', { count: 2, since: mark });
 *   expect(ledger.count('send.accepted', (e) => e.to === '15550001111')).toBe(1);
 */

/** What an emulator records: at least the platform and a kind; any other fields are its data. */
export interface LedgerEvent {
  platform: string;
  kind: string;
}

/** A recorded event: the event plus its sequence number and time. */
export type LedgerEntry<E extends LedgerEvent = LedgerEvent> = Readonly<E & { seq: number; at: number }>;

/** The entries of one kind. */
export type EntryOf<E extends LedgerEvent, K extends E['kind']> = LedgerEntry<Extract<E, { kind: K }>>;

/** A kind name, or a predicate over entries. */
export type LedgerQuery<E extends LedgerEvent> = E['kind'] | ((entry: LedgerEntry<E>) => boolean);

export interface WaitForOptions {
  /** How many matching entries to wait for (default 1). */
  count?: number;
  /** Give up after this many ms (default 5000) with a `LedgerTimeoutError`. */
  timeoutMs?: number;
  /** Only count entries with `seq > since` (take it from `ledger.mark()`). */
  since?: number;
}

/** Thrown by `waitFor`/`waitUntil` on timeout; the message lists what the ledger did see. */
export class LedgerTimeoutError extends Error {
  override readonly name = 'LedgerTimeoutError';
  readonly code = 'ledger_timeout';
  readonly retryable = false;
}

export interface LedgerOptions {
  /** Time source for `at` (default `Date.now`); pass an emulator's `clock.now`. */
  now?: () => number;
}

export class Ledger<E extends LedgerEvent = LedgerEvent> {
  readonly #entries: LedgerEntry<E>[] = [];
  // Type-erased so that a Ledger<X> is assignable to Ledger<LedgerEvent> (one ledger shared by
  // several emulators is passed where any ledger is accepted).
  readonly #listeners = new Set<(entry: LedgerEntry) => void>();
  readonly #now: () => number;

  constructor(options: LedgerOptions = {}) {
    this.#now = options.now ?? Date.now;
  }

  /** Appends an event and returns the frozen entry. Listeners run synchronously. */
  record<T extends E>(event: T): LedgerEntry<T> {
    const entry = Object.freeze({
      ...event,
      seq: this.#entries.length + 1,
      at: this.#now(),
    }) as LedgerEntry<T>;
    this.#entries.push(entry);
    for (const listener of this.#listeners) {
      try {
        listener(entry);
      } catch {
        // A faulty listener must not break the emulator that is recording.
      }
    }
    return entry;
  }

  /** Every entry, oldest first. */
  entries(): readonly LedgerEntry<E>[] {
    return this.#entries;
  }

  /** Number of entries so far. */
  get size(): number {
    return this.#entries.length;
  }

  /** The `seq` of the newest entry (0 when empty); pass it as `since` to look only at what follows. */
  mark(): number {
    return this.#entries.length;
  }

  /** Entries recorded after `seq` (see `mark()`). */
  since(seq: number): readonly LedgerEntry<E>[] {
    return this.#entries.slice(Math.max(0, seq));
  }

  /** Entries of a kind (optionally further filtered), or entries matching a predicate. */
  filter<K extends E['kind']>(kind: K, where?: (entry: EntryOf<E, K>) => boolean): EntryOf<E, K>[];
  filter(where: (entry: LedgerEntry<E>) => boolean): LedgerEntry<E>[];
  filter(query: LedgerQuery<E>, where?: (entry: never) => boolean): LedgerEntry<E>[] {
    return this.#entries.filter(matcher(query, where));
  }

  /** How many entries match (same arguments as `filter`). */
  count<K extends E['kind']>(kind: K, where?: (entry: EntryOf<E, K>) => boolean): number;
  count(where: (entry: LedgerEntry<E>) => boolean): number;
  count(query: LedgerQuery<E>, where?: (entry: never) => boolean): number {
    const match = matcher(query, where);
    let n = 0;
    for (const entry of this.#entries) if (match(entry)) n++;
    return n;
  }

  /** The newest matching entry, if any. */
  last<K extends E['kind']>(kind: K, where?: (entry: EntryOf<E, K>) => boolean): EntryOf<E, K> | undefined;
  last(where: (entry: LedgerEntry<E>) => boolean): LedgerEntry<E> | undefined;
  last(query: LedgerQuery<E>, where?: (entry: never) => boolean): LedgerEntry<E> | undefined {
    const match = matcher(query, where);
    for (let i = this.#entries.length - 1; i >= 0; i--) {
      const entry = this.#entries[i];
      if (entry !== undefined && match(entry)) return entry;
    }
    return undefined;
  }

  /**
   * Resolves with the first `count` matching entries once they exist (already recorded ones count),
   * or rejects with a `LedgerTimeoutError` after `timeoutMs`.
   */
  waitFor<K extends E['kind']>(
    kind: K,
    options?: WaitForOptions & { where?: (entry: EntryOf<E, K>) => boolean },
  ): Promise<EntryOf<E, K>[]>;
  waitFor(where: (entry: LedgerEntry<E>) => boolean, options?: WaitForOptions): Promise<LedgerEntry<E>[]>;
  waitFor(
    query: LedgerQuery<E>,
    options: WaitForOptions & { where?: (entry: never) => boolean } = {},
  ): Promise<LedgerEntry<E>[]> {
    const { count = 1, timeoutMs = 5000, since = 0 } = options;
    const match = matcher(query, options.where);
    const found = () => {
      const hits: LedgerEntry<E>[] = [];
      for (const entry of this.#entries) {
        if (entry.seq > since && match(entry)) hits.push(entry);
        if (hits.length >= count) break;
      }
      return hits;
    };
    const label =
      typeof query === 'string' ? `${count} × '${query}'` : `${count} entries matching a predicate`;
    return this.#waitWhile(
      () => {
        const hits = found();
        return hits.length >= count ? hits : undefined;
      },
      timeoutMs,
      label,
    );
  }

  /** Resolves once `condition(ledger)` is true (checked now and after every new entry). */
  waitUntil(condition: (ledger: this) => boolean, timeoutMs = 5000): Promise<void> {
    return this.#waitWhile(() => (condition(this) ? true : undefined), timeoutMs, 'a condition').then(
      () => {},
    );
  }

  /** Calls `listener` for every new entry; returns the unsubscribe function. */
  subscribe(listener: (entry: LedgerEntry<E>) => void): () => void {
    const erased = listener as (entry: LedgerEntry) => void;
    this.#listeners.add(erased);
    return () => this.#listeners.delete(erased);
  }

  toJSON(): readonly LedgerEntry<E>[] {
    return this.#entries;
  }

  #waitWhile<T>(check: () => T | undefined, timeoutMs: number, label: string): Promise<T> {
    const now = check();
    if (now !== undefined) return Promise.resolve(now);
    return new Promise<T>((resolve, reject) => {
      const unsubscribe = this.subscribe(() => {
        const result = check();
        if (result === undefined) return;
        clearTimeout(timer);
        unsubscribe();
        resolve(result);
      });
      const timer = setTimeout(() => {
        unsubscribe();
        const recent = this.#entries
          .slice(-10)
          .map((e) => `#${e.seq} ${e.platform}/${e.kind}`)
          .join(', ');
        reject(
          new LedgerTimeoutError(
            `Timed out after ${timeoutMs} ms waiting for ${label}; ledger has ${this.#entries.length} entries` +
              (recent ? ` (latest: ${recent})` : ''),
          ),
        );
      }, timeoutMs);
    });
  }
}

/** Predicate for a query. Module-level (not a private method) so that Ledger stays covariant in E. */
function matcher<E extends LedgerEvent>(
  query: LedgerQuery<E>,
  where?: (entry: never) => boolean,
): (entry: LedgerEntry<E>) => boolean {
  const extra = where as ((entry: LedgerEntry<E>) => boolean) | undefined;
  if (typeof query === 'function') return query;
  return (entry) => entry.kind === query && (extra === undefined || extra(entry));
}
