/**
 * WhatsApp Cloud API emulator over real HTTP.
 *
 *   const wa = await startWhatsAppEmulator({ appSecret, accessToken, webhookUrl: gateway.webhookUrl });
 *   // Several Meta apps: numbers name their app and carry their own token; each app signs with its secret.
 *   //   apps: [{ appId: '2000000000000002', appSecret, webhookUrl }],
 *   //   phoneNumbers: [{ phoneNumberId, displayPhoneNumber, wabaId, appId: '2000000000000002', accessToken }]
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
  /** Where an app's webhooks go (the gateway's callback URL); the default app's unless `appId` is given. */
  setWebhookUrl(url: string, appId?: string): void;
  /** Replaces the default token (the old one then gets 401 / code 190). */
  setAccessToken(token: string): void;
  /** The Meta apps: the default one first. */
  readonly apps: readonly { appId: string; name: string | undefined; webhookUrl: string | undefined }[];
  /**
   * Adds a system-user token of an app (default the default app) with access to these WABAs, as
   * granting assets to a system user in Business Manager does.
   */
  addAccessToken(token: string, grant: { appId?: string; wabaIds: string[] }): void;
  /** App ids subscribed to a WABA's webhooks (what `GET /{waba-id}/subscribed_apps` lists). */
  subscribedApps(wabaId: string): string[];
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
  /** Meta's GET verification handshake against an app's webhook URL (default app by default). */
  verifyWebhook(
    verifyToken?: string,
    appId?: string,
  ): Promise<{ ok: boolean; status: number | undefined; body: string }>;
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
    setWebhookUrl: (url: string, appId?: string) => {
      core.setAppWebhookUrl(new URL(url).toString(), appId);
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
      const parsed = typeof payload === 'string' ? parseOrUndefined(payload) : payload;
      core.learnFromPayload(parsed);
      // A hand-built payload goes to the apps subscribed to the WABA it names (entry[0].id).
      const wabaId = (parsed as { entry?: { id?: unknown }[] } | undefined)?.entry?.[0]?.id;
      return core.sendWebhook('raw', raw, {
        ...(typeof wabaId === 'string' ? { wabaId } : {}),
        ...webhookOptions,
      });
    },
    verifyWebhook: (verifyToken?: string, appId?: string) => core.verifyWebhook(verifyToken, appId),
    addAccessToken: (token: string, grant: { appId?: string; wabaIds: string[] }) => {
      if (token === '') throw new TypeError('access token must not be empty');
      const appId = grant.appId ?? core.defaultAppId;
      if (!core.apps.has(appId)) throw new TypeError(`no Meta app ${appId} in the emulator`);
      const existing = core.tokens.get(token);
      if (existing && existing.appId !== appId) throw new TypeError('that token belongs to another app');
      core.tokens.set(token, { appId, wabaIds: new Set([...(existing?.wabaIds ?? []), ...grant.wabaIds]) });
    },
    subscribedApps: (wabaId: string) => [...(core.subscriptions.get(wabaId)?.keys() ?? [])],
    sentMessages: () => [...core.directory.outbound.values()],
    idle: () => core.idle(),
    close,
    [Symbol.asyncDispose]: close,
  });
  Object.defineProperty(handle, 'rules', { get: () => core.rules, enumerable: true });
  Object.defineProperty(handle, 'apps', {
    get: () =>
      [...core.apps.values()].map((a) => ({ appId: a.appId, name: a.name, webhookUrl: a.webhookUrl })),
    enumerable: true,
  });
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
