/**
 * A tiny HTTP receiver that records every request it gets, for testing emulators that call out
 * (webhooks, Graph notifications, Slack events) without the real gateway.
 *
 * Requests are kept with their exact raw bytes (to verify signatures) and written to a ledger, so
 * tests wait with `recorder.ledger.waitFor('request', { count: 3 })`. The response is programmable:
 * a status code, a Response, or a function of the request (e.g. answer 500 to the first two attempts).
 *
 * @example
 *   await using receiver = await startWebhookRecorder({ respond: (_req, n) => (n < 2 ? 500 : 200) });
 *   emulator.setWebhookUrl(receiver.url + '/webhook');
 */
import { Hono } from 'hono';
import { Ledger } from './ledger.ts';
import { type RunningServer, type StartServerOptions, startServer } from './server.ts';

export interface RecordedRequest {
  /** 0-based arrival order. */
  index: number;
  method: string;
  /** Path and query, e.g. `/webhook?hub.mode=subscribe`. */
  path: string;
  headers: Record<string, string>;
  /** The body exactly as received. */
  bytes: Uint8Array;
  /** The body decoded as UTF-8. */
  text: string;
  /** What the recorder answered. */
  status: number;
}

export type RecorderEvent = { platform: 'recorder'; kind: 'request' } & RecordedRequest;

/** How to answer: a status, a Response, or a function of the request and its arrival index. */
export type RecorderResponse =
  | number
  | Response
  | ((
      request: Omit<RecordedRequest, 'status'>,
      index: number,
    ) => number | Response | Promise<number | Response>);

export interface WebhookRecorder extends RunningServer {
  /** Every request, oldest first. */
  readonly requests: readonly RecordedRequest[];
  readonly ledger: Ledger<RecorderEvent>;
  /** Changes the answer for later requests. */
  respondWith(response: RecorderResponse): void;
  /** Parsed JSON bodies of the requests (those that parse). */
  jsonBodies(): unknown[];
}

/** Starts a recorder on 127.0.0.1 (default answer: 200 `OK`). */
export async function startWebhookRecorder(
  options: StartServerOptions & { respond?: RecorderResponse } = {},
): Promise<WebhookRecorder> {
  const ledger = new Ledger<RecorderEvent>();
  const requests: RecordedRequest[] = [];
  let respond: RecorderResponse = options.respond ?? 200;
  const app = new Hono();
  app.all('*', async (c) => {
    const bytes = new Uint8Array(await c.req.arrayBuffer());
    const url = new URL(c.req.url);
    const index = requests.length;
    const base = {
      index,
      method: c.req.method,
      path: `${url.pathname}${url.search}`,
      headers: Object.fromEntries(c.req.raw.headers.entries()),
      bytes,
      text: new TextDecoder().decode(bytes),
    };
    const answer = typeof respond === 'function' ? await respond(base, index) : respond;
    const response =
      typeof answer === 'number' ? new Response(answer < 300 ? 'OK' : 'error', { status: answer }) : answer;
    const recorded: RecordedRequest = { ...base, status: response.status };
    requests.push(recorded);
    ledger.record({ platform: 'recorder', kind: 'request', ...recorded });
    return response;
  });
  const server = await startServer(app, options);
  return {
    ...server,
    requests,
    ledger,
    respondWith(response) {
      respond = response;
    },
    jsonBodies() {
      return requests.flatMap((r) => {
        try {
          return [JSON.parse(r.text) as unknown];
        } catch {
          return [];
        }
      });
    },
  };
}
