/**
 * The inbound side against notification payloads shaped like the ones Microsoft Graph really
 * sends (docs samples and captured variants), each replayed into the real handler with the
 * chatMessage it refers to read from the Graph emulator over HTTPS.
 */
import type { DomainCommand } from '@wabridge/core';
import { type Json, mutatedBodies, mutationTimeout } from '@wabridge/core/testing';
import { DEFAULT_AGENT, plainText } from '@wabridge/sandbox/graph';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encryptionConfig, type Rig, startRig } from '../../test/support.ts';

type Item = Record<string, unknown>;

/** Calls the connector's handler the way the gateway's hook route does, with whatever body Graph sent. */
async function deliver(
  rig: Rig,
  body: unknown,
  options: { path?: string; query?: string; method?: string; contentType?: string } = {},
) {
  const { bridge } = rig;
  const path = options.path ?? '/notifications';
  const method = options.method ?? 'POST';
  const raw = new TextEncoder().encode(
    body === undefined ? '' : typeof body === 'string' ? body : JSON.stringify(body),
  );
  const instance = await rig.instance();
  if (!instance.inbound) throw new Error('no inbound handler');
  const started = Date.now();
  const result = await instance.inbound.handle(
    new Request(`https://gw.example/hooks/teams/${bridge.workspaceId}${path}${options.query ?? ''}`, {
      method,
      headers: { 'content-type': options.contentType ?? 'application/json; charset=utf-8' },
      ...(method === 'GET' || method === 'HEAD' ? {} : { body: raw }),
    }),
    {
      path,
      rawBody: raw,
      findRefByExternalId: (kind, id) =>
        bridge.store.findRefByExternalId(bridge.workspaceId, 'teams', kind, id),
    },
  );
  return {
    status: result.response.status,
    type: result.response.headers.get('content-type'),
    body: await result.response.text(),
    commands: result.commands,
    ms: Date.now() - started,
  };
}

function helpers(get: () => Rig) {
  const sub = () => {
    const found = get().graph.subscriptions()[0];
    if (!found) throw new Error('no subscription');
    return found;
  };
  /** One item of the collection Graph posts about a message, as the emulator builds it (then `extra`). */
  const item = (
    messageId: string,
    extra: Item = {},
    changeType: 'created' | 'updated' | 'deleted' = 'created',
  ) => {
    const body = JSON.parse(
      get().graph.notificationPayload({ subscriptionId: sub().id, messageId, changeType }),
    ) as { value: Item[]; validationTokens?: string[] };
    return { ...body.value[0], ...extra } as Item;
  };
  const thread = async (waId: string) => {
    const r = get();
    await r.bridge.customerText(`hello from ${waId}`, { waId });
    await r.settle();
    await r.maintain();
    const conversation = await r.conversation(waId);
    return { conversation, rootId: await r.root(conversation.id) };
  };
  const gets = (messageId: string) =>
    get().graph.ledger.count('api.request', (e) => e.method === 'GET' && e.path.endsWith(`/${messageId}`));
  const accept = (commands: DomainCommand[]) =>
    get().bridge.commands.accept(get().bridge.workspaceId, 'teams', commands);
  /** The agent.reply a plain reply by the default agent becomes. */
  const replyCommand = (rootId: string, messageId: string, text: string, extra: Item = {}) => {
    const channel = get().graph.channelId;
    return {
      type: 'agent.reply',
      idempotencyKey: `${messageId}:created`,
      threadId: `${channel}|${rootId}`,
      messageId: `${channel}|${messageId}`,
      agent: { id: DEFAULT_AGENT.id, name: DEFAULT_AGENT.displayName },
      text,
      attachments: [],
      mode: 'send',
      ...extra,
    };
  };
  /** What Graph posts for a lifecycle event (captured shape: resource and change fields present but empty). */
  const lifecycle = (event: string, extra: Item = {}) => {
    const { graph } = get();
    return {
      subscriptionId: sub().id,
      subscriptionExpirationDateTime: '2026-02-02T11:26:41.0537895+00:00',
      tenantId: graph.tenantId,
      clientState: sub().clientState,
      lifecycleEvent: event,
      resource: `teams('${graph.teamId}')/channels('${graph.channelId}')/messages`,
      resourceData: null,
      changeType: null,
      ...extra,
    };
  };
  return { sub, item, thread, gets, accept, replyCommand, lifecycle };
}

describe('real-world Graph change notifications', () => {
  let rig: Rig;
  const h = helpers(() => rig);
  let rootId = '';
  beforeAll(async () => {
    rig = await startRig();
    ({ rootId } = await h.thread('15551000001'));
  }, 60_000);
  afterAll(() => rig?.close());
  const replyCommand = (messageId: string, text: string, extra: Item = {}) =>
    h.replyCommand(rootId, messageId, text, extra);

  /** A reply by a human agent; `patch` reshapes the stored chatMessage before Graph notifies about it. */
  async function reply(text: string, patch: Item = {}) {
    const record = rig.graph.agentReply({ rootId, text });
    Object.assign(record, patch);
    await rig.graph.idle();
    return record;
  }

  describe('the validation handshake', () => {
    it('echoes the decoded token as text/plain 200 on both URLs, at once and with nothing else', async () => {
      const token =
        'Validation: Testing client application reachability for subscription Request-Id: 0a1b2c3d-1111-4222-8333-444455556666';
      for (const path of ['/notifications', '/lifecycle', '/notifications/']) {
        const answer = await deliver(rig, undefined, {
          path,
          query: `?validationToken=${encodeURIComponent(token)}`,
          contentType: 'text/plain; charset=utf-8',
        });
        expect(answer).toMatchObject({
          status: 200,
          type: 'text/plain; charset=utf-8',
          body: token,
          commands: [],
        });
        expect(answer.ms).toBeLessThan(1000);
      }
      // Graph's form encoding (spaces as `+`) is decoded too.
      const plus = await deliver(rig, undefined, {
        query: '?validationToken=Validation%3A+Testing+client+application+reachability',
        contentType: 'text/plain',
      });
      expect(plus.body).toBe('Validation: Testing client application reachability');
    });
  });

  describe('collections', () => {
    it('reads a docs-shaped collection with every optional field, and acknowledges it with 202 and no body', async () => {
      const message = await reply('Your parcel left the warehouse');
      const resource = `teams('${rig.graph.teamId}')/channels('${rig.graph.channelId}')/messages('${rootId}')/replies('${message.id}')`;
      const collection = {
        value: [
          {
            subscriptionId: h.sub().id,
            changeType: 'created',
            clientState: h.sub().clientState,
            subscriptionExpirationDateTime: '2026-02-02T11:26:41.0537895-08:00',
            resource,
            resourceData: {
              id: message.id,
              '@odata.type': '#Microsoft.Graph.chatMessage',
              '@odata.id': resource,
              '@odata.etag': `"${message.id}"`,
            },
            encryptedContent: null,
            tenantId: rig.graph.tenantId,
            organizationId: rig.graph.tenantId,
            lifecycleEvent: null,
          },
        ],
        validationTokens: null,
      };
      const answer = await deliver(rig, collection);
      expect(answer).toMatchObject({ status: 202, body: '' });
      expect(answer.commands).toEqual([replyCommand(message.id, 'Your parcel left the warehouse')]);
    });

    it('handles several notifications at once, in the order agents wrote, skipping the ones of unknown subscriptions and wrong clientStates', async () => {
      const first = await reply('first');
      rig.clock.advance(1000);
      const second = await reply('second');
      const answer = await deliver(rig, {
        value: [
          h.item(second.id),
          h.item(first.id, { subscriptionId: '5f6e7d8c-0000-4000-8000-00000000dead' }),
          h.item(first.id, { clientState: `${h.sub().clientState}x` }),
          h.item(first.id),
        ],
      });
      expect(answer.status).toBe(202);
      expect(answer.commands).toEqual([replyCommand(first.id, 'first'), replyCommand(second.id, 'second')]);
    });

    it('keeps the valid notifications of a collection that also holds a malformed one', async () => {
      const message = await reply('still delivered');
      const answer = await deliver(rig, {
        value: [{ changeType: 'created', resource: 'teams/x' }, h.item(message.id), 'junk', null],
      });
      expect(answer.status).toBe(202);
      expect(answer.commands).toEqual([replyCommand(message.id, 'still delivered')]);
    });

    it('answers what is no notification collection with a 4xx, never a 5xx', async () => {
      for (const body of [
        'not json',
        '{}',
        '{"value":[]}',
        '[]',
        'null',
        '{"value":"x"}',
        '{"value":[{}]}',
      ]) {
        const answer = await deliver(rig, body);
        expect(answer.status, body).toBeGreaterThanOrEqual(400);
        expect(answer.status, body).toBeLessThan(500);
        expect(answer.commands).toEqual([]);
      }
      expect((await deliver(rig, undefined, { method: 'GET' })).status).toBe(405);
      expect((await deliver(rig, { value: [h.item(rootId)] }, { path: '/other' })).status).toBe(404);
    });
  });

  describe('resource paths', () => {
    const team = () => rig.graph.teamId;
    const channel = () => rig.graph.channelId;
    const forms: Array<[string, (root: string, id: string) => string]> = [
      ['quoted', (r, id) => `teams('${team()}')/channels('${channel()}')/messages('${r}')/replies('${id}')`],
      [
        'with a leading slash',
        (r, id) => `/teams('${team()}')/channels('${channel()}')/messages('${r}')/replies('${id}')`,
      ],
      ['unquoted', (r, id) => `teams(${team()})/channels(${channel()})/messages(${r})/replies(${id})`],
      [
        'quoted with an escaped channel id',
        (r, id) =>
          `teams('${team()}')/channels('${encodeURIComponent(channel())}')/messages('${r}')/replies('${id}')`,
      ],
      [
        'as segments',
        (r, id) => `teams/${team()}/channels/${encodeURIComponent(channel())}/messages/${r}/replies/${id}`,
      ],
      [
        'as segments, channel id unescaped',
        (r, id) => `teams/${team()}/channels/${channel()}/messages/${r}/replies/${id}`,
      ],
      [
        'capitalised',
        (r, id) => `Teams('${team()}')/Channels('${channel()}')/Messages('${r}')/Replies('${id}')`,
      ],
      [
        'with an upper-case team id',
        (r, id) =>
          `teams('${team().toUpperCase()}')/channels('${channel()}')/messages('${r}')/replies('${id}')`,
      ],
      [
        'as an absolute Graph URL',
        (r, id) =>
          `https://graph.microsoft.com/v1.0/teams('${team()}')/channels('${channel()}')/messages('${r}')/replies('${id}')`,
      ],
    ];
    for (const [name, form] of forms) {
      it(`reads a reply's resource ${name}`, async () => {
        const message = await reply(`form ${name}`);
        const answer = await deliver(rig, {
          value: [h.item(message.id, { resource: form(rootId, message.id) })],
        });
        expect(answer.status).toBe(202);
        expect(answer.commands).toEqual([replyCommand(message.id, `form ${name}`)]);
      });
    }

    it('falls back to resourceData when the resource is missing', async () => {
      const message = await reply('from resourceData');
      const notification = h.item(message.id);
      delete notification.resource;
      const answer = await deliver(rig, { value: [notification] });
      expect(answer.commands).toEqual([replyCommand(message.id, 'from resourceData')]);
    });

    it('acknowledges resources it cannot use (malformed escapes, other channels, roots) without a retry or a read', async () => {
      const message = await reply('never relayed');
      const before = h.gets(message.id);
      const resources = [
        `teams/${team()}/channels/%E0%A4%A/messages/${rootId}/replies/${message.id}`,
        `teams('${team()}')/channels('%E0%A4%A')/messages('${rootId}')/replies('${message.id}')`,
        `teams('${team()}')/channels('19:other@thread.tacv2')/messages('${rootId}')/replies('${message.id}')`,
        `teams('00000000-0000-4000-8000-000000000000')/channels('${channel()}')/messages('${rootId}')/replies('${message.id}')`,
        `teams('${team()}')/channels('${channel()}')/messages('${message.id}')`,
        `teams('${team()}')/channels('${channel()}')/messages('${rootId}')/replies('${rootId}')`,
        `chats('19:abc@unq.gbl.spaces')/messages('${message.id}')`,
        `teams('${team()}')/channels('${channel()}')/messages`,
        '',
      ];
      for (const resource of resources) {
        const resourceData = { id: message.id, '@odata.type': '#Microsoft.Graph.chatMessage' };
        const answer = await deliver(rig, { value: [h.item(message.id, { resource, resourceData })] });
        expect(answer.status, resource).toBe(202);
        expect(answer.commands, resource).toEqual([]);
      }
      expect(h.gets(message.id)).toBe(before);
    });
  });

  // Before the tests whose notices keep the worker posting: an injected failure is for our read.
  describe('read failures', () => {
    it('asks Graph to deliver again after a transient failure, and gets the reply the next time', async () => {
      const message = await reply('after a hiccup');
      await rig.settle();
      rig.graph.failNext({ status: 503 });
      const failed = await deliver(rig, { value: [h.item(message.id)] });
      expect(failed).toMatchObject({ status: 503, commands: [] });
      const retried = await deliver(rig, { value: [h.item(message.id)] });
      expect(retried.commands).toEqual([replyCommand(message.id, 'after a hiccup')]);
    });

    it('does not make Graph retry for hours what can never be read (a 400)', async () => {
      const message = await reply('unreadable');
      await rig.settle();
      rig.graph.failNext({ status: 400, code: 'BadRequest' });
      const answer = await deliver(rig, { value: [h.item(message.id)] });
      expect(answer).toMatchObject({ status: 202, commands: [] });
    });
  });

  describe('change types, duplicates and echoes', () => {
    it('never sends a customer the same reply twice: Graph retries, duplicates in one collection, a resync', async () => {
      const message = await reply('exactly once');
      // The emulator already delivered it once (as Graph does); the core recorded it.
      const once = await deliver(rig, { value: [h.item(message.id), h.item(message.id)] });
      expect(once.status).toBe(202);
      expect(once.commands).toEqual([replyCommand(message.id, 'exactly once')]);
      // Recorded already: the core drops it (by idempotency key, or as the message it now knows).
      const dropped = [
        { status: 'duplicate' },
        { status: 'ignored', reason: 'echo of a message wabridge posted' },
      ];
      expect(dropped).toContainEqual((await h.accept(once.commands))[0]);
      const again = await deliver(rig, { value: [h.item(message.id)] });
      expect(again.commands).toEqual(once.commands);
      expect(dropped).toContainEqual((await h.accept(again.commands))[0]);
      const conversation = await rig.conversation('15551000001');
      expect((await rig.outbound(conversation.id)).filter((m) => m.text === 'exactly once')).toHaveLength(1);
    });

    it('turns an edit into agent.edit, ignores reactions, and reports a soft delete and a deletion', async () => {
      const message = await reply('see you at 5');
      const channel = rig.graph.channelId;
      const base = { threadId: `${channel}|${rootId}`, messageId: `${channel}|${message.id}` };
      const agent = { id: DEFAULT_AGENT.id, name: DEFAULT_AGENT.displayName };
      // A reaction updates the message without editing it.
      const reacted = await deliver(rig, { value: [h.item(message.id, {}, 'updated')] });
      expect(reacted).toMatchObject({ status: 202, commands: [] });
      rig.clock.advance(1000);
      rig.graph.agentEdit({ id: message.id, rootId, text: 'see you at 6' });
      await rig.graph.idle();
      const edited = await deliver(rig, { value: [h.item(message.id, {}, 'updated')] });
      const editedAt = rig.graph.message(message.id)?.lastEditedDateTime;
      expect(edited.commands).toEqual([
        {
          type: 'agent.edit',
          idempotencyKey: `${message.id}:edited:${editedAt}`,
          ...base,
          agent,
          // The edited text, for an archived internal note's new version.
          text: 'see you at 6',
        },
      ]);
      rig.graph.agentDelete({ id: message.id, rootId });
      await rig.graph.idle();
      const softDeleted = await deliver(rig, { value: [h.item(message.id, {}, 'updated')] });
      expect(softDeleted.commands).toEqual([
        { type: 'agent.delete', idempotencyKey: `${message.id}:deleted`, ...base, agent },
      ]);
      // `deleted` needs no read: the message may be gone.
      const reads = h.gets(message.id);
      const deleted = await deliver(rig, {
        value: [
          h.item(
            message.id,
            { resourceData: { id: message.id, '@odata.type': '#Microsoft.Graph.chatMessage' } },
            'deleted',
          ),
        ],
      });
      expect(deleted.commands).toEqual([
        {
          type: 'agent.delete',
          idempotencyKey: `${message.id}:deleted`,
          ...base,
          agent: { id: 'unknown', name: null },
        },
      ]);
      expect(h.gets(message.id)).toBe(reads);
    });

    it('does not bounce our own posts back: mirrored messages (without a read) and anything the service account wrote', async () => {
      const mirrored = rig.graph.replies(rootId).find((m) => m.postedBy === 'bridge');
      if (!mirrored) throw new Error('no mirrored post');
      const before = h.gets(mirrored.id);
      for (const change of ['created', 'updated', 'deleted'] as const) {
        const answer = await deliver(rig, { value: [h.item(mirrored.id, {}, change)] });
        expect(answer).toMatchObject({ status: 202, commands: [] });
      }
      expect(h.gets(mirrored.id)).toBe(before);
      const own = rig.graph.agentReply({
        rootId,
        text: 'typed by the service account',
        agent: rig.graph.serviceAccount,
      });
      await rig.graph.idle();
      expect((await deliver(rig, { value: [h.item(own.id)] })).commands).toEqual([]);
      // Nor replies in threads that are not conversations.
      const stranger = rig.graph.agentPost({ text: 'lunch?' });
      const answer = rig.graph.agentReply({ rootId: stranger.id, text: 'yes' });
      await rig.graph.idle();
      expect((await deliver(rig, { value: [h.item(stranger.id), h.item(answer.id)] })).commands).toEqual([]);
    });
  });

  describe('what agents and apps write', () => {
    const agent = {
      id: DEFAULT_AGENT.id,
      displayName: DEFAULT_AGENT.displayName,
      userIdentityType: 'aadUser',
    };
    const html = (content: string, patch: Item = {}) =>
      reply('', { body: { contentType: 'html', content }, ...patch });
    const commandsOf = async (message: { id: string }) => {
      const answer = await deliver(rig, { value: [h.item(message.id)] });
      expect(answer.status).toBe(202);
      return answer.commands;
    };

    it('ignores system event messages', async () => {
      const message = await html('<systemEventMessage/>', {
        messageType: 'systemEventMessage',
        from: null,
        eventDetail: {
          '@odata.type': '#microsoft.graph.membersAddedEventMessageDetail',
          visibleHistoryStartDateTime: '0001-01-01T00:00:00Z',
          members: [{ id: 'u1', displayName: null, userIdentityType: 'aadUser' }],
          initiator: { user: agent, application: null, device: null },
        },
      });
      expect(await commandsOf(message)).toEqual([]);
      // An event detail on a message typed "message" is a system event all the same.
      const typed = await html('<p>Ada was added</p>', {
        eventDetail: { '@odata.type': '#microsoft.graph.membersAddedEventMessageDetail', members: [] },
      });
      expect(await commandsOf(typed)).toEqual([]);
    });

    it('ignores messages from bots and apps', async () => {
      const message = await html('<p>Build passed</p>', {
        from: {
          user: null,
          device: null,
          application: { id: 'app-1', displayName: 'Azure DevOps', applicationIdentityType: 'bot' },
        },
      });
      expect(await commandsOf(message)).toEqual([]);
    });

    it('ignores messages a DLP policy blocked', async () => {
      const message = await html('<p>Card 4111 1111 1111 1111</p>', {
        policyViolation: {
          dlpAction: 'notifySender, BlockAccess',
          justificationText: null,
          policyTip: { generalText: 'This item is protected by a policy in your organization.' },
          userAction: 'none',
          verdictDetails: 'AllowOverrideWithoutJustification',
        },
      });
      expect(await commandsOf(message)).toEqual([]);
    });

    it('turns mentions into a note with the names kept', async () => {
      const message = await html('<p><at id="0">Alan Turing</at>&nbsp;can you check?</p>', {
        mentions: [
          {
            id: 0,
            mentionText: 'Alan Turing',
            mentioned: { user: { id: 'u-alan', displayName: 'Alan Turing', userIdentityType: 'aadUser' } },
          },
        ],
      });
      expect(await commandsOf(message)).toEqual([
        replyCommand(message.id, 'Alan Turing can you check?', { mode: 'note' }),
      ]);
    });

    it('decodes entities and keeps emoji, in both of the forms Teams writes them', async () => {
      const message = await html(
        '<p>Total:&nbsp;5&nbsp;&euro; &ndash; that&rsquo;s it&hellip; &lt;b&gt; &amp;amp; &#x1F600; &#39;ok&#39;</p>' +
          '<p>Thanks <emoji id="1f44d_thumbsup" alt="👍" title="Thumbs up"></emoji> ' +
          '<img alt="😀" class="emoji" src="https://statics.teams.cdn.office.net/evergreen-assets/personal-expressions/v2/assets/emoticons/smile/default/20_f.png" title="Smile" itemscope="" itemtype="http://schema.skype.com/Emoji" width="20" height="20"></p>',
      );
      expect(await commandsOf(message)).toEqual([
        replyCommand(message.id, "Total: 5 € – that’s it… <b> &amp; 😀 'ok'\nThanks 👍 😀"),
      ]);
    });

    it('keeps code blocks, inline code and lists readable', async () => {
      const message = await html(
        '<p>Run this:</p><codeblock class="PowerShell"><code>Get-Item .\\a<br>&nbsp;&nbsp;exit &amp;&amp; 1</code></codeblock>' +
          '<p>then <code>npm&nbsp;test</code>, or:</p><pre>make &lt;all&gt;</pre><ul><li>one</li><li>two</li></ul><p>Bye</p>',
      );
      expect(await commandsOf(message)).toEqual([
        replyCommand(
          message.id,
          'Run this:\n```Get-Item .\\a\n  exit && 1```\nthen `npm test`, or:\n```make <all>```\n• one\n• two\nBye',
        ),
      ]);
    });

    it('reads a message that is only an Adaptive Card as an empty reply: not sent, and the agent is told', async () => {
      const message = await html('<attachment id="74d20c7f34aa4a7fb74e2b30004247c5"></attachment>', {
        attachments: [
          {
            id: '74d20c7f34aa4a7fb74e2b30004247c5',
            contentType: 'application/vnd.microsoft.card.adaptive',
            content: '{"type":"AdaptiveCard","body":[{"type":"TextBlock","text":"Approve?"}]}',
            contentUrl: null,
            name: null,
            thumbnailUrl: null,
          },
        ],
      });
      const commands = await commandsOf(message);
      expect(commands).toEqual([replyCommand(message.id, '')]);
      // The notification applied it already: accepted again (as when Graph repeats it), it is a
      // duplicate, and the thread holds one notice.
      expect(await h.accept(commands)).toEqual([{ status: 'duplicate' }]);
      await rig.settle();
      const notices = rig.graph
        .replies(rootId)
        .filter((m) => m.postedBy === 'bridge' && plainText(m.body).includes('cards, polls'));
      expect(notices.map((m) => plainText(m.body))).toEqual([
        expect.stringMatching(/^⚠ Not sent: WhatsApp carries text, images and files/),
      ]);
      expect(rig.graph.message(message.id)?.reactions.map((r) => r.reactionType)).toEqual(['🚫']);
    });

    it('sends pasted images (hostedContents) as attachments, with no placeholder', async () => {
      const message = rig.graph.agentReply({ rootId, text: 'look', images: [{ bytes: 'png' }] });
      await rig.graph.idle();
      const [command] = await commandsOf(message);
      expect(command).toMatchObject({
        type: 'agent.reply',
        text: 'look',
        attachments: [{ ref: expect.stringMatching(/^teams-hosted:/), filename: 'image-1.png' }],
      });
    });
  });
});

describe('real-world lifecycle notifications', () => {
  let rig: Rig;
  const h = helpers(() => rig);
  let rootId = '';
  beforeAll(async () => {
    rig = await startRig();
    ({ rootId } = await h.thread('15551000002'));
  }, 60_000);
  afterAll(() => rig?.close());

  const lifecycle = h.lifecycle;
  const count = (kind: 'subscription.reauthorized' | 'subscription.created') => rig.graph.ledger.count(kind);
  const listings = () =>
    rig.graph.ledger.count('api.request', (e) => e.method === 'GET' && /\/replies$/.test(e.path));

  it('reauthorizes after reauthorizationRequired at the lifecycle URL', async () => {
    const before = count('subscription.reauthorized');
    const answer = await deliver(
      rig,
      { value: [lifecycle('reauthorizationRequired')] },
      { path: '/lifecycle' },
    );
    expect(answer).toMatchObject({ status: 202, body: '', commands: [] });
    await rig.until(() => count('subscription.reauthorized') > before || undefined);
  });

  it('acts on lifecycle notifications that arrive at the notification URL', async () => {
    const before = count('subscription.reauthorized');
    const answer = await deliver(rig, { value: [lifecycle('reauthorizationRequired')] });
    expect(answer).toMatchObject({ status: 202, commands: [] });
    await rig.until(() => count('subscription.reauthorized') > before || undefined);
  });

  it('resyncs after missed, in a collection that also carries a change notification', async () => {
    const message = rig.graph.agentReply({ rootId, text: 'in the same collection' });
    await rig.graph.idle();
    await rig.maintain();
    const before = listings();
    const answer = await deliver(rig, { value: [lifecycle('missed'), h.item(message.id)] });
    expect(answer.status).toBe(202);
    expect(answer.commands).toEqual([h.replyCommand(rootId, message.id, 'in the same collection')]);
    await rig.until(() => listings() > before || undefined);
  });

  it('ignores lifecycle events it does not know, and refuses forged ones', async () => {
    const created = count('subscription.created');
    const unknown = await deliver(rig, { value: [lifecycle('unknownFutureValue')] }, { path: '/lifecycle' });
    expect(unknown).toMatchObject({ status: 202, commands: [] });
    const forged = await deliver(
      rig,
      { value: [lifecycle('subscriptionRemoved', { clientState: 'guess' })] },
      { path: '/lifecycle' },
    );
    expect(forged.status).toBe(403);
    await rig.maintain();
    expect(count('subscription.created')).toBe(created);
  });

  it('re-creates the subscription after subscriptionRemoved at the notification URL', async () => {
    const created = count('subscription.created');
    const answer = await deliver(rig, { value: [lifecycle('subscriptionRemoved')] });
    expect(answer).toMatchObject({ status: 202, commands: [] });
    await rig.until(() => count('subscription.created') > created || undefined);
  });
});

describe('real-world rich notifications (encrypted resource data)', () => {
  let rig: Rig;
  const h = helpers(() => rig);
  let rootId = '';
  afterAll(() => rig?.close());

  it('reads the reply from Graph when its encrypted content cannot be decrypted, instead of failing for hours', async () => {
    rig = await startRig({ config: await encryptionConfig() });
    ({ rootId } = await h.thread('15551000003'));
    const message = rig.graph.agentReply({ rootId, text: 'rotated certificate' });
    await rig.graph.idle();
    const payload = JSON.parse(
      rig.graph.notificationPayload({ subscriptionId: h.sub().id, messageId: message.id }),
    ) as { value: Array<{ encryptedContent: Record<string, string> }>; validationTokens: string[] };
    const [first] = payload.value;
    if (!first) throw new Error('no notification');
    // Encrypted with a certificate we no longer hold (a rotation): the key cannot be unwrapped.
    first.encryptedContent = {
      ...first.encryptedContent,
      dataKey: Buffer.from('not a wrapped key').toString('base64'),
      encryptionCertificateThumbprint: 'AB12CD34',
    };
    const reads = h.gets(message.id);
    const answer = await deliver(rig, payload);
    expect(answer.status).toBe(202);
    expect(answer.commands).toEqual([h.replyCommand(rootId, message.id, 'rotated certificate')]);
    expect(h.gets(message.id)).toBe(reads + 1);
  });
});

describe('real-world rich notifications when the signing keys cannot be read', () => {
  let rig: Rig;
  const h = helpers(() => rig);
  afterAll(() => rig?.close());

  it('reads the reply from Graph instead of crashing', async () => {
    rig = await startRig({
      config: { ...(await encryptionConfig()), validationTokenKeysUrl: 'https://localhost:9/keys' },
    });
    const { rootId } = await h.thread('15551000004');
    // Not `graph.idle()`: Graph's own delivery of it is retried for a while.
    const message = rig.graph.agentReply({ rootId, text: 'keys unreachable' });
    const payload = JSON.parse(
      rig.graph.notificationPayload({ subscriptionId: h.sub().id, messageId: message.id }),
    );
    const answer = await deliver(rig, payload);
    expect(answer.status).toBe(202);
    expect(answer.commands).toEqual([h.replyCommand(rootId, message.id, 'keys unreachable')]);
  });
});

describe('mutated notifications', () => {
  let rig: Rig;
  const h = helpers(() => rig);
  beforeAll(async () => {
    rig = await startRig();
  }, 60_000);
  afterAll(() => rig?.close());

  it(
    'answers each without failing, and acts on it at most once',
    async () => {
      // Real shapes (a change notification of each type, lifecycle events), each changed at one to
      // three random places (see mutate): none may throw or earn a 5xx (Graph would retry, then
      // drop the subscription), and the same bytes delivered again send nothing more to WhatsApp.
      // Few by default (40): each read of a message takes one of the channel's 4 requests a second.
      const { conversation, rootId } = await h.thread('15551000003');
      const message = rig.graph.agentReply({ rootId, text: 'Arrives Monday' });
      await rig.graph.idle();
      const seeds = (): Json[] =>
        JSON.parse(
          JSON.stringify([
            { value: [h.item(message.id)] },
            { value: [h.item(message.id, {}, 'updated')] },
            { value: [h.item(message.id, {}, 'deleted')] },
            { value: [h.lifecycle('missed'), h.item(message.id)] },
            { value: [h.lifecycle('reauthorizationRequired')] },
          ]),
        );
      const sent = async () => (await rig.outbound(conversation.id)).length;
      for (const { body, index, where } of mutatedBodies(seeds, 40, 'notification')) {
        // Graph may post either kind to either URL.
        const path = index % 5 === 4 ? '/lifecycle' : '/notifications';
        const first = await deliver(rig, JSON.stringify(body), { path });
        expect(first.status, where).toBeLessThan(500);
        await h.accept(first.commands);
        const before = await sent();
        const again = await deliver(rig, JSON.stringify(body), { path });
        expect(again.status, where).toBe(first.status);
        const outcomes = await h.accept(again.commands);
        expect(
          outcomes.filter((o) => o.status === 'sent'),
          where,
        ).toEqual([]);
        expect(await sent(), where).toBe(before);
      }
    },
    mutationTimeout(40, 1500),
  );
});
