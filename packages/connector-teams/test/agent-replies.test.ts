import { plainText } from '@wabridge/sandbox/graph';
import { afterEach, describe, expect, it } from 'vitest';
import { encryptionConfig, type Rig, startRig } from './support.ts';

let rig: Rig | null = null;
afterEach(async () => {
  await rig?.close();
  rig = null;
});

/** A customer conversation mirrored into a thread, with the connector's subscription in place. */
async function thread(r: Rig, waId: string, options: { timestamp?: number } = {}) {
  await r.bridge.customerText(`hello from ${waId}`, { waId, ...options });
  await r.settle();
  await r.maintain();
  const conversation = await r.conversation(waId);
  return { conversation, rootId: await r.root(conversation.id) };
}

async function post(r: Rig, body: string, options: { path?: string; query?: string } = {}) {
  const sub = r.graph.subscriptions()[0];
  const base = (sub?.notificationUrl ?? '').replace(/\/notifications$/, options.path ?? '/notifications');
  return fetch(`${base}${options.query ?? ''}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
  });
}

describe('agent replies from Teams', () => {
  it('records a human reply once as an outbound WhatsApp message, even when Graph repeats the notification', async () => {
    rig = await startRig();
    const { graph } = rig;
    const { conversation, rootId } = await thread(rig, '15550101010');
    const reply = graph.agentReply({
      rootId,
      html: '<p>Hello <b>Ada</b>, your order &amp; invoice are <a href="https://shop.example/o/1">here</a></p>',
    });
    const [sent] = await rig.until(async () => {
      const out = await rig?.outbound(conversation.id);
      return out && out.length > 0 ? out : undefined;
    });
    expect(sent?.text).toBe('Hello *Ada*, your order & invoice are here (https://shop.example/o/1)');
    expect(sent?.sender).toEqual({
      via: 'teams',
      viaName: 'Microsoft Teams',
      agentId: reply.from.user?.id,
      agentName: 'Grace Hopper',
    });
    // Graph delivers the same notification again (at-least-once): nothing new is recorded.
    const sub = graph.subscriptions()[0];
    const again = await post(
      rig,
      graph.notificationPayload({ subscriptionId: sub?.id ?? '', messageId: reply.id }),
    );
    expect(again.status).toBe(202);
    await graph.idle();
    expect(await rig.outbound(conversation.id)).toHaveLength(1);
    // Its mirror job finds the agent's own message: no copy is posted into the thread.
    await rig.settle();
    expect(graph.replies(rootId).filter((m) => m.postedBy === 'bridge')).toHaveLength(1);
  });

  it('archives a note, its edit and its deletion, marked internal, only when the workspace policy says so', async () => {
    const notesOf = (r: Rig) =>
      r.bridge.store.db
        .all<{ record: Uint8Array }>(
          "SELECT record FROM archive_records WHERE workspace_id = :ws AND kind = 'note' ORDER BY seq",
          { ws: r.bridge.workspaceId },
        )
        .map(
          (row) => JSON.parse(Buffer.from(row.record).toString('utf8')) as { data: Record<string, unknown> },
        );
    // Off (the default): the note stays in Teams only.
    rig = await startRig();
    const off = await thread(rig, '15550303030');
    rig.graph.agentReply({ rootId: off.rootId, text: '// not for the archive' });
    await rig.graph.idle();
    await rig.settle();
    expect(notesOf(rig)).toEqual([]);
    await rig.close();

    rig = await startRig({ policies: { archiveInternalNotes: true } });
    const { graph } = rig;
    const { conversation, rootId } = await thread(rig, '15550303031');
    const note = graph.agentReply({ rootId, text: '// customer is a VIP, be nice' });
    await rig.until(() => (notesOf(rig as Rig).length === 1 ? true : undefined));
    graph.agentEdit({ id: note.id, rootId, text: '// customer is a VIP since 2019' });
    await rig.until(() => (notesOf(rig as Rig).length === 2 ? true : undefined));
    graph.agentDelete({ id: note.id, rootId });
    await rig.until(() => (notesOf(rig as Rig).length === 3 ? true : undefined));
    await rig.settle();
    const records = notesOf(rig);
    expect(records.map((r) => [r.data.type, r.data.internal, r.data.conversation_id])).toEqual([
      ['note', true, conversation.id],
      ['edit', true, conversation.id],
      ['revoke', true, conversation.id],
    ]);
    expect(records[0]?.data.sender).toEqual({
      via: 'teams',
      agentId: note.from.user?.id,
      agentName: 'Grace Hopper',
    });
    // Never sent, never mirrored back into the thread.
    expect(await rig.outbound(conversation.id)).toEqual([]);
    expect(graph.replies(rootId).filter((m) => m.postedBy === 'bridge')).toHaveLength(1);
  });

  it('keeps notes in Teams, sends /template commands and answers a closed window with a notice listing templates', async () => {
    rig = await startRig({
      policies: {
        templates: [
          {
            name: 'follow_up',
            language: 'en_US',
            category: 'utility',
            body: 'Hi {{1}}, any news?',
            parameters: 1,
          },
        ],
      },
    });
    const { graph, clock } = rig;
    const { conversation, rootId } = await thread(rig, '15550202020', {
      timestamp: clock.now() - 25 * 3600_000,
    });
    graph.agentReply({ rootId, text: '// customer is a VIP, be nice' });
    const unsent = graph.agentReply({ rootId, text: 'Are you still there?' });
    await rig.until(
      () =>
        graph
          .replies(rootId)
          .some((m) => m.postedBy === 'bridge' && plainText(m.body).startsWith('⚠ Not sent')) || undefined,
    );
    await rig.settle();
    const notice = graph.replies(rootId).find((m) => plainText(m.body).startsWith('⚠ Not sent'));
    expect(plainText(notice?.body ?? { contentType: 'text', content: '' })).toMatch(
      /window closed[\s\S]*follow_up/,
    );
    expect(notice?.body.content).toContain('/template follow_up | value 1');
    expect(await rig.outbound(conversation.id)).toHaveLength(0);
    expect(graph.message(unsent.id)?.reactions.map((r) => r.reactionType)).toEqual(['🚫']);
    graph.agentReply({ rootId, text: '/template follow_up | Ada' });
    const [template] = await rig.until(async () => {
      const out = await rig?.outbound(conversation.id);
      return out && out.length > 0 ? out : undefined;
    });
    expect(template?.type).toBe('template');
    expect(template?.text).toBe('Hi Ada, any news?');
  });

  it('never relays replies in threads it does not own, nor new threads started by people', async () => {
    rig = await startRig();
    const { graph, bridge } = rig;
    await thread(rig, '15550303030');
    const stranger = graph.agentPost({ text: 'lunch anyone?' });
    graph.agentReply({ rootId: stranger.id, text: 'yes!' });
    await graph.idle();
    const outbound = (await bridge.store.jobStats()).byConnector.whatsapp;
    expect(outbound).toBeUndefined();
    // Graph did notify about both messages (the handshakes answered 200 are left out).
    const notified = rig.front.responses.filter((r) => r.path === '/notifications' && r.status !== 200);
    expect(notified).toEqual([
      { path: '/notifications', status: 202, commands: 0 },
      { path: '/notifications', status: 202, commands: 0 },
    ]);
  });

  it('refuses forged notifications (wrong clientState, unknown subscription) and records nothing', async () => {
    rig = await startRig();
    const { graph, bridge } = rig;
    const { rootId } = await thread(rig, '15550404040');
    const reply = graph.agentReply({ rootId, text: 'genuine' });
    await graph.idle();
    const sub = graph.subscriptions()[0];
    const instance = await rig.instance();
    const forged = [
      graph.notificationPayload({ subscriptionId: sub?.id ?? '', messageId: reply.id, clientState: 'guess' }),
      graph.notificationPayload({ subscriptionId: sub?.id ?? '', messageId: reply.id, clientState: null }),
      graph.notificationPayload({
        subscriptionId: sub?.id ?? '',
        messageId: reply.id,
        asSubscriptionId: 'e3f0c7c1-0000-4000-8000-000000000000',
      }),
    ];
    for (const body of forged) {
      const bytes = new TextEncoder().encode(body);
      const result = await instance.inbound?.handle(
        new Request('https://gw.example/hooks/teams/ws-test/notifications', { method: 'POST', body: bytes }),
        {
          path: '/notifications',
          rawBody: bytes,
          findRefByExternalId: (kind, id) =>
            bridge.store.findRefByExternalId(bridge.workspaceId, 'teams', kind, id),
        },
      );
      expect(result?.response.status).toBe(403);
      expect(result?.commands).toEqual([]);
    }
    const lifecycle = await post(
      rig,
      JSON.stringify({
        value: [{ subscriptionId: sub?.id, clientState: 'guess', lifecycleEvent: 'subscriptionRemoved' }],
      }),
      {
        path: '/lifecycle',
      },
    );
    expect(lifecycle.status).toBe(403);
    await rig.maintain();
    expect(graph.ledger.count('subscription.created')).toBe(1);
  });

  it('answers the validation handshake with the decoded token as inert text', async () => {
    rig = await startRig();
    await thread(rig, '15550505050');
    const token = '<script>alert("x")</script> Validation: Testing & more';
    const response = await post(rig, '', { query: `?validationToken=${encodeURIComponent(token)}` });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(response.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(await response.text()).toBe(token);
    const tooLong = await post(rig, '', { query: `?validationToken=${'a'.repeat(5000)}` });
    expect(tooLong.status).toBe(400);
    // Graph's own handshakes (creation of notification and lifecycle URLs) all succeeded.
    expect(rig.graph.ledger.filter('subscription.validation').every((v) => v.ok)).toBe(true);
  });

  it('uses encrypted resource data without fetching the reply, and refuses it without valid validation tokens', async () => {
    rig = await startRig({ config: await encryptionConfig() });
    const { graph, bridge } = rig;
    const { conversation, rootId } = await thread(rig, '15550606060');
    expect(graph.subscriptions()[0]?.includeResourceData).toBe(true);
    const reply = graph.agentReply({ rootId, text: 'sent encrypted' });
    await rig.until(async () => ((await rig?.outbound(conversation.id))?.length ? true : undefined));
    const fetched = graph.ledger.count(
      'api.request',
      (e) => e.method === 'GET' && e.path.endsWith(`/replies/${reply.id}`),
    );
    expect(fetched).toBe(0);
    // A notification whose validation token is not Graph's is refused, even with the right clientState.
    const sub = graph.subscriptions()[0];
    const payload = JSON.parse(
      graph.notificationPayload({ subscriptionId: sub?.id ?? '', messageId: reply.id }),
    ) as {
      validationTokens: string[];
    };
    const [head, body] = (payload.validationTokens[0] ?? '').split('.');
    payload.validationTokens = [`${head}.${body}.${Buffer.from('not a signature').toString('base64url')}`];
    const bytes = new TextEncoder().encode(JSON.stringify(payload));
    const instance = await rig.instance();
    const result = await instance.inbound?.handle(
      new Request('https://gw.example/hooks/teams/ws-test/notifications', { method: 'POST', body: bytes }),
      {
        path: '/notifications',
        rawBody: bytes,
        findRefByExternalId: (kind, id) =>
          bridge.store.findRefByExternalId(bridge.workspaceId, 'teams', kind, id),
      },
    );
    expect(result?.response.status).toBe(403);
    expect(result?.commands).toEqual([]);
  });

  it('tells the agent that an edit or a deletion cannot reach WhatsApp', async () => {
    rig = await startRig();
    const { graph } = rig;
    const { conversation, rootId } = await thread(rig, '15550707070');
    const reply = graph.agentReply({ rootId, text: 'see you at 5' });
    await rig.until(async () => ((await rig?.outbound(conversation.id))?.length ? true : undefined));
    graph.agentEdit({ id: reply.id, rootId, text: 'see you at 6' });
    await rig.until(
      () =>
        graph.replies(rootId).some((m) => plainText(m.body).includes('WhatsApp cannot edit')) || undefined,
    );
    await rig.settle();
    expect(await rig.outbound(conversation.id)).toHaveLength(1);
  });
});

describe('files and pasted images in agent replies', () => {
  const PNG = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3, 4]);
  const PDF = '%PDF-1.4 invoice 42';

  /** A customer who wrote through the WhatsApp emulator (window open), and the thread of the conversation. */
  async function waThread(r: Rig, waId: string) {
    await r.wa.customer({ waId, name: 'Ada Lovelace' }).sendText('I need my invoice');
    await r.until(async () => (await r.bridge.conversationOf(waId)) ?? undefined);
    await r.settle();
    await r.maintain();
    const conversation = await r.conversation(waId);
    return { conversation, rootId: await r.root(conversation.id) };
  }

  /** The outbound message once the sender has settled it (sent to WhatsApp or failed). */
  async function settled(r: Rig, conversationId: string) {
    const [message] = await r.until(async () => {
      const out = await r.outbound(conversationId);
      return out.length > 0 && out.every((m) => m.state !== 'pending') ? out : undefined;
    });
    if (!message) throw new Error('no outbound message');
    return message;
  }

  const imageSrc = (html: string) => /<img [^>]*src="([^"]+)"/.exec(html)?.[1] ?? '';
  const shareRequests = (r: Rig) => r.graph.ledger.count('api.request', (e) => e.path.includes('/shares/'));

  it('uploads a pasted image and a shared PDF to WhatsApp and sends them as media after the text', async () => {
    rig = await startRig({ whatsapp: true });
    const { graph, wa } = rig;
    const { conversation, rootId } = await waThread(rig, '447700900301');
    graph.agentReply({
      rootId,
      text: 'Here is your invoice',
      images: [{ bytes: PNG, contentType: 'image/png' }],
      files: [{ name: 'invoice.pdf', bytes: PDF, contentType: 'application/pdf' }],
    });
    const sent = await settled(rig, conversation.id);
    expect(sent.state).not.toBe('failed');
    expect(sent.text).toBe('Here is your invoice');
    const accepted = wa.ledger.filter('send.accepted', (e) => e.to === '447700900301');
    expect(accepted.map((e) => e.type)).toEqual(['text', 'image', 'document']);
    expect(accepted[0]?.text).toBe('Here is your invoice');
    expect(accepted[2]?.media?.filename).toBe('invoice.pdf');
    const uploads = wa.ledger.filter('media.uploaded', (e) => e.source === 'business');
    expect(uploads.map((u) => [u.mimeType, u.fileSize])).toEqual([
      ['image/png', PNG.byteLength],
      ['application/pdf', PDF.length],
    ]);
    // The image came from the message's hostedContents, the PDF through the shares API.
    expect(graph.ledger.filter('content.served').map((e) => e.source)).toEqual([
      'hostedContent',
      'driveItem',
    ]);
  });

  it('sends a reply that is only a pasted image as one media message, with no placeholder text', async () => {
    rig = await startRig({ whatsapp: true });
    const { graph, wa } = rig;
    const { conversation, rootId } = await waThread(rig, '447700900302');
    graph.agentReply({ rootId, images: [{ bytes: PNG, contentType: 'image/png' }] });
    const sent = await settled(rig, conversation.id);
    expect(sent.type).toBe('media');
    expect(sent.text).toBeNull();
    const accepted = wa.ledger.filter('send.accepted', (e) => e.to === '447700900302');
    expect(accepted.map((e) => [e.type, e.text])).toEqual([['image', undefined]]);
  });

  it('refuses refs to another host or another channel, without calling Graph', async () => {
    rig = await startRig({ whatsapp: true });
    const { graph } = rig;
    const { conversation, rootId } = await waThread(rig, '447700900303');
    const reply = graph.agentReply({ rootId, images: [{ bytes: PNG }] });
    await settled(rig, conversation.id);
    const genuine = imageSrc(reply.body.content);
    const instance = await rig.instance();
    const served = graph.ledger.count('content.served');
    const hosted = (url: string) => `teams-hosted:${JSON.stringify({ url, name: 'image-1' })}`;
    // The same path on another host: with our token, it would have been a leak.
    const elsewhere = genuine.replace(new URL(genuine).host, 'graph.evil.example');
    await expect(instance.fetchAttachment?.(hosted(elsewhere))).rejects.toMatchObject({
      code: 'permanent',
      message: expect.stringContaining('not a Graph hostedContents URL'),
    });
    // A channel of the tenant the connector does not serve.
    const other = '19:0ther@thread.tacv2';
    graph.addChannel(graph.teamId, other);
    const foreignRoot = graph.agentPost({ text: 'other team business', channelId: other });
    const foreign = graph.agentReply({ rootId: foreignRoot.id, channelId: other, images: [{ bytes: PNG }] });
    await expect(instance.fetchAttachment?.(hosted(imageSrc(foreign.body.content)))).rejects.toMatchObject({
      code: 'permanent',
      message: expect.stringContaining('does not serve'),
    });
    const file = (url: string) =>
      `teams-file:${JSON.stringify({ teamId: graph.teamId, channelId: graph.channelId, url, name: 'a.pdf' })}`;
    await expect(
      instance.fetchAttachment?.(file('http://contoso.sharepoint.com/a.pdf')),
    ).rejects.toMatchObject({
      code: 'permanent',
    });
    await expect(instance.fetchAttachment?.('U0123ABC')).rejects.toMatchObject({ code: 'permanent' });
    expect(graph.ledger.count('content.served')).toBe(served);
    // The genuine ref still works.
    const image = await instance.fetchAttachment?.(hosted(genuine));
    expect(image).toEqual({ bytes: PNG, mimeType: 'image/png', filename: 'image-1.png' });
  });

  it('fails a reply whose shared file was deleted once, with a notice, instead of retrying', async () => {
    rig = await startRig({ whatsapp: true });
    const { graph, wa } = rig;
    const { conversation, rootId } = await waThread(rig, '447700900304');
    const reply = graph.agentReply({
      rootId,
      files: [{ name: 'invoice.pdf', bytes: PDF, contentType: 'application/pdf' }],
    });
    // Deleted from SharePoint before the send job gets to it.
    graph.deleteFile(reply.attachments[0]?.contentUrl ?? '');
    const failed = await settled(rig, conversation.id);
    expect(failed.state).toBe('failed');
    expect(failed.error?.meaning).toMatch(/no longer available/);
    await rig.until(
      () =>
        graph
          .replies(rootId)
          .some((m) => m.postedBy === 'bridge' && /no longer available/.test(plainText(m.body))) || undefined,
    );
    await rig.settle();
    expect(shareRequests(rig)).toBe(1);
    expect(wa.ledger.filter('media.uploaded', (e) => e.source === 'business')).toEqual([]);
  });

  it('refuses a file over the size cap', async () => {
    rig = await startRig({ whatsapp: true, config: { maxAttachmentBytes: 2048 } });
    const { graph, wa } = rig;
    const { conversation, rootId } = await waThread(rig, '447700900305');
    graph.agentReply({
      rootId,
      files: [{ name: 'scan.pdf', bytes: new Uint8Array(5000).fill(0x25), contentType: 'application/pdf' }],
    });
    const failed = await settled(rig, conversation.id);
    expect(failed.state).toBe('failed');
    expect(failed.error?.meaning).toMatch(/scan\.pdf is larger than 2 kB/);
    await rig.settle();
    expect(shareRequests(rig)).toBe(1);
    expect(wa.ledger.filter('media.uploaded', (e) => e.source === 'business')).toEqual([]);
  });
});
