import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGraphEmulator } from '../graph/index.ts';
import { startHubSpotEmulator } from '../hubspot/index.ts';
import { startWebhookRecorder, type WebhookRecorder } from '../shared/recorder.ts';
import { startSlackEmulator } from '../slack/index.ts';
import { startWhatsAppEmulator } from '../whatsapp/index.ts';
import { verifyWebhookSignature } from '../whatsapp/wire.ts';
import { type ConsoleState, type SandboxConsole, startSandboxConsole, textOf } from './index.ts';

/**
 * The console over real HTTP, in front of real emulators. A webhook recorder stands in for the
 * bridge: what the console makes people do must reach it as the platforms' own signed callbacks.
 */
const CUSTOMER = { waId: '447700900123', name: 'Ada Lovelace' };
const APP_SECRET = 'console-app-secret';

let recorder: WebhookRecorder;
let wa: Awaited<ReturnType<typeof startWhatsAppEmulator>>;
let slack: Awaited<ReturnType<typeof startSlackEmulator>>;
let hubspot: Awaited<ReturnType<typeof startHubSpotEmulator>>;
let graph: Awaited<ReturnType<typeof startGraphEmulator>>;
let console_: SandboxConsole;
let contactId: string;

const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${console_.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
const state = async (): Promise<ConsoleState> => (await fetch(`${console_.url}/api/state`)).json() as never;

beforeAll(async () => {
  recorder = await startWebhookRecorder();
  wa = await startWhatsAppEmulator({
    appSecret: APP_SECRET,
    accessToken: 'console-token',
    webhookUrl: `${recorder.url}/whatsapp`,
    statusDelaysMs: { sent: 5, delivered: 10, read: 20 },
  });
  slack = await startSlackEmulator({
    signingSecret: 'console-signing',
    botToken: 'xoxb-console',
    eventsUrl: `${recorder.url}/slack/events`,
  });
  hubspot = await startHubSpotEmulator({
    accessToken: 'console-hubspot',
    clientSecret: 'console-client-secret',
    webhookUrl: `${recorder.url}/hubspot`,
    subscriptions: [{ eventType: 'contact.propertyChange', propertyName: 'email' }],
  });
  contactId = hubspot.seedContact({ firstname: 'Ada', lastname: 'Lovelace', phone: '+44 7700 900123' });
  graph = await startGraphEmulator();
  console_ = await startSandboxConsole({
    whatsapp: wa,
    slack,
    hubspot,
    graph,
    customer: CUSTOMER,
    slackAgent: { id: 'U0GRACE001', name: 'Grace Hopper' },
    // A property every contact has: the emulator refuses unknown ones, and consent is wabridge's.
    consentProperty: 'email',
    consentOptions: ['ada@example.com', 'lovelace@example.com'],
    hubspotUserId: 31337,
  });
});

afterAll(async () => {
  await console_?.close();
  await Promise.all([wa?.close(), slack?.close(), hubspot?.close(), graph?.close()]);
  await recorder?.close();
});

describe('sandbox console', () => {
  it('serves its page under a CSP that allows no inline script or foreign origin', async () => {
    const page = await fetch(`${console_.url}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    const csp = page.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("default-src 'none'");
    expect(await page.text()).toContain('<script src="/console.js" defer></script>');
    expect((await fetch(`${console_.url}/console.js`)).headers.get('content-type')).toContain('javascript');
  });

  it('a customer message typed in the console reaches the bridge as a signed WhatsApp webhook and shows in the chat, as text', async () => {
    const before = recorder.requests.length;
    const hostile = 'Hi <img src=x onerror=alert(1)> & <script>alert(2)</script>';
    const response = await post('/api/whatsapp/messages', { type: 'text', text: hostile });
    expect(response.status).toBe(200);
    const { wamid } = (await response.json()) as { wamid: string };
    const webhook = recorder.requests.slice(before).find((r) => r.path === '/whatsapp');
    expect(webhook).toBeDefined();
    expect(
      verifyWebhookSignature(
        APP_SECRET,
        webhook?.bytes ?? new Uint8Array(),
        webhook?.headers['x-hub-signature-256'],
      ),
    ).toBe(true);
    expect(webhook?.text).toContain(wamid);
    const chat = (await state()).whatsapp;
    const shown = chat.messages.find((m) => m.id === wamid);
    expect(shown?.direction).toBe('in');
    expect(shown?.segments).toEqual([{ t: 'text', v: hostile }]);
    expect(chat.windowOpen).toBe(true);
  });

  it('the photo and location buttons send real media and a location; the photo is served back as an image', async () => {
    await post('/api/whatsapp/messages', { type: 'image', caption: 'the label' });
    await post('/api/whatsapp/messages', { type: 'location' });
    const messages = (await state()).whatsapp.messages;
    const photo = messages.find((m) => m.type === 'image');
    expect(photo?.media?.mimeType).toBe('image/png');
    const bytes = await fetch(`${console_.url}${photo?.media?.url}`);
    expect(bytes.headers.get('content-type')).toBe('image/png');
    expect(
      Buffer.from(await bytes.arrayBuffer())
        .subarray(1, 4)
        .toString(),
    ).toBe('PNG');
    expect(messages.find((m) => m.type === 'location')?.location?.name).toBe('Home');
  });

  it('pushes a new state over Server-Sent Events when an emulator records something', async () => {
    const controller = new AbortController();
    const response = await fetch(`${console_.url}/api/events`, { signal: controller.signal });
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    const nextState = async (): Promise<ConsoleState> => {
      for (;;) {
        const end = buffer.indexOf('\n\n');
        if (end >= 0) {
          const frame = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = frame
            .split('\n')
            .filter((l) => l.startsWith('data:'))
            .map((l) => l.slice(5).trimStart())
            .join('\n');
          if (data) return JSON.parse(data) as ConsoleState;
          continue;
        }
        const { value, done } = await reader.read();
        if (done) throw new Error('stream ended');
        buffer += decoder.decode(value, { stream: true });
      }
    };
    const first = await nextState();
    await wa.customer(CUSTOMER).sendText('pushed live');
    let latest = first;
    while (!latest.whatsapp.messages.some((m) => textOf(m.segments) === 'pushed live'))
      latest = await nextState();
    expect(latest.whatsapp.messages.length).toBeGreaterThan(first.whatsapp.messages.length);
    controller.abort();
  });

  it('a Slack reply from the console is posted in the thread by the agent and sent to the app as a signed event', async () => {
    const root = await slack
      .agent({ id: 'U0OTHER001', name: 'Someone' })
      .post(slack.channels[0]?.id ?? '', 'a thread');
    const before = recorder.requests.length;
    const response = await post('/api/slack/replies', { threadTs: root.ts, text: 'On it & co, 1 < 2' });
    expect(response.status).toBe(200);
    const thread = (await state()).slack?.threads.find((t) => t.root.ts === root.ts);
    expect(thread?.replies.map((r) => [r.author, textOf(r.segments)])).toEqual([
      ['Grace Hopper', 'On it & co, 1 < 2'],
    ]);
    const event = recorder.requests.slice(before).find((r) => r.path === '/slack/events');
    expect(event?.headers['x-slack-signature']).toMatch(/^v0=/);
    expect(event?.text).toContain('On it');
  });

  it('a Teams reply from the console is written by the agent in the thread', async () => {
    const root = graph.agentPost({ text: 'a conversation' });
    const response = await post('/api/teams/replies', { rootId: root.id, text: 'Hello from Teams' });
    expect(response.status).toBe(200);
    const replies = graph.replies(root.id);
    expect(replies.map((r) => [r.postedBy, r.body.content])).toEqual([['human', 'Hello from Teams']]);
    const thread = (await state()).teams?.threads.find((t) => t.root.id === root.id);
    expect(thread?.replies.map((r) => textOf(r.segments))).toEqual(['Hello from Teams']);
  });

  it('the HubSpot control changes the contact as a CRM user, which sends the signed property-change webhook', async () => {
    const before = recorder.requests.length;
    const response = await post('/api/hubspot/consent', { contactId, value: 'lovelace@example.com' });
    expect(response.status).toBe(200);
    await hubspot.idle();
    expect(hubspot.contact(contactId)?.properties.email).toBe('lovelace@example.com');
    const webhook = recorder.requests.slice(before).find((r) => r.path === '/hubspot');
    expect(webhook?.headers['x-hubspot-signature-v3']).toBeTruthy();
    expect(JSON.parse(webhook?.text ?? '[]')).toMatchObject([
      {
        propertyName: 'email',
        propertyValue: 'lovelace@example.com',
        changeSource: 'CRM_UI',
        sourceId: 'userId:31337',
      },
    ]);
    const pane = (await state()).hubspot;
    expect(pane?.contact?.consent).toBe('lovelace@example.com');
    expect(pane?.contact?.consentHistory.at(-1)).toMatchObject({ value: 'lovelace@example.com' });
    expect((await post('/api/hubspot/consent', { contactId, value: 'anything' })).status).toBe(400);
  });

  it('refuses requests another web page could make: cross-origin posts and non-JSON bodies', async () => {
    const crossOrigin = await post(
      '/api/whatsapp/messages',
      { type: 'text', text: 'x' },
      { origin: 'https://evil.example' },
    );
    expect(crossOrigin.status).toBe(403);
    const form = await fetch(`${console_.url}/api/whatsapp/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'type=text&text=x',
    });
    expect(form.status).toBe(415);
    const sameOrigin = await post(
      '/api/whatsapp/messages',
      { type: 'text', text: 'ok' },
      { origin: console_.url },
    );
    expect(sameOrigin.status).toBe(200);
  });
});
