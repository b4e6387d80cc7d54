/**
 * Delivers webhooks the way platforms do: a POST of fixed raw bytes, retried with back-off until the
 * receiver acknowledges, every attempt reported to the caller (who records it in its ledger).
 *
 * Platform-neutral on purpose: the WhatsApp emulator signs with `X-Hub-Signature-256`, the Slack
 * emulator will sign with `X-Slack-Signature` and add `X-Slack-Retry-Num` per attempt, the Graph
 * emulator posts change notifications. Each passes its own `headers(attempt)`.
 *
 * Semantics:
 * - The body is sent byte-for-byte identical on every attempt (receivers verify signatures on raw bytes).
 * - An attempt succeeds when `isSuccess(status)` (default: any 2xx); network errors and timeouts fail.
 * - After failed attempt n (1-based), the next one waits `retryDelaysMs[n-1]`; when the list is
 *   exhausted the delivery gives up (`outcome: 'gave_up'`).
 * - `close()` cancels pending retries and aborts requests in flight (`outcome: 'cancelled'`);
 *   `idle()` resolves when nothing is pending (useful before asserting on a ledger).
 *
 * @example
 *   const dispatcher = new WebhookDispatcher({ retryDelaysMs: [100, 400], onAttempt: (a) => ledger.record(...) });
 *   const delivery = dispatcher.deliver({ url, body, headers: () => ({ 'content-type': 'application/json' }) });
 *   await delivery.firstAttempt;   // the receiver has answered once
 *   await delivery.done;           // acknowledged, gave up, or cancelled
 */

export interface WebhookRequest {
  url: string;
  /** Raw bytes (or UTF-8 text) sent identically on every attempt. */
  body: string | Uint8Array;
  /** Headers for attempt n (1-based); called once per attempt. */
  headers: (attempt: number) => Record<string, string>;
  /** Caller's label, echoed in attempt reports (e.g. a message id and status). */
  label?: string;
  /** Overrides the dispatcher's retry schedule for this delivery (`[]` = a single attempt). */
  retryDelaysMs?: readonly number[];
  /** Called after every attempt of this delivery, after the dispatcher-wide `onAttempt`. */
  onAttempt?: (report: AttemptReport) => void;
}

export interface AttemptReport {
  deliveryId: number;
  label: string | undefined;
  url: string;
  attempt: number;
  /** HTTP status, or undefined on network error / timeout / cancellation. */
  status: number | undefined;
  ok: boolean;
  /** Network error or timeout message, when there was no response. */
  error: string | undefined;
  durationMs: number;
  /** First 2 KB of the response body, for debugging. */
  responseBody: string | undefined;
  /** Delay before the next attempt, or undefined when this was the last one. */
  nextRetryInMs: number | undefined;
}

export type DeliveryOutcome = 'acknowledged' | 'gave_up' | 'cancelled';

export interface DeliveryResult {
  deliveryId: number;
  outcome: DeliveryOutcome;
  attempts: AttemptReport[];
}

export interface Delivery {
  readonly id: number;
  /** Settles after the first attempt, whatever its result. */
  readonly firstAttempt: Promise<AttemptReport>;
  /** Settles when the delivery is acknowledged, gives up or is cancelled. Never rejects. */
  readonly done: Promise<DeliveryResult>;
}

export interface WebhookDispatcherOptions {
  /** Delays between attempts; its length + 1 is the maximum number of attempts. */
  retryDelaysMs?: readonly number[];
  /** Per-attempt timeout (default 10 s). */
  timeoutMs?: number;
  isSuccess?: (status: number) => boolean;
  /** Called after every attempt. Exceptions thrown here are swallowed. */
  onAttempt?: (report: AttemptReport) => void;
  fetch?: typeof fetch;
}

const DEFAULT_RETRY_DELAYS_MS = [250, 1000, 4000, 15_000, 60_000];

export class WebhookDispatcher {
  readonly #options: Required<Omit<WebhookDispatcherOptions, 'onAttempt'>> &
    Pick<WebhookDispatcherOptions, 'onAttempt'>;
  readonly #pending = new Set<Promise<DeliveryResult>>();
  readonly #timers = new Set<{ timer: NodeJS.Timeout; cancel: () => void }>();
  readonly #controllers = new Set<AbortController>();
  #nextId = 1;
  #closed = false;

  constructor(options: WebhookDispatcherOptions = {}) {
    this.#options = {
      retryDelaysMs: options.retryDelaysMs ?? DEFAULT_RETRY_DELAYS_MS,
      timeoutMs: options.timeoutMs ?? 10_000,
      isSuccess: options.isSuccess ?? ((status) => status >= 200 && status < 300),
      onAttempt: options.onAttempt,
      fetch: options.fetch ?? globalThis.fetch,
    };
  }

  /** Number of deliveries not yet finished. */
  get pending(): number {
    return this.#pending.size;
  }

  /** Starts delivering `request`; see `Delivery`. */
  deliver(request: WebhookRequest): Delivery {
    const id = this.#nextId++;
    let resolveFirst!: (report: AttemptReport) => void;
    const firstAttempt = new Promise<AttemptReport>((resolve) => {
      resolveFirst = resolve;
    });
    const done = this.#run(id, request, resolveFirst);
    this.#pending.add(done);
    void done.finally(() => this.#pending.delete(done));
    return { id, firstAttempt, done };
  }

  /** Resolves when every delivery started so far (and any started meanwhile) has finished. */
  async idle(): Promise<void> {
    while (this.#pending.size > 0) await Promise.all(this.#pending);
  }

  /** Cancels retries and in-flight requests; later `deliver` calls are cancelled at once. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const entry of this.#timers) {
      clearTimeout(entry.timer);
      entry.cancel();
    }
    this.#timers.clear();
    for (const controller of this.#controllers) controller.abort(new Error('dispatcher closed'));
    await Promise.all(this.#pending);
  }

  async #run(
    deliveryId: number,
    request: WebhookRequest,
    resolveFirst: (report: AttemptReport) => void,
  ): Promise<DeliveryResult> {
    const attempts: AttemptReport[] = [];
    // One copy for every attempt: fetch wants an ArrayBuffer-backed view, and the bytes must not change.
    const body = typeof request.body === 'string' ? request.body : new Uint8Array(request.body);
    const delays = request.retryDelaysMs ?? this.#options.retryDelaysMs;
    for (let attempt = 1; ; attempt++) {
      if (this.#closed) {
        const report = this.#report(deliveryId, request, attempt, { error: 'cancelled' }, 0, undefined);
        if (attempt === 1) resolveFirst(report);
        return { deliveryId, outcome: 'cancelled', attempts };
      }
      const report = await this.#attempt(deliveryId, request, body, attempt, delays[attempt - 1]);
      attempts.push(report);
      if (attempt === 1) resolveFirst(report);
      for (const listener of [this.#options.onAttempt, request.onAttempt]) {
        try {
          listener?.(report);
        } catch {
          // Reporting must not break delivery.
        }
      }
      if (report.ok) return { deliveryId, outcome: 'acknowledged', attempts };
      if (report.nextRetryInMs === undefined) {
        return { deliveryId, outcome: this.#closed ? 'cancelled' : 'gave_up', attempts };
      }
      const waited = await this.#sleep(report.nextRetryInMs);
      if (!waited) return { deliveryId, outcome: 'cancelled', attempts };
    }
  }

  async #attempt(
    deliveryId: number,
    request: WebhookRequest,
    body: string | Uint8Array<ArrayBuffer>,
    attempt: number,
    nextDelay: number | undefined,
  ): Promise<AttemptReport> {
    const controller = new AbortController();
    this.#controllers.add(controller);
    const timeout = setTimeout(
      () => controller.abort(new Error(`timed out after ${this.#options.timeoutMs} ms`)),
      this.#options.timeoutMs,
    );
    const started = performance.now();
    try {
      const response = await this.#options.fetch(request.url, {
        method: 'POST',
        headers: request.headers(attempt),
        body,
        signal: controller.signal,
      });
      const text = await response.text().catch(() => '');
      const ok = this.#options.isSuccess(response.status);
      return this.#report(
        deliveryId,
        request,
        attempt,
        { status: response.status, ok, responseBody: text.slice(0, 2048) },
        performance.now() - started,
        ok || this.#closed ? undefined : nextDelay,
      );
    } catch (error) {
      const reason = controller.signal.aborted ? controller.signal.reason : error;
      const message = reason instanceof Error ? reason.message : String(reason);
      return this.#report(
        deliveryId,
        request,
        attempt,
        { error: message },
        performance.now() - started,
        this.#closed ? undefined : nextDelay,
      );
    } finally {
      clearTimeout(timeout);
      this.#controllers.delete(controller);
    }
  }

  #report(
    deliveryId: number,
    request: WebhookRequest,
    attempt: number,
    result: { status?: number; ok?: boolean; error?: string; responseBody?: string },
    durationMs: number,
    nextRetryInMs: number | undefined,
  ): AttemptReport {
    return {
      deliveryId,
      label: request.label,
      url: request.url,
      attempt,
      status: result.status,
      ok: result.ok ?? false,
      error: result.error,
      durationMs: Math.round(durationMs * 10) / 10,
      responseBody: result.responseBody,
      nextRetryInMs,
    };
  }

  /** Resolves true after `ms`, or false if the dispatcher is closed first. */
  #sleep(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const entry = {
        timer: setTimeout(() => {
          this.#timers.delete(entry);
          resolve(true);
        }, ms),
        cancel: () => resolve(false),
      };
      this.#timers.add(entry);
    });
  }
}
