/**
 * Helpers for this folder's tests: an emulator wired to a webhook recorder (the gateway's stand-in),
 * fast status delays and retries, and a tiny Cloud API client. Not exported from the package.
 */
import { type RecorderResponse, startWebhookRecorder, type WebhookRecorder } from '../shared/recorder.ts';
import { startWhatsAppEmulator, type WhatsAppEmulator } from './index.ts';
import type { StatusObject, WebhookPayload } from './payloads.ts';
import { DEFAULT_PHONE_NUMBERS, type WhatsAppEmulatorOptions } from './types.ts';

export const APP_SECRET = 'test-app-secret';
export const TOKEN = 'test-access-token';
export const PHONE = DEFAULT_PHONE_NUMBERS[0] ?? { phoneNumberId: '', displayPhoneNumber: '', wabaId: '' };

export interface ApiResponse {
  status: number;
  headers: Headers;
  // biome-ignore lint/suspicious/noExplicitAny: test convenience for reading JSON responses
  json: Record<string, any>;
}

export interface Harness extends AsyncDisposable {
  wa: WhatsAppEmulator;
  receiver: WebhookRecorder;
  /** POST /v23.0/{phone}/messages with the bearer token (or `token`). */
  send(body: unknown, options?: { token?: string | null; phoneNumberId?: string }): Promise<ApiResponse>;
  /** Any Cloud API call with the bearer token. */
  api(path: string, init?: RequestInit & { token?: string | null }): Promise<ApiResponse>;
  /** Parsed webhook bodies received so far. */
  payloads(): WebhookPayload[];
  /** Every status object received, in arrival order. */
  statuses(): StatusObject[];
}

export async function harness(
  options: Partial<WhatsAppEmulatorOptions> & { respond?: RecorderResponse } = {},
): Promise<Harness> {
  const { respond, ...emulatorOptions } = options;
  const receiver = await startWebhookRecorder(respond === undefined ? {} : { respond });
  const wa = await startWhatsAppEmulator({
    appSecret: APP_SECRET,
    accessToken: TOKEN,
    webhookUrl: `${receiver.url}/webhook`,
    statusDelaysMs: { sent: 1, delivered: 1, read: 1 },
    webhookRetry: { delaysMs: [10, 20, 40] },
    ...emulatorOptions,
  });
  const api = async (
    path: string,
    init: RequestInit & { token?: string | null } = {},
  ): Promise<ApiResponse> => {
    const { token, ...rest } = init;
    const headers = new Headers(rest.headers);
    if (token !== null) headers.set('authorization', `Bearer ${token ?? TOKEN}`);
    const response = await fetch(`${wa.url}${path}`, { ...rest, headers });
    const text = await response.text();
    let json: Record<string, unknown> = {};
    try {
      json = JSON.parse(text) as Record<string, unknown>;
    } catch {
      json = { text };
    }
    return { status: response.status, headers: response.headers, json };
  };
  const payloads = () => receiver.jsonBodies() as WebhookPayload[];
  return {
    wa,
    receiver,
    api,
    send: (body, sendOptions = {}) =>
      api(`/v23.0/${sendOptions.phoneNumberId ?? PHONE.phoneNumberId}/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        ...(sendOptions.token === undefined ? {} : { token: sendOptions.token }),
      }),
    payloads,
    statuses: () =>
      payloads().flatMap((p) =>
        (p.entry ?? []).flatMap((e) =>
          (e.changes ?? []).flatMap((c) => (c.value?.statuses as StatusObject[] | undefined) ?? []),
        ),
      ),
    async [Symbol.asyncDispose]() {
      await wa.close();
      await receiver.close();
    },
  };
}

/** A text send body. */
export const text = (to: string, body = 'hello', extra: Record<string, unknown> = {}) => ({
  messaging_product: 'whatsapp',
  recipient_type: 'individual',
  to,
  type: 'text',
  text: { body },
  ...extra,
});

/** The `hello_world` template send body. */
export const helloWorld = (to: string) => ({
  messaging_product: 'whatsapp',
  to,
  type: 'template',
  template: { name: 'hello_world', language: { code: 'en_US' } },
});
