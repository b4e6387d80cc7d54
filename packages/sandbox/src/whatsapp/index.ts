/**
 * WhatsApp Cloud API emulator over real HTTP.
 *
 *   const wa = await startWhatsAppEmulator({ appSecret, accessToken, webhookUrl: gateway.webhookUrl });
 *   // point the gateway's Cloud API client at wa.baseUrl (host) / wa.apiUrl (host + version)
 *   const alice = wa.customer({ waId: '16505551234', name: 'Alice' });
 *   await alice.sendText('Hello');                        // signed webhook → gateway
 *   await wa.ledger.waitFor('send.accepted');             // the gateway replied through the Cloud API
 *   await wa.close();
 *
 * Routes: the Cloud API (`api.ts`) and a control API under `/_sandbox/whatsapp` (`control.ts`).
 * Behaviour is documented in the sandbox README.
 */
import { Hono } from 'hono';
import type { Clock } from '../shared/clock.ts';
import type { Ledger } from '../shared/ledger.ts';
import type { OpenApiSpec } from '../shared/openapi.ts';
import { startServer } from '../shared/server.ts';
import { createCloudApi, unknownPath } from './api.ts';
import { CONTROL_PREFIX, createControlApi } from './control.ts';
import { type WebhookOptions, type WebhookSendResult, WhatsAppCore } from './core.ts';
import { type Customer, type CustomerOptions, createCustomer } from './customer.ts';
import { attachCore } from './internal.ts';
import type { OutboundRecord } from './state.ts';
import type { ResolvedTemplate, WhatsAppTemplate } from './templates.ts';
import type {
  FailNextOptions,
  WhatsAppEmulatorOptions,
  WhatsAppEvent,
  WhatsAppPhoneNumber,
  WhatsAppRules,
  WhatsAppRulesInput,
} from './types.ts';
import { metaJson } from './wire.ts';

export interface WhatsAppEmulator {
  /** Root URL of the emulator, e.g. `http://127.0.0.1:54321`. */
  readonly url: string;
  /** Base URL for a Cloud API client, in place of `https://graph.facebook.com` (same as `url`). */
  readonly baseUrl: string;
  /** `baseUrl` + default version, e.g. `http://127.0.0.1:54321/v23.0`. */
  readonly apiUrl: string;
  /** Control API root (`url` + `/_sandbox/whatsapp`). */
  readonly controlUrl: string;
  /** Every effect the emulator performed or observed. */
  readonly ledger: Ledger<WhatsAppEvent>;
  /** The emulator's clock (see `advanceTime`). */
  readonly clock: Clock;
  /** The patched Meta spec the emulator validates against. */
  readonly spec: OpenApiSpec;
  readonly phoneNumbers: readonly WhatsAppPhoneNumber[];
  /** Current rules (a copy; change them with `configure`). */
  readonly rules: WhatsAppRules;
  /** A simulated user writing to a business number (see `createCustomer`). */
  customer(options: CustomerOptions): Customer;
  /** Where webhooks go (the gateway's callback URL). */
  setWebhookUrl(url: string): void;
  /** Replaces the accepted bearer token (old tokens then get 401 / code 190). */
  setAccessToken(token: string): void;
  /** Fails the next send(s) with a Meta error, e.g. `failNext({ code: 131000, count: 2 })`. */
  failNext(options: FailNextOptions): void;
  /** Moves the emulator clock forward; returns the new now (epoch ms). */
  advanceTime(ms: number): number;
  /** Changes rules at run time, e.g. `configure({ pairRate: { enabled: false } })`. */
  configure(rules: WhatsAppRulesInput): WhatsAppRules;
  /** Adds or replaces an approved template. */
  addTemplate(template: WhatsAppTemplate): ResolvedTemplate;
  /** POSTs a hand-built payload (object, or exact raw string) signed like Meta; its messages count as inbound. */
  sendWebhook(payload: unknown, options?: WebhookOptions): Promise<WebhookSendResult>;
  /** Meta's GET verification handshake against the webhook URL. */
  verifyWebhook(verifyToken?: string): Promise<{ ok: boolean; status: number | undefined; body: string }>;
  /** Business messages accepted so far, oldest first. */
  sentMessages(): OutboundRecord[];
  /** Resolves when no status webhook, delivery or retry is pending. */
  idle(): Promise<void>;
  /** Stops timers and retries and frees the port. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Starts the WhatsApp Cloud API emulator on 127.0.0.1 (ephemeral port unless `port` is given). */
export async function startWhatsAppEmulator(options: WhatsAppEmulatorOptions): Promise<WhatsAppEmulator> {
  const core = new WhatsAppCore(options);
  const app = new Hono();
  const handle = {} as WhatsAppEmulator;
  app.route(CONTROL_PREFIX, createControlApi(core, handle));
  app.route('/', createCloudApi(core));
  app.notFound((c) =>
    c.req.path.startsWith(CONTROL_PREFIX)
      ? c.json({ error: { message: `no control route ${c.req.method} ${c.req.path}` } }, 404)
      : unknownPath(c),
  );
  const server = await startServer(app, {
    ...(core.port === undefined ? {} : { port: core.port }),
    ...(core.hostname === undefined ? {} : { hostname: core.hostname }),
  });
  core.baseUrl = server.url;

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= core.close().then(() => server.close());
    return closing;
  };
  Object.assign(handle, {
    url: server.url,
    baseUrl: server.url,
    apiUrl: `${server.url}/${core.apiVersion}`,
    controlUrl: `${server.url}${CONTROL_PREFIX}`,
    ledger: core.ledger,
    clock: core.clock,
    spec: core.spec,
    phoneNumbers: [...core.phoneNumbers.values()],
    customer: (customerOptions: CustomerOptions) => createCustomer(handle, customerOptions),
    setWebhookUrl: (url: string) => {
      core.webhookUrl = new URL(url).toString();
    },
    setAccessToken: (token: string) => {
      if (token === '') throw new TypeError('access token must not be empty');
      core.accessToken = token;
    },
    failNext: (failure: FailNextOptions) => core.armFailNext(failure),
    advanceTime: (ms: number) => core.advanceTime(ms),
    configure: (rules: WhatsAppRulesInput) => core.configure(rules),
    addTemplate: (template: WhatsAppTemplate) => core.templates.add(template),
    sendWebhook: (payload: unknown, webhookOptions: WebhookOptions = {}) => {
      const raw = typeof payload === 'string' ? payload : metaJson(payload);
      core.learnFromPayload(typeof payload === 'string' ? parseOrUndefined(payload) : payload);
      return core.sendWebhook('raw', raw, webhookOptions);
    },
    verifyWebhook: (verifyToken?: string) => core.verifyWebhook(verifyToken),
    sentMessages: () => [...core.directory.outbound.values()],
    idle: () => core.idle(),
    close,
    [Symbol.asyncDispose]: close,
  });
  Object.defineProperty(handle, 'rules', { get: () => core.rules, enumerable: true });
  attachCore(handle, core);
  return handle;
}

function parseOrUndefined(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
