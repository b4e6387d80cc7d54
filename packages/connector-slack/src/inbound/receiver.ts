import type { App, Receiver } from '@slack/bolt';
import type { InboundContext, InboundResult } from '@wabridge/core';

/** One callback as the listeners see it, and what they leave for the answer. */
export interface CallbackScope {
  request: Request;
  ctx: InboundContext;
  /** The form of a slash command (Bolt hands listeners its fields, not the form). */
  form?: URLSearchParams;
  result: InboundResult | null;
  /** True once a listener started: an error after that is ours, before it is Bolt reading the body. */
  listened: boolean;
}

/** The name of the scope in Bolt's `context` (a custom property of the receiver event). */
export const SCOPE = 'wabridgeCallback';

/**
 * A Bolt receiver without a server: the gateway's Hono route owns the HTTP side (raw body, body
 * limit, signature), and hands each verified callback to `dispatch`. It runs Bolt the
 * `processBeforeResponse` way: the answer is built only after every listener has finished, so the
 * commands a listener found go back to the gateway with the answer, which records them durably
 * before the answer leaves (Bolt's own HTTP receivers would answer on `ack()` instead).
 * https://docs.slack.dev/tools/bolt-js/concepts/receiver
 */
export class HonoReceiver implements Receiver {
  #app: App | undefined;

  init(app: App): void {
    this.#app = app;
  }

  // The Hono server is the gateway's: nothing to start or stop here.
  start(): Promise<void> {
    return Promise.resolve();
  }
  stop(): Promise<void> {
    return Promise.resolve();
  }

  /**
   * Runs Bolt's middleware and listeners on a parsed callback body; the listeners leave their
   * answer in `scope.result` (null when none answered: another team, a callback nobody listens to).
   */
  async dispatch(
    body: Record<string, unknown>,
    retry: { num: number | undefined; reason: string | undefined },
    scope: CallbackScope,
  ): Promise<void> {
    if (!this.#app) throw new Error('HonoReceiver used before Bolt initialised it');
    await this.#app.processEvent({
      body,
      // The answer is the listener's result (below); acknowledging only marks it as taken.
      ack: async () => {},
      ...(retry.num !== undefined ? { retryNum: retry.num } : {}),
      ...(retry.reason !== undefined ? { retryReason: retry.reason } : {}),
      customProperties: { [SCOPE]: scope },
    });
  }
}
