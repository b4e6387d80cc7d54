import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { z } from 'zod';
import type { ConnectorManifest, DeliveryContext } from '../connector/contract.ts';
import type { DomainCommand } from '../domain/commands.ts';
import type { DomainEvent } from '../domain/events.ts';
import { WabridgeError } from '../errors/index.ts';
import { httpFetch } from '../http/fetch.ts';

/**
 * A test connector and the "platform" it talks to, for proving queue and crash guarantees without
 * a real vendor. The platform is deliberately NOT idempotent (posting twice makes two effects),
 * like Slack or Teams; the connector gets exactly-once effects the way real connectors must: a
 * pending checkpoint before the call, and a lookup by key when a retry finds one.
 */
export interface LedgerEffect {
  id: string;
  key: string;
  conversation: string;
  thread: string;
  eventType: string;
  text: string | null;
  at: number;
}

export interface LedgerTarget {
  url: string;
  effects: LedgerEffect[];
  /** Fail the next `count` effect calls with this HTTP status (429 carries Retry-After: 1). */
  failNext(status: 429 | 503 | 400, count?: number): void;
  /** Fail each effect call with this probability (first attempts and retries alike). */
  failRandomly(probability: number): void;
  /** Refuse every call while set (an outage). */
  setDown(down: boolean): void;
  /** Fail (503) every effect call whose body matches, until cleared with null. */
  failWhere(predicate: ((body: Omit<LedgerEffect, 'id' | 'at'>) => boolean) | null): void;
  /** Answer each effect call this many ms late (a slow platform), so deliveries stay in flight. */
  setDelay(ms: number): void;
  close(): Promise<void>;
}

export async function startLedgerTarget(options: { port?: number } = {}): Promise<LedgerTarget> {
  const effects: LedgerEffect[] = [];
  const failures: number[] = [];
  let probability = 0;
  let down = false;
  let where: ((body: Omit<LedgerEffect, 'id' | 'at'>) => boolean) | null = null;
  let delayMs = 0;
  let seq = 0;
  const server: Server = createServer((req, res) => void handle(req, res));

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://ledger');
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(body));
    };
    if (down) return send(503, { error: 'down' });
    if (req.method === 'GET' && url.pathname === '/effects') {
      const key = url.searchParams.get('key');
      const conversation = url.searchParams.get('conversation');
      return send(
        200,
        effects.filter(
          (e) => (key ? e.key === key : true) && (conversation ? e.conversation === conversation : true),
        ),
      );
    }
    if (req.method === 'POST' && url.pathname === '/effects') {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Omit<LedgerEffect, 'id' | 'at'>;
      if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
      const failure = failures.shift() ?? (Math.random() < probability || where?.(body) ? 503 : undefined);
      if (failure === 429) return send(429, { error: 'rate_limited' }, { 'retry-after': '1' });
      if (failure) return send(failure, { error: failure === 400 ? 'invalid' : 'unavailable' });
      const effect = { ...body, id: `eff-${++seq}`, at: Date.now() };
      effects.push(effect);
      return send(201, effect);
    }
    send(404, { error: 'not_found' });
  }

  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    effects,
    failNext(status, count = 1) {
      for (let i = 0; i < count; i++) failures.push(status);
    },
    failRandomly(p) {
      probability = p;
    },
    setDown(value) {
      down = value;
    },
    failWhere(predicate) {
      where = predicate;
    },
    setDelay(ms) {
      delayMs = ms;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

const configSchema = z.object({ url: z.url(), secret: z.string().min(8) });
type LedgerConfig = z.infer<typeof configSchema>;

/** The test connector: one ledger "thread" per conversation, one effect per event. */
export const ledgerConnector: ConnectorManifest<LedgerConfig> = {
  id: 'ledger',
  displayName: 'Ledger (tests)',
  configSchema,
  secretFields: ['secret'],
  capabilities: {
    events: ['message.inbound', 'message.outbound', 'message.status', 'consent.changed', 'notice'],
    inbound: true,
  },
  create(config) {
    async function call(
      method: 'GET' | 'POST',
      path: string,
      body: unknown,
      signal: AbortSignal,
    ): Promise<unknown> {
      let response: Response;
      try {
        // Core's httpFetch, as the real connectors hand their SDKs: the benches measure what they pay.
        response = await httpFetch(`${config.url}${path}`, {
          method,
          signal,
          headers: { 'content-type': 'application/json' },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        });
      } catch (error) {
        throw new WabridgeError('transient', 'ledger unreachable', { cause: error });
      }
      if (response.status === 429) {
        throw new WabridgeError('rate_limited', 'ledger asked to slow down', {
          retryAfterMs: Number(response.headers.get('retry-after') ?? 1) * 1000,
        });
      }
      if (response.status >= 500) throw new WabridgeError('transient', `ledger answered ${response.status}`);
      if (!response.ok) throw new WabridgeError('permanent', `ledger refused the call (${response.status})`);
      return response.json();
    }

    async function deliver(event: DomainEvent, ctx: DeliveryContext) {
      const entityId = entityOf(event);
      const thread =
        (await ctx.refs.get('conversation', event.conversation.id))?.externalId ??
        `thread-${event.conversation.id}`;
      const existing = await ctx.refs.get('event', entityId);
      if (existing?.externalId.startsWith('pending:')) {
        // An earlier attempt may have made the effect and died before recording it: look first.
        const found = (await call(
          'GET',
          `/effects?key=${encodeURIComponent(ctx.idempotencyKey)}`,
          undefined,
          ctx.signal,
        )) as LedgerEffect[];
        if (found[0]) return { refs: refsFor(event, entityId, thread, found[0].id) };
      } else if (existing) {
        return { refs: [] };
      }
      await ctx.refs.checkpoint({ kind: 'event', entityId, externalId: `pending:${ctx.attempt}`, data: {} });
      const effect = (await call(
        'POST',
        '/effects',
        {
          key: ctx.idempotencyKey,
          conversation: event.conversation.id,
          thread,
          eventType: event.type,
          text: 'message' in event ? event.message.text : event.type === 'notice' ? event.notice.text : null,
        },
        ctx.signal,
      )) as LedgerEffect;
      return { refs: refsFor(event, entityId, thread, effect.id) };
    }

    return {
      deliver,
      inbound: {
        // Callbacks carry `x-ledger-signature: hex(hmac(secret, body))`; the body is a reply in a thread.
        async handle(_request, ctx) {
          const given = _request.headers.get('x-ledger-signature') ?? '';
          const expected = createHmac('sha256', config.secret).update(ctx.rawBody).digest('hex');
          if (
            given.length !== expected.length ||
            !timingSafeEqual(Buffer.from(given), Buffer.from(expected))
          ) {
            return { response: new Response('bad signature', { status: 401 }), commands: [] };
          }
          const body = JSON.parse(new TextDecoder().decode(ctx.rawBody)) as {
            id: string;
            thread: string;
            text: string;
            user: string;
          };
          const command: DomainCommand = {
            type: 'agent.reply',
            idempotencyKey: body.id,
            threadId: body.thread,
            messageId: body.id,
            agent: { id: body.user, name: body.user },
            text: body.text,
            attachments: [],
            mode: body.text.startsWith('//') ? 'note' : 'send',
          };
          return { response: new Response('ok'), commands: [command] };
        },
      },
    };
  },
};

function entityOf(event: DomainEvent): string {
  switch (event.type) {
    case 'message.inbound':
    case 'message.outbound':
      return event.message.id;
    case 'message.status':
      return event.status.id;
    case 'consent.changed':
      return event.change.id;
    case 'notice':
      return event.notice.id;
    default:
      return event.id;
  }
}

function refsFor(event: DomainEvent, entityId: string, thread: string, effectId: string) {
  const refs = [
    { kind: 'event', entityId, externalId: effectId, data: {} },
    { kind: 'conversation', entityId: event.conversation.id, externalId: thread, data: {} },
  ];
  if (event.type === 'message.inbound' || event.type === 'message.outbound') {
    refs.push({ kind: 'message', entityId: event.message.id, externalId: effectId, data: {} });
  }
  return refs;
}

/** Signs a ledger callback body like the ledger platform would. */
export function signLedgerCallback(secret: string, body: string): string {
  return createHmac('sha256', secret).update(body).digest('hex');
}
