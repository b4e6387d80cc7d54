import { createHash } from 'node:crypto';
import { fromHtml, fromSlackText, parcelPhoto, textOf } from '@wabridge/sandbox/console';
import { plainText } from '@wabridge/sandbox/graph';
import {
  buildReport,
  type Check,
  checkTarget,
  type DemoReport,
  type Expected,
  type Received,
} from './report.ts';
import { DEMO, type DemoStack } from './stack.ts';

/**
 * The scripted conversation of `wabridge demo --script`. Ada's parcel went astray: she writes on
 * WhatsApp (text, a photo of the label, her location), Grace answers from Slack and Alan from Teams,
 * Ada reacts 👍; a day passes and the 24-hour window closes, so Grace's follow-up is refused and she
 * sends an approved template instead, which Ada answers with its quick-reply button; Alan answers
 * from Teams; Ada sends STOP, and a later reply from Slack is refused; Ada phones in and a colleague
 * opts her back in, in HubSpot; Alan's last reply goes out again.
 *
 * Each step waits until every system has settled, like people taking turns, so the expected order
 * is the order of the story. At the end, what each emulator holds is compared with what it should
 * hold: every message once, in order, nothing else.
 */

const HOUR = 60 * 60 * 1000;

export const SCRIPT = {
  hello: "Hi! My order #1042 hasn't arrived yet, but the tracking page says “delivered” 🤔",
  photoCaption: 'This is the label on the box my neighbour received',
  location: { latitude: 51.5246, longitude: -0.0987, name: 'Home', address: '12 Babbage Row, London EC1' },
  graceFirst: 'Thanks Ada, I’m sorry about this. I’m checking with the courier right now.',
  alanFirst:
    'Courier confirmed: the parcel is back at their depot and goes out again tomorrow, 9–12, to your home address.',
  reaction: '👍',
  graceLate: 'Hi Ada, did the parcel arrive this morning?',
  template: { name: 'delivery_check', language: 'en_US', parameters: ['Ada', '#1042'] },
  templateText: 'Hi Ada, did your order #1042 arrive safely?',
  button: 'Yes, it arrived',
  alanSecond: 'Wonderful, enjoy it! Sorry again for the detour.',
  stop: 'STOP',
  graceRefused: 'Ada, would you rate our service from 1 to 5?',
  alanLast: 'Thanks for calling, Ada: you will get your delivery updates here again.',
} as const;

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
const snippet = (text: string, max = 60) => {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
};

interface SlackItem extends Received {
  /** A post, or the reactions a post carries (one item per post). */
  kind: 'message' | 'reactions';
  bot: boolean;
  body: string;
  files: string[];
  reactions: string[];
}

interface TeamsItem extends Received {
  kind: 'message' | 'reactions';
  human: boolean;
  body: string;
  reactions: string[];
}

const same = (a: readonly string[], b: readonly string[]) =>
  a.length === b.length && a.every((x, i) => x === b[i]);

interface WhatsAppItem extends Received {
  type: string;
  body: string;
  template: string | null;
}

interface HubSpotItem extends Received {
  direction: string;
  body: string;
}

export interface ScenarioOptions {
  /** Progress lines (the CLI prints them). */
  log?: (line: string) => void;
}

export async function runScenario(stack: DemoStack, options: ScenarioOptions = {}): Promise<DemoReport> {
  const log = options.log ?? (() => undefined);
  const started = Date.now();
  const { whatsapp, slack, graph, hubspot } = stack;
  const channel = DEMO.slack.channel.id;
  const ada = whatsapp.customer({ waId: DEMO.customer.waId, name: DEMO.customer.name });
  const grace = slack.agent(DEMO.slack.agent);
  const photo = parcelPhoto();
  const step = async (line: string, run: () => Promise<unknown>) => {
    const t0 = Date.now();
    await run();
    await stack.settle();
    log(`${line} (${Date.now() - t0} ms)`);
  };
  // Agents find the conversation the way people do: the thread in their channel about Ada.
  const slackThread = () => {
    const root = slack.history(channel).find((m) => m.bot && textOfSlack(m).includes(DEMO.customer.name));
    if (!root) throw new Error('no Slack thread for Ada');
    return { channel, threadTs: root.ts };
  };
  const teamsRoot = () => {
    const root = graph
      .roots(DEMO.teams.teamId, DEMO.teams.channelId)
      .find(
        (m) =>
          (m.subject ?? '').includes(DEMO.customer.name) || plainText(m.body).includes(DEMO.customer.name),
      );
    if (!root) throw new Error('no Teams thread for Ada');
    return root.id;
  };
  const alan = (text: string) =>
    graph.agentReply({
      rootId: teamsRoot(),
      text,
      agent: DEMO.teams.agent,
      teamId: DEMO.teams.teamId,
      channelId: DEMO.teams.channelId,
    });
  const sentTo = (match: (e: { type: string; text: string | undefined }) => boolean) => {
    const sent = whatsapp.ledger.filter('send.accepted', (e) => e.to === DEMO.customer.waId && match(e));
    const last = sent.at(-1);
    if (!last) throw new Error('the message was not sent to WhatsApp');
    return last.wamid;
  };

  await step('Ada writes on WhatsApp', () => ada.sendText(SCRIPT.hello));
  await step('Ada sends a photo of the label', () =>
    ada.sendImage({ bytes: photo, mimeType: 'image/png', caption: SCRIPT.photoCaption }),
  );
  await step('Ada shares her location', () => ada.sendLocation(SCRIPT.location));
  await step('Grace answers in the Slack thread', () => grace.reply(slackThread(), SCRIPT.graceFirst));
  await step('Alan answers in the Teams thread', async () => alan(SCRIPT.alanFirst));
  await step('Ada reacts 👍 to Alan’s message', () =>
    ada.react(
      sentTo((e) => e.text === SCRIPT.alanFirst),
      SCRIPT.reaction,
    ),
  );
  await step('A day passes: every clock moves 25 hours ahead', () => stack.advance(25 * HOUR));
  await step('Grace follows up from Slack: refused, the 24-hour window is closed', () =>
    grace.reply(slackThread(), SCRIPT.graceLate),
  );
  await step('Grace picks the delivery_check template in the notice and sends it', async () => {
    const thread = slack.thread(channel, slackThread().threadTs);
    const notice = thread.findLast((m) => m.bot && hasPicker(m.blocks));
    if (!notice) throw new Error('no template picker in the Slack thread');
    const mark = slack.ledger.mark();
    const picked = await grace.chooseOption(
      { channel, ts: notice.ts },
      'wabridge_template',
      `${SCRIPT.template.name}|${SCRIPT.template.language}|${SCRIPT.template.parameters.length}`,
    );
    const [opened] = await slack.ledger.waitFor('view.opened', {
      since: mark,
      timeoutMs: 5000,
      where: (e) => e.triggerId === picked.triggerId,
    });
    await grace.submitView(
      opened?.viewId ?? '',
      Object.fromEntries(SCRIPT.template.parameters.map((p, i) => [`param_${i + 1}`, p])),
    );
  });
  await step(`Ada taps “${SCRIPT.button}”`, () =>
    ada.tapTemplateButton(
      sentTo((e) => e.type === 'template'),
      { payload: SCRIPT.button, text: SCRIPT.button },
    ),
  );
  await step('Alan answers from Teams', async () => alan(SCRIPT.alanSecond));
  await step('Ada sends STOP', () => ada.sendText(SCRIPT.stop));
  await step('Grace asks for a rating from Slack: refused, Ada opted out', () =>
    grace.reply(slackThread(), SCRIPT.graceRefused),
  );
  await step('Ada phones in; a colleague opts her back in, in HubSpot', async () => {
    const contact = hubspot
      .contacts()
      .find((c) => (c.properties.phone ?? '').replace(/\D/g, '') === DEMO.customer.waId);
    if (!contact) throw new Error('no HubSpot contact for Ada');
    hubspot.updateContact(
      contact.id,
      { wabridge_whatsapp_consent: 'opted_in' },
      { userId: DEMO.hubspot.userId },
    );
  });
  await step('Alan answers from Teams again', async () => alan(SCRIPT.alanLast));

  return evaluate(stack, Date.now() - started);
}

// ---- What each system should hold ----------------------------------------------------------------

const has = (needle: string) => (item: { body: string }) => item.body.includes(needle);

function whatsappExpected(): Expected<WhatsAppItem>[] {
  const text = (label: string, body: string): Expected<WhatsAppItem> => ({
    label,
    match: (i) => i.type === 'text' && i.body === body,
  });
  return [
    text(`Grace's reply from Slack: "${snippet(SCRIPT.graceFirst, 40)}"`, SCRIPT.graceFirst),
    text(`Alan's reply from Teams: "${snippet(SCRIPT.alanFirst, 40)}"`, SCRIPT.alanFirst),
    {
      label: `template ${SCRIPT.template.name} (${SCRIPT.template.parameters.join(', ')})`,
      match: (i) => i.template === `${SCRIPT.template.name}:${SCRIPT.template.parameters.join('|')}`,
    },
    text(`Alan's second reply: "${snippet(SCRIPT.alanSecond, 40)}"`, SCRIPT.alanSecond),
    text(`Alan's reply after the opt-in: "${snippet(SCRIPT.alanLast, 40)}"`, SCRIPT.alanLast),
  ];
}

function slackExpected(photoSha: string): Expected<SlackItem>[] {
  const bot = (label: string, needle: string): Expected<SlackItem> => ({
    label,
    match: (i) => i.kind === 'message' && i.bot && i.body.includes(needle),
  });
  const agent = (label: string, body: string): Expected<SlackItem> => ({
    label,
    match: (i) => i.kind === 'message' && !i.bot && i.body === body,
  });
  // A reply's outcome is one reaction that moves along (✔️ → ✅ → 👀): only the last one is left.
  const reactions = (label: string, alternatives: string[][], on: string): Expected<SlackItem> => ({
    label,
    match: (i) =>
      i.kind === 'reactions' && i.body.includes(on) && alternatives.some((a) => same(a, i.reactions)),
  });
  return [
    bot('Ada: text', "#1042 hasn't arrived yet"),
    {
      label: 'Ada: the photo, re-hosted as a Slack file (same bytes)',
      match: (i) => i.kind === 'message' && i.bot && i.files.includes(photoSha),
    },
    bot('Ada: her location', `Location: ${SCRIPT.location.name}\nAddress: ${SCRIPT.location.address}`),
    agent('Grace: her reply', SCRIPT.graceFirst),
    reactions('Grace’s reply marked 👀 read', [['eyes']], SCRIPT.graceFirst),
    bot('Alan’s reply from Teams', SCRIPT.alanFirst),
    reactions('Ada’s 👍 on Alan’s reply', [['+1'], ['thumbsup']], SCRIPT.alanFirst),
    agent('Grace: her follow-up', SCRIPT.graceLate),
    reactions('Grace’s follow-up marked 🚫 not sent', [['no_entry_sign']], SCRIPT.graceLate),
    bot(
      'notice: window closed, with the template picker',
      'Not sent: the 24-hour customer service window closed',
    ),
    bot('the template, as sent', `Template ${SCRIPT.template.name}`),
    bot('Ada: tapped the quick reply', `Tapped “${SCRIPT.button}”`),
    bot('Alan’s second reply', SCRIPT.alanSecond),
    bot('Ada: STOP', SCRIPT.stop),
    bot('consent: Ada opted out (keyword)', 'opted out of all WhatsApp messages'),
    agent('Grace: her rating question', SCRIPT.graceRefused),
    reactions('Grace’s question marked 🚫 not sent', [['no_entry_sign']], SCRIPT.graceRefused),
    bot('notice: opted out', 'Not sent: Ada Lovelace opted out'),
    bot('consent: Ada opted back in (HubSpot)', 'opted back in'),
    bot('Alan’s reply after the opt-in', SCRIPT.alanLast),
  ];
}

function teamsExpected(): Expected<TeamsItem>[] {
  const bridge = (label: string, needle: string): Expected<TeamsItem> => ({
    label,
    match: (i) => i.kind === 'message' && !i.human && i.body.includes(needle),
  });
  const agent = (label: string, body: string): Expected<TeamsItem> => ({
    label,
    match: (i) => i.kind === 'message' && i.human && i.body === body,
  });
  // In Teams the service account's reactions add up: ✔️ sent, ✅ delivered, 👀 read.
  const progress = (label: string, on: string): Expected<TeamsItem> => ({
    label,
    match: (i) => i.kind === 'reactions' && i.body.includes(on) && same(i.reactions, ['✔️', '✅', '👀']),
  });
  return [
    bridge('Ada: text', "#1042 hasn't arrived yet"),
    bridge('Ada: the photo (link to the gateway’s signed media URL)', SCRIPT.photoCaption),
    bridge('Ada: her location', SCRIPT.location.address),
    bridge('Grace’s reply from Slack', SCRIPT.graceFirst),
    agent('Alan: his reply', SCRIPT.alanFirst),
    progress('Alan’s reply marked ✔️ sent, ✅ delivered, 👀 read', SCRIPT.alanFirst),
    bridge('Ada: reacted 👍 to Alan’s reply', 'Reacted 👍'),
    bridge('the template, as sent', `Template ${SCRIPT.template.name}`),
    bridge('Ada: tapped the quick reply', SCRIPT.button),
    agent('Alan: his second reply', SCRIPT.alanSecond),
    progress('Alan’s second reply marked ✔️ ✅ 👀', SCRIPT.alanSecond),
    bridge('Ada: STOP', SCRIPT.stop),
    bridge('consent: Ada opted out (keyword)', 'opted out'),
    bridge('consent: Ada opted back in (HubSpot)', 'opted back in'),
    agent('Alan: his reply after the opt-in', SCRIPT.alanLast),
    progress('Alan’s last reply marked ✔️ ✅ 👀', SCRIPT.alanLast),
  ];
}

function hubspotExpected(): Expected<HubSpotItem>[] {
  const entry = (
    label: string,
    direction: 'inbound' | 'outbound',
    needle: string,
  ): Expected<HubSpotItem> => ({
    label,
    match: (i) => i.direction === direction && has(needle)(i),
  });
  return [
    entry('received: Ada’s text', 'inbound', "#1042 hasn't arrived yet"),
    entry('received: the photo', 'inbound', SCRIPT.photoCaption),
    entry('received: the location', 'inbound', SCRIPT.location.address),
    entry('sent: Grace’s reply (via Slack)', 'outbound', SCRIPT.graceFirst),
    entry('sent: Alan’s reply (via Teams)', 'outbound', SCRIPT.alanFirst),
    entry('received: Ada’s 👍', 'inbound', SCRIPT.reaction),
    entry('sent: the template', 'outbound', SCRIPT.templateText),
    entry('received: the quick reply', 'inbound', SCRIPT.button),
    entry('sent: Alan’s second reply', 'outbound', SCRIPT.alanSecond),
    entry('received: STOP', 'inbound', SCRIPT.stop),
    entry('sent: Alan’s reply after the opt-in', 'outbound', SCRIPT.alanLast),
  ];
}

// ---- What each system holds ------------------------------------------------------------------

function textOfSlack(m: { text: string; blocks?: unknown[] | undefined }): string {
  const parts = [textOf(fromSlackText(m.text))];
  for (const block of (m.blocks ?? []) as {
    type?: string;
    text?: { text?: string };
    elements?: { text?: string }[];
  }[]) {
    if (block.type === 'rich_text') continue;
    if (block.text?.text) parts.push(textOf(fromSlackText(block.text.text)));
    for (const element of block.elements ?? [])
      if (element.text) parts.push(textOf(fromSlackText(element.text)));
  }
  return parts.join('\n');
}

function hasPicker(blocks: unknown[] | undefined): boolean {
  return JSON.stringify(blocks ?? []).includes('"static_select"');
}

function slackReceived(stack: DemoStack): SlackItem[] {
  const channel = DEMO.slack.channel.id;
  const root = stack.slack.history(channel).find((m) => m.bot && textOfSlack(m).includes(DEMO.customer.name));
  if (!root) return [];
  const items: SlackItem[] = [];
  for (const m of stack.slack.thread(channel, root.ts).slice(1)) {
    const body = textOfSlack(m);
    const who = m.bot ? 'app' : m.user === DEMO.slack.agent.id ? DEMO.slack.agent.name : m.user;
    items.push({
      kind: 'message',
      bot: m.bot,
      body,
      files: m.files.flatMap((f) => (f.sha256 ? [f.sha256] : [])),
      reactions: [],
      text: `${who}: "${snippet(body)}"${m.files.length > 0 ? ` + ${m.files.map((f) => f.name).join(', ')}` : ''}`,
    });
    if (m.reactions.length > 0) {
      const names = m.reactions.map((r) => r.name);
      items.push({
        kind: 'reactions',
        bot: true,
        body,
        files: [],
        reactions: names,
        text: `reactions ${names.map((n) => `:${n}:`).join(' ')} on "${snippet(body, 40)}"`,
      });
    }
  }
  return items;
}

function teamsReceived(stack: DemoStack): TeamsItem[] {
  const { teamId, channelId } = DEMO.teams;
  const root = stack.graph
    .roots(teamId, channelId)
    .find(
      (m) => (m.subject ?? '').includes(DEMO.customer.name) || plainText(m.body).includes(DEMO.customer.name),
    );
  if (!root) return [];
  const items: TeamsItem[] = [];
  for (const m of stack.graph.replies(root.id, teamId, channelId)) {
    if (m.deletedDateTime) continue;
    const cards = m.attachments.map((a) => a.content ?? '').join('\n');
    const body = [textOf(fromHtml(m.body.content)), cards].join('\n').trim();
    const human = m.postedBy === 'human';
    const shown = textOf(fromHtml(m.body.content));
    items.push({
      kind: 'message',
      human,
      body: human ? plainText(m.body) : body,
      reactions: [],
      text: `${human ? (m.from.user?.displayName ?? 'someone') : 'bridge'}: "${snippet(shown)}"`,
    });
    if (m.reactions.length > 0) {
      const types = m.reactions.map((r) => r.reactionType);
      items.push({
        kind: 'reactions',
        human: false,
        body: human ? plainText(m.body) : body,
        reactions: types,
        text: `reactions ${types.join(' ')} on "${snippet(shown, 40)}"`,
      });
    }
  }
  return items;
}

function whatsappReceived(stack: DemoStack): WhatsAppItem[] {
  return stack.whatsapp.ledger
    .filter('send.accepted', (e) => e.to === DEMO.customer.waId || e.waId === DEMO.customer.waId)
    .map((e) => ({
      type: e.type,
      body: e.text ?? '',
      template: e.template ? `${e.template.name}:${e.template.params.join('|')}` : null,
      text: `${e.type}: "${snippet(e.text ?? e.reaction?.emoji ?? '')}"`,
    }));
}

function hubspotReceived(stack: DemoStack): HubSpotItem[] {
  const contact = adaInHubSpot(stack);
  if (!contact) return [];
  return stack.hubspot.timeline(contact.id).map((c) => {
    const body = textOf(fromHtml(c.properties.hs_communication_body ?? ''));
    return {
      direction: c.properties.wabridge_direction ?? '',
      body,
      text: `${c.properties.wabridge_direction ?? '?'}: "${snippet(body)}"`,
    };
  });
}

function adaInHubSpot(stack: DemoStack) {
  return stack.hubspot
    .contacts()
    .find((c) => (c.properties.phone ?? '').replace(/\D/g, '') === DEMO.customer.waId);
}

async function evaluate(stack: DemoStack, durationMs: number): Promise<DemoReport> {
  const photoSha = sha256(parcelPhoto());
  const targets = [
    checkTarget('WhatsApp', whatsappExpected(), whatsappReceived(stack)),
    // The thread's card (its root) is updated in place, not received: it is not in the list.
    checkTarget('Slack', slackExpected(photoSha), slackReceived(stack)),
    checkTarget('Teams', teamsExpected(), teamsReceived(stack)),
    checkTarget('HubSpot', hubspotExpected(), hubspotReceived(stack)),
  ];
  const contact = adaInHubSpot(stack);
  const consentChanges = stack.hubspot.ledger
    .filter('object.updated', (e) => e.id === contact?.id && 'wabridge_whatsapp_consent' in e.changed)
    .map((e) => `${e.changed.wabridge_whatsapp_consent} (${e.source.changeSource})`);
  const rejected = stack.whatsapp.ledger.filter('send.rejected');
  const dead = await stack.runtime.store.listDeadJobs();
  const checks: Check[] = [
    {
      label:
        'WhatsApp refused no send (the gateway never sent outside the window or to an opted-out customer)',
      ok: rejected.length === 0,
      ...(rejected.length > 0 ? { detail: rejected.map((r) => `${r.code} ${r.details}`).join('; ') } : {}),
    },
    {
      label: 'HubSpot found Ada’s existing contact instead of creating another',
      ok:
        stack.hubspot.contacts().length === 1 &&
        contact?.properties.email === 'ada@analytical-engines.example',
    },
    {
      label: 'HubSpot consent went opted_out (set by wabridge after STOP), then opted_in (set by a user)',
      ok: consentChanges.join(' → ').endsWith('opted_out (INTEGRATION) → opted_in (CRM_UI)'),
      detail: consentChanges.join(' → ') || 'no change',
    },
    {
      label: 'No delivery job dead-lettered',
      ok: dead.length === 0,
      ...(dead.length > 0
        ? { detail: dead.map((d) => `${d.connectorId} ${d.eventType}: ${d.reason}`).join('; ') }
        : {}),
    },
  ];
  return buildReport(targets, checks, durationMs);
}
