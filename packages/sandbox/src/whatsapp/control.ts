/**
 * Control API of the WhatsApp emulator, for a browser console or another process (the demo, a
 * load generator). JSON in, JSON out, CORS open, no auth (the emulator binds 127.0.0.1).
 * `GET /_sandbox/whatsapp` lists the routes below.
 */
import { Hono } from 'hono';
import { cors } from 'hono/cors';
import { z } from 'zod';
import type { WhatsAppCore } from './core.ts';
import { type Customer, createCustomer } from './customer.ts';
import { META_ERRORS } from './errors.ts';
import { rulesInputSchema } from './types.ts';
import { metaJson } from './wire.ts';

export const CONTROL_PREFIX = '/_sandbox/whatsapp';

const ROUTES = [
  ['GET', '/', 'this listing'],
  ['GET', '/state', 'clock, webhook URL, rules, phone numbers, templates, error catalogue'],
  ['GET', '/ledger?kind=&since=', 'ledger entries (optionally one kind, after a seq)'],
  ['GET', '/customers', 'known users'],
  [
    'POST',
    '/customers',
    '{ waId? | userId?, name, username?, parentUserId?, phoneNumberId?, readsMessages? }',
  ],
  [
    'POST',
    '/customers/:id/messages',
    '{ type: text|image|video|audio|document|sticker|location|contacts|button_reply|list_reply|template_button|reaction|order|unsupported|request_welcome, …, timestamp?, deliveries?, concurrent? } → { wamid }',
  ],
  ['POST', '/customers/:id/marketing', '{ value: "stop" | "resume" }'],
  ['POST', '/customers/:id/read', '{ wamid } — the user reads a business message'],
  ['POST', '/customers/:id/change-number', '{ waId }'],
  ['POST', '/customers/:id/change-user-id', '{ userId, parentUserId? }'],
  ['GET', '/conversations', 'per (business number, user): window, last inbound, messages with statuses'],
  ['GET', '/conversations/:recipient', 'one user (phone number or BSUID)'],
  ['GET', '/media', 'media metadata'],
  [
    'POST',
    '/webhooks',
    '{ payload, deliveries?, concurrent?, signature?: valid|invalid|missing, retry? } — raw signed webhook',
  ],
  ['POST', '/fail-next', '{ code, httpStatus?, count?, recipient?, details?, asStatus? }'],
  ['POST', '/advance-time', '{ ms } → { now }'],
  ['POST', '/rules', 'partial rules → rules'],
  ['POST', '/webhook-url', '{ url }'],
  ['POST', '/verify-webhook', '{ verifyToken? } — GET handshake against the webhook URL'],
] as const;

const delivery = {
  timestamp: z.number().optional(),
  deliveries: z.number().int().min(1).max(100).optional(),
  concurrent: z.boolean().optional(),
};
const mediaFields = {
  ...delivery,
  dataBase64: z.string().optional(),
  mimeType: z.string().optional(),
  caption: z.string().optional(),
};

const messageSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('text'), text: z.string(), replyTo: z.string().optional(), ...delivery }),
  z.object({ type: z.literal('image'), ...mediaFields }),
  z.object({ type: z.literal('video'), ...mediaFields }),
  z.object({ type: z.literal('audio'), ...mediaFields, voice: z.boolean().optional() }),
  z.object({ type: z.literal('document'), ...mediaFields, filename: z.string().optional() }),
  z.object({ type: z.literal('sticker'), ...mediaFields, animated: z.boolean().optional() }),
  z.object({
    type: z.literal('location'),
    latitude: z.number(),
    longitude: z.number(),
    name: z.string().optional(),
    address: z.string().optional(),
    ...delivery,
  }),
  z.object({
    type: z.literal('contacts'),
    contacts: z.array(z.looseObject({ name: z.looseObject({ formatted_name: z.string() }) })),
    ...delivery,
  }),
  z.object({
    type: z.literal('button_reply'),
    messageId: z.string(),
    id: z.string(),
    title: z.string(),
    ...delivery,
  }),
  z.object({
    type: z.literal('list_reply'),
    messageId: z.string(),
    id: z.string(),
    title: z.string(),
    description: z.string().optional(),
    ...delivery,
  }),
  z.object({
    type: z.literal('template_button'),
    messageId: z.string(),
    payload: z.string(),
    text: z.string(),
    ...delivery,
  }),
  z.object({ type: z.literal('reaction'), messageId: z.string(), emoji: z.string().optional(), ...delivery }),
  z.object({
    type: z.literal('order'),
    catalogId: z.string(),
    text: z.string().optional(),
    items: z.array(
      z.object({
        productRetailerId: z.string(),
        quantity: z.number(),
        itemPrice: z.number(),
        currency: z.string(),
      }),
    ),
    ...delivery,
  }),
  z.object({ type: z.literal('unsupported'), unsupportedType: z.string().optional(), ...delivery }),
  z.object({ type: z.literal('request_welcome'), ...delivery }),
]);

const customerSchema = z.object({
  waId: z.string().optional(),
  userId: z.string().optional(),
  parentUserId: z.string().optional(),
  username: z.string().optional(),
  name: z.string().min(1),
  phoneNumberId: z.string().optional(),
  readsMessages: z.boolean().optional(),
});

const failNextSchema = z.object({
  code: z.number().int(),
  httpStatus: z.number().int().min(400).max(599).optional(),
  count: z.number().int().min(1).optional(),
  recipient: z.string().optional(),
  details: z.string().optional(),
  asStatus: z.boolean().optional(),
});

export function createControlApi(core: WhatsAppCore, handle: object): Hono {
  const app = new Hono();
  app.use('*', cors());
  app.onError((error, c) => {
    if (error instanceof z.ZodError) {
      return c.json({ error: { message: 'invalid request', issues: z.flattenError(error) } }, 400);
    }
    if (error instanceof TypeError || error instanceof SyntaxError) {
      return c.json({ error: { message: error.message } }, 400);
    }
    return c.json({ error: { message: error.message } }, 500);
  });
  app.notFound((c) => c.json({ error: { message: `no control route ${c.req.method} ${c.req.path}` } }, 404));

  const customerOf = (id: string): Customer => {
    const user = core.directory.find(decodeURIComponent(id));
    if (user === undefined)
      throw new TypeError(`no customer ${id}; create one with POST ${CONTROL_PREFIX}/customers`);
    return createCustomer(handle, {
      ...(user.waId === undefined ? {} : { waId: user.waId }),
      ...(user.userId === undefined ? {} : { userId: user.userId }),
      name: user.name,
    });
  };

  app.get('/', (c) =>
    c.json({
      emulator: 'whatsapp',
      cloudApi: core.baseUrl,
      routes: ROUTES.map(([method, path, description]) => ({
        method,
        path: `${CONTROL_PREFIX}${path}`,
        description,
      })),
    }),
  );

  app.get('/state', (c) =>
    c.json({
      now: core.clock.now(),
      clockOffsetMs: core.clock.offsetMs,
      webhookUrl: core.webhookUrl ?? null,
      // Meta apps without their secrets, and which apps each WABA's webhooks go to.
      apps: [...core.apps.values()].map((a) => ({
        appId: a.appId,
        name: a.name ?? null,
        webhookUrl: a.webhookUrl ?? null,
      })),
      subscriptions: Object.fromEntries(
        [...core.subscriptions].map(([waba, apps]) => [waba, [...apps.keys()]]),
      ),
      apiUrl: `${core.baseUrl}/${core.apiVersion}`,
      phoneNumbers: [...core.phoneNumbers.values()],
      rules: core.rules,
      statusDelaysMs: core.statusDelays,
      templates: core.templates.list().map((t) => core.templates.toGraph(t)),
      errors: Object.values(META_ERRORS),
    }),
  );

  app.get('/ledger', (c) => {
    const kind = c.req.query('kind');
    const since = Number(c.req.query('since') ?? 0) || 0;
    const entries = core.ledger.since(since).filter((e) => kind === undefined || e.kind === kind);
    return c.json({ size: core.ledger.size, entries });
  });

  app.get('/customers', (c) => c.json({ customers: [...core.directory.users.values()] }));

  app.post('/customers', async (c) => {
    const input = customerSchema.parse(await c.req.json());
    const customer = createCustomer(handle, {
      ...stripUndefined(input),
      name: input.name,
    });
    return c.json(describe(customer), 201);
  });

  app.post('/customers/:id/messages', async (c) => {
    const customer = customerOf(c.req.param('id'));
    const input = messageSchema.parse(await c.req.json());
    const options = stripUndefined({
      timestamp: input.timestamp,
      deliveries: input.deliveries,
      concurrent: input.concurrent,
    });
    const media = (i: { dataBase64?: string | undefined; mimeType?: string | undefined }) =>
      stripUndefined({
        bytes: i.dataBase64 === undefined ? undefined : new Uint8Array(Buffer.from(i.dataBase64, 'base64')),
        mimeType: i.mimeType,
      });
    let wamid: string;
    switch (input.type) {
      case 'text':
        wamid = await customer.sendText(input.text, {
          ...options,
          ...stripUndefined({ replyTo: input.replyTo }),
        });
        break;
      case 'image':
        wamid = await customer.sendImage(
          { ...media(input), ...stripUndefined({ caption: input.caption }) },
          options,
        );
        break;
      case 'video':
        wamid = await customer.sendVideo(
          { ...media(input), ...stripUndefined({ caption: input.caption }) },
          options,
        );
        break;
      case 'audio':
        wamid = await customer.sendAudio(
          { ...media(input), ...stripUndefined({ voice: input.voice }) },
          options,
        );
        break;
      case 'document':
        wamid = await customer.sendDocument(
          { ...media(input), ...stripUndefined({ caption: input.caption, filename: input.filename }) },
          options,
        );
        break;
      case 'sticker':
        wamid = await customer.sendSticker(
          { ...media(input), ...stripUndefined({ animated: input.animated }) },
          options,
        );
        break;
      case 'location':
        wamid = await customer.sendLocation(
          {
            latitude: input.latitude,
            longitude: input.longitude,
            ...stripUndefined({ name: input.name, address: input.address }),
          },
          options,
        );
        break;
      case 'contacts':
        wamid = await customer.sendContacts(input.contacts as never, options);
        break;
      case 'button_reply':
        wamid = await customer.replyWithButton(
          input.messageId,
          { id: input.id, title: input.title },
          options,
        );
        break;
      case 'list_reply':
        wamid = await customer.replyWithListItem(
          input.messageId,
          { id: input.id, title: input.title, ...stripUndefined({ description: input.description }) },
          options,
        );
        break;
      case 'template_button':
        wamid = await customer.tapTemplateButton(
          input.messageId,
          { payload: input.payload, text: input.text },
          options,
        );
        break;
      case 'reaction':
        wamid =
          input.emoji === undefined || input.emoji === ''
            ? await customer.removeReaction(input.messageId, options)
            : await customer.react(input.messageId, input.emoji, options);
        break;
      case 'order':
        wamid = await customer.sendOrder(
          { catalogId: input.catalogId, items: input.items, ...stripUndefined({ text: input.text }) },
          options,
        );
        break;
      case 'unsupported':
        wamid = await customer.sendUnsupported({
          ...options,
          ...stripUndefined({ type: input.unsupportedType }),
        });
        break;
      case 'request_welcome':
        wamid = await customer.requestWelcome(options);
        break;
    }
    return c.json({ wamid });
  });

  app.post('/customers/:id/marketing', async (c) => {
    const customer = customerOf(c.req.param('id'));
    const { value } = z.object({ value: z.enum(['stop', 'resume']) }).parse(await c.req.json());
    const result = value === 'stop' ? await customer.stopMarketing() : await customer.resumeMarketing();
    return c.json({ statuses: result.statuses });
  });

  app.post('/customers/:id/read', async (c) => {
    const customer = customerOf(c.req.param('id'));
    const { wamid } = z.object({ wamid: z.string() }).parse(await c.req.json());
    await customer.read(wamid);
    return c.json({ ok: true });
  });

  app.post('/customers/:id/change-number', async (c) => {
    const customer = customerOf(c.req.param('id'));
    const { waId } = z.object({ waId: z.string() }).parse(await c.req.json());
    return c.json({ wamid: await customer.changeNumber(waId) });
  });

  app.post('/customers/:id/change-user-id', async (c) => {
    const customer = customerOf(c.req.param('id'));
    const input = z
      .object({ userId: z.string(), parentUserId: z.string().optional() })
      .parse(await c.req.json());
    return c.json({
      wamid: await customer.changeUserId(input.userId, stripUndefined({ parentUserId: input.parentUserId })),
    });
  });

  app.get('/conversations', (c) =>
    c.json({ conversations: core.directory.conversations().map((conv) => conversationView(core, conv)) }),
  );

  app.get('/conversations/:recipient', (c) => {
    const user = core.directory.find(decodeURIComponent(c.req.param('recipient')));
    if (user === undefined) return c.json({ error: { message: 'unknown recipient' } }, 404);
    const conversations = core.directory.conversations().filter((conv) => conv.userKey === user.key);
    return c.json({ user, conversations: conversations.map((conv) => conversationView(core, conv)) });
  });

  app.get('/media', (c) =>
    c.json({
      media: core.media.all().map(({ bytes: _bytes, ...meta }) => meta),
    }),
  );

  app.post('/webhooks', async (c) => {
    const input = z
      .object({
        payload: z.unknown(),
        deliveries: z.number().int().min(1).max(100).optional(),
        concurrent: z.boolean().optional(),
        signature: z.enum(['valid', 'invalid', 'missing']).optional(),
        retry: z.boolean().optional(),
      })
      .parse(await c.req.json());
    const raw = typeof input.payload === 'string' ? input.payload : metaJson(input.payload);
    core.learnFromPayload(typeof input.payload === 'string' ? safeJson(input.payload) : input.payload);
    const result = await core.sendWebhook(
      'raw',
      raw,
      stripUndefined({
        deliveries: input.deliveries,
        concurrent: input.concurrent,
        signature: input.signature,
        retry: input.retry,
      }),
    );
    return c.json({ statuses: result.statuses, deliveryIds: result.deliveryIds });
  });

  app.post('/fail-next', async (c) => {
    const input = failNextSchema.parse(await c.req.json());
    core.armFailNext({ ...stripUndefined(input), code: input.code });
    return c.json({ ok: true });
  });

  app.post('/advance-time', async (c) => {
    const { ms } = z.object({ ms: z.number() }).parse(await c.req.json());
    return c.json({ now: core.advanceTime(ms) });
  });

  app.post('/rules', async (c) =>
    c.json({ rules: core.configure(rulesInputSchema.parse(await c.req.json())) }),
  );

  app.post('/webhook-url', async (c) => {
    const { url } = z.object({ url: z.url() }).parse(await c.req.json());
    core.webhookUrl = url;
    return c.json({ webhookUrl: url });
  });

  app.post('/verify-webhook', async (c) => {
    const { verifyToken } = z
      .object({ verifyToken: z.string().optional() })
      .parse(await c.req.json().catch(() => ({})));
    return c.json(await core.verifyWebhook(verifyToken));
  });

  return app;
}

function describe(customer: Customer) {
  return {
    id: customer.id,
    waId: customer.waId ?? null,
    userId: customer.userId ?? null,
    parentUserId: customer.parentUserId ?? null,
    username: customer.username ?? null,
    name: customer.name,
    phoneNumberId: customer.phoneNumberId,
  };
}

function conversationView(
  core: WhatsAppCore,
  conversation: ReturnType<WhatsAppCore['directory']['conversations']>[number],
) {
  const user = core.directory.users.get(conversation.userKey);
  return {
    phoneNumberId: conversation.phoneNumberId,
    recipient: user?.waId ?? user?.userId ?? null,
    waId: user?.waId ?? null,
    userId: user?.userId ?? null,
    name: user?.name ?? null,
    lastInboundAt: conversation.lastInboundAt ?? null,
    windowOpen: user === undefined ? false : core.windowOpen(conversation.phoneNumberId, user),
    messages: conversation.messages.map(({ direction, wamid }) => {
      if (direction === 'in') {
        const inbound = core.directory.inbound.get(wamid);
        return {
          direction,
          wamid,
          type: inbound?.type,
          sentAt: inbound?.sentAt,
          readAt: inbound?.readAt ?? null,
        };
      }
      const outbound = core.directory.outbound.get(wamid);
      return {
        direction,
        wamid,
        type: outbound?.type,
        acceptedAt: outbound?.acceptedAt,
        status: outbound?.status,
        statuses: outbound?.statuses,
      };
    }),
  };
}

function stripUndefined<T extends Record<string, unknown>>(
  value: T,
): { [K in keyof T]?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as {
    [K in keyof T]?: Exclude<T[K], undefined>;
  };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
