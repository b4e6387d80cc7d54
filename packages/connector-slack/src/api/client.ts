import { LogLevel, type Logger as SlackLogger, WebClient } from '@slack/web-api';
import { httpFetch, type Logger, type PaceLedger, Pacer, WabridgeError } from '@wabridge/core';
import type { SlackConfig } from '../config.ts';
import { downloadSlackFile, type FileDownloadPolicy, fileDownloadPolicy } from './download.ts';
import { translateSlackError } from './errors.ts';

/** How a call is paced: `post` = a message in a channel (≈1/s per channel), `tier3`/`tier4` = per method. */
export type Pace = { post: string; tier?: 'tier4' } | { tier: 'tier3' | 'tier4' } | null;

export interface BotIdentity {
  teamId: string;
  botUserId: string;
  botId: string | null;
}

/** Tier methods start with a small burst; the sustained rate leaves room for it inside Slack's minute. */
const TIER_BURST = 5;

/**
 * A method's allowance per minute is spread over this many seconds, not 60. Slack counts calls as
 * they arrive; ours leave on time but arrive a little early or late (the event loop, the network,
 * a pause of the receiver), and paced exactly at the limit any such drift puts one call too many
 * into some minute: a 20,000-message campaign's status updates met 244 × 429 on `chat.update` at
 * 6,000 a minute (`npm run bench:campaign`). Two seconds of drift allowed cost 3% of the rate.
 */
const TIER_WINDOW_SECONDS = 62;

/**
 * How long a delivery may sleep for its slot before the job is handed back to the queue. At least
 * a second whatever the rate: with a shorter wait (one interval, 5 ms at 200 posts/s) every job
 * but the next one was handed back, and they all came back together to be handed back again: a
 * 300-message campaign made 8,105 hand-backs, each a claim and a retry written to the store
 * (`npm run bench:campaign`). A second holds at most rate × 1 s jobs per key in worker slots.
 */
const MIN_PACING_WAIT_MS = 1000;

/**
 * The Slack Web API as the connector uses it: `@slack/web-api`'s WebClient with
 * - `rejectRateLimitedCalls: true`: on a 429 the SDK would otherwise pause its whole request queue
 *   (every channel of the workspace) for Retry-After and retry in place, holding worker slots for
 *   minutes; instead the 429 becomes `rate_limited` with Slack's Retry-After, the job waits in the
 *   durable queue, and only the limited channel or method is held back (`Pacer.block`);
 * - `retryConfig: { retries: 0 }`: retries belong to the queue (back-off, dead letters, order per
 *   conversation), not to a second hidden retry loop inside one delivery;
 * - a request timeout, so a hung connection fails the attempt instead of the job's lease;
 * - core's `httpFetch` instead of the global fetch: the same answers for a fraction of the CPU per
 *   call, over one keep-alive pool per origin (packages/core/src/http/fetch.ts);
 * and proactive pacing before Slack has to say no.
 */
export class SlackApi {
  readonly web: WebClient;
  readonly #posts: Pacer;
  readonly #tiers: Record<'tier3' | 'tier4', Pacer>;
  readonly #config: SlackConfig;
  readonly #downloads: FileDownloadPolicy;
  #identity: Promise<BotIdentity> | null = null;

  /** `pacing`: a ledger shared by the deployment's workers (`ConnectorDeps.pacing`), else this process's. */
  constructor(config: SlackConfig, logger: Logger, pacing?: PaceLedger) {
    this.#config = config;
    this.#downloads = fileDownloadPolicy(config.slackApiUrl);
    this.web = new WebClient(config.botToken, {
      slackApiUrl: config.slackApiUrl,
      rejectRateLimitedCalls: true,
      retryConfig: { retries: 0 },
      timeout: config.requestTimeoutMs,
      logger: sdkLogger(logger),
      fetch: httpFetch,
    });
    const postInterval = 1000 / config.postsPerSecondPerChannel + config.postSpacingMarginMs;
    this.#posts = new Pacer({
      label: 'Slack posts',
      ratePerSecond: config.postsPerSecondPerChannel,
      burst: 1,
      maxWaitMs: Math.max(postInterval, MIN_PACING_WAIT_MS),
      marginMs: config.postSpacingMarginMs,
      ledger: pacing,
      name: 'posts',
    });
    const tier = (perMinute: number) =>
      new Pacer({
        label: 'Slack calls',
        ratePerSecond: Math.max(perMinute - TIER_BURST, perMinute / 2) / TIER_WINDOW_SECONDS,
        burst: TIER_BURST,
        maxWaitMs: Math.min(2000, Math.max(MIN_PACING_WAIT_MS, 60_000 / perMinute)),
        ledger: pacing,
        name: 'tiers',
      });
    this.#tiers = { tier3: tier(config.tier3PerMinute), tier4: tier(config.tier4PerMinute) };
  }

  /**
   * Calls a Web API method, paced, with errors translated for the queue. `before` runs once the
   * pace allows the call and right before it is sent (to checkpoint a pending marker only when the
   * call is really about to happen).
   */
  async call<T = Record<string, unknown>>(
    method: string,
    args: Record<string, unknown>,
    options: { pace?: Pace; signal?: AbortSignal | undefined; before?: () => Promise<void> } = {},
  ): Promise<T & { ok: true }> {
    const { pace = null, signal } = options;
    const keys: { pacer: Pacer; key: string }[] = [];
    // Slack counts per workspace (team): the channel's posts, and each method's tier. Lanes are
    // named by it (by the organization for an org-wide install), so a shared ledger keeps
    // different installations apart.
    const team = this.#config.teamId ?? this.#config.enterpriseId;
    const postKey = pace && 'post' in pace ? `${team}/${pace.post}` : null;
    if (postKey) keys.push({ pacer: this.#posts, key: postKey });
    if (pace?.tier) keys.push({ pacer: this.#tiers[pace.tier], key: `${team}/${method}` });
    for (const { pacer, key } of keys) await pacer.acquire(key, signal);
    signal?.throwIfAborted();
    await options.before?.();
    if (postKey) await this.#posts.spaceSend(postKey, signal);
    try {
      return (await this.web.apiCall(method, args)) as T & { ok: true };
    } catch (error) {
      const translated = translateSlackError(error, method);
      if (translated.code === 'rate_limited') {
        for (const { pacer, key } of keys) await pacer.block(key, translated.retryAfterMs ?? 1000);
      }
      throw translated;
    }
  }

  /** The bot's identity (auth.test), learned once per instance (`fresh` asks again); checks the token's team. */
  identity(fresh = false): Promise<BotIdentity> {
    if (fresh) this.#identity = null;
    this.#identity ??= this.call<{ team_id: string; user_id: string; bot_id?: string }>('auth.test', {}).then(
      (auth) => {
        if (auth.team_id !== this.#config.teamId) {
          throw new WabridgeError(
            'config_invalid',
            `the Slack bot token belongs to team ${auth.team_id}, not the configured ${this.#config.teamId}`,
            { retryable: false },
          );
        }
        return { teamId: auth.team_id, botUserId: auth.user_id, botId: auth.bot_id ?? null };
      },
    );
    // A failed lookup (Slack down) is retried on the next call.
    this.#identity.catch(() => {
      this.#identity = null;
    });
    return this.#identity;
  }

  /**
   * Step 2 of the files v2 flow: POST the bytes to the `upload_url` Slack gave (the SDK's own
   * `filesUploadV2` does the same with fetch; we run the steps one by one to checkpoint between them).
   */
  async upload(url: string, bytes: Uint8Array, filename: string, signal?: AbortSignal): Promise<void> {
    let response: Response;
    try {
      const form = new FormData();
      form.append('file', new Blob([new Uint8Array(bytes)]), filename);
      response = await fetch(url, {
        method: 'POST',
        headers: { authorization: `Bearer ${this.#config.botToken}` },
        body: form,
        signal: timeoutSignal(this.#config.requestTimeoutMs, signal),
      });
      await response.arrayBuffer();
    } catch (error) {
      throw new WabridgeError('transient', 'uploading a file to Slack failed', {
        cause: error,
        details: { filename },
      });
    }
    if (!response.ok) {
      throw new WabridgeError(
        response.status >= 500 || response.status === 429 ? 'transient' : 'permanent',
        `Slack refused the file upload (HTTP ${response.status})`,
        {
          details: { filename, status: response.status },
        },
      );
    }
  }

  /**
   * Downloads a file an agent shared (`url_private_download`), with the bot token as Slack
   * requires, from Slack's file hosts only and within WhatsApp's size limit (see download.ts).
   */
  download(url: string, signal?: AbortSignal): Promise<Uint8Array> {
    return downloadSlackFile(
      url,
      this.#config.botToken,
      this.#downloads,
      timeoutSignal(this.#config.requestTimeoutMs * 6, signal),
    );
  }
}

function timeoutSignal(ms: number, signal?: AbortSignal): AbortSignal {
  const timeout = AbortSignal.timeout(ms);
  return signal ? AbortSignal.any([signal, timeout]) : timeout;
}

/** The SDK logs request bodies at debug level: only its warnings and errors reach our logger. */
function sdkLogger(logger: Logger): SlackLogger {
  let level = LogLevel.WARN;
  const join = (messages: unknown[]) =>
    messages.map((m) => (typeof m === 'string' ? m : String(m))).join(' ');
  return {
    debug: () => {},
    info: () => {},
    warn: (...messages: unknown[]) => logger.warn({ component: 'slack-web-api' }, join(messages)),
    error: (...messages: unknown[]) => logger.error({ component: 'slack-web-api' }, join(messages)),
    setLevel: (next: LogLevel) => {
      level = next;
    },
    getLevel: () => level,
    setName: () => {},
  };
}
