/**
 * The Microsoft Graph REST routes the bridge uses: the signed-in user (`/me`), channel messages
 * and replies (create, get, list, update, soft delete, set reaction, their pasted images), shared
 * files (the shares API) and subscriptions (create with the validation handshake, get, renew, reauthorize, delete).
 * Served under `/v1.0` and `/beta`.
 *
 * Enforced like Graph: bearer tokens from the token endpoint (expiry included); posting needs a
 * delegated token (application tokens are for migration only); updates only by the sender;
 * ≤ 4 requests/s per channel and 3,000 messages per channel per day (429 + Retry-After); a size
 * limit (413); an outage switch (503); injected failures (`failNext`).
 */
import { type Context, Hono } from 'hono';
import type { GraphCore, TokenGrant } from './core.ts';
import { GraphError } from './errors.ts';
import type { ChatMessageAttachment, ChatMessageRecord, ItemBody } from './types.ts';

const MAX_TOP = 50;

export function createGraphApi(core: GraphCore): Hono {
  const app = new Hono();

  app.use('*', async (c, next) => {
    const receivedAt = core.now();
    let identity: 'app' | 'user' | 'none' = 'none';
    try {
      const grant = core.authenticate(c.req.header('authorization'));
      identity = grant.kind;
      c.set('grant' as never, grant as never);
      await next();
      const deferred = c.get('deferred' as never) as GraphError | undefined;
      if (deferred) c.res = errorResponse(core, deferred);
    } catch (error) {
      c.res = errorResponse(core, error);
    }
    core.record({
      kind: 'api.request',
      method: c.req.method,
      path: new URL(c.req.url).pathname,
      status: c.res.status,
      identity,
      receivedAt,
    });
  });
  app.onError((error) => errorResponse(core, error));

  const admitApp = (c: Context) => {
    const deferred = core.admit(null);
    if (deferred) c.set('deferred' as never, deferred as never);
  };
  const grantOf = (c: Context): TokenGrant => c.get('grant' as never) as TokenGrant;
  const requireUser = (c: Context, what?: string) => {
    const grant = grantOf(c);
    if (grant.kind !== 'user' || !grant.userId) {
      if (what) {
        throw new GraphError(400, 'BadRequest', `${what} is only valid with delegated authentication flow.`);
      }
      throw new GraphError(
        403,
        'Forbidden',
        'Message POST is allowed in application-only context only for import purposes. Refer to https://docs.microsoft.com/microsoftteams/platform/graph-api/import-messages/import-external-messages-to-teams for more details.',
      );
    }
    const user = core.users.get(grant.userId);
    if (!user) throw new GraphError(403, 'Forbidden', 'Unknown user.');
    return user;
  };
  const channelOf = (c: Context) => {
    const teamId = c.req.param('team') ?? '';
    const channelId = c.req.param('channel') ?? '';
    // A token sees its own tenant's teams only; another tenant's answer 404 like a missing one.
    core.channel(teamId, channelId, grantOf(c).tenantId);
    const deferred = core.admit(`${teamId}/${channelId}`);
    if (deferred) c.set('deferred' as never, deferred as never);
    return { teamId, channelId };
  };

  // ------------------------------------------------------------------------ who am I, which teams
  // What a picker of "teams and channels this account can post to" reads
  // (https://learn.microsoft.com/graph/api/user-list-joinedteams, …/channel-list).
  const version = '/:version{v1\\.0|beta}';
  app.get(`${version}/me`, (c) => {
    admitApp(c);
    const user = requireUser(c, 'GET /me');
    return c.json({
      '@odata.context': 'https://graph.microsoft.com/v1.0/$metadata#users/$entity',
      id: user.id,
      displayName: user.displayName,
      userPrincipalName: user.userPrincipalName,
      mail: user.userPrincipalName,
    });
  });
  app.get(`${version}/me/joinedTeams`, (c) => {
    admitApp(c);
    const user = requireUser(c, 'GET /me/joinedTeams');
    return c.json({
      '@odata.context': 'https://graph.microsoft.com/v1.0/$metadata#teams',
      '@odata.count': core.joinedTeams(user.id).length,
      value: core.joinedTeams(user.id).map((t) => teamJson(t)),
    });
  });
  app.get(`${version}/teams/:team`, (c) => {
    admitApp(c);
    return c.json(teamJson(core.team(c.req.param('team'), grantOf(c).tenantId)));
  });
  app.get(`${version}/teams/:team/channels`, (c) => {
    admitApp(c);
    const team = core.team(c.req.param('team'), grantOf(c).tenantId);
    const channels = core.channelsOf(team.id).map((ch) => channelJson(core, ch));
    return c.json({
      '@odata.context': `https://graph.microsoft.com/v1.0/$metadata#teams('${team.id}')/channels`,
      '@odata.count': channels.length,
      value: channels,
    });
  });
  app.get(`${version}/teams/:team/channels/:channel`, (c) => {
    admitApp(c);
    const team = core.team(c.req.param('team'), grantOf(c).tenantId);
    const channel = core.channel(team.id, c.req.param('channel'), team.tenantId);
    return c.json(channelJson(core, channel));
  });

  // --------------------------------------------------------------------------------- messages
  const base = '/:version{v1\\.0|beta}/teams/:team/channels/:channel/messages';

  /** Posting needs a member of the team (https://learn.microsoft.com/graph/api/chatmessage-post). */
  const requireMember = (c: Context, teamId: string) => {
    const user = requireUser(c);
    if (!core.joinedTeams(user.id).some((t) => t.id === teamId)) {
      throw new GraphError(403, 'Forbidden', `User ${user.id} is not a member of team ${teamId}.`);
    }
    return user;
  };

  app.post(base, async (c) => {
    const { teamId, channelId } = channelOf(c);
    const user = requireMember(c, teamId);
    const input = parseMessageInput(await c.req.json());
    const message = core.createMessage({ teamId, channelId, replyToId: null, ...input, user, by: 'bridge' });
    return c.json(core.toJson(message), 201);
  });
  app.get(base, (c) => {
    const { teamId, channelId } = channelOf(c);
    const roots = [...core.roots(teamId, channelId)].reverse();
    const expand = (c.req.query('$expand') ?? '').split(',').includes('replies');
    return c.json(
      page(c, roots, (m) => ({
        ...core.toJson(m),
        ...(expand
          ? { replies: [...core.replies(teamId, channelId, m.id)].reverse().map((r) => core.toJson(r)) }
          : {}),
      })),
    );
  });
  app.get(`${base}/:id`, (c) => {
    const { teamId, channelId } = channelOf(c);
    return c.json(core.toJson(core.getMessage(teamId, channelId, c.req.param('id'), null)));
  });
  app.patch(`${base}/:id`, async (c) => {
    const { teamId, channelId } = channelOf(c);
    const message = core.getMessage(teamId, channelId, c.req.param('id'), null);
    await update(c, message);
    return c.body(null, 204);
  });
  app.post(`${base}/:id/softDelete`, (c) => {
    const { teamId, channelId } = channelOf(c);
    const message = core.getMessage(teamId, channelId, c.req.param('id'), null);
    ownMessage(c, message);
    core.softDelete(message);
    return c.body(null, 204);
  });
  app.post(`${base}/:id/setReaction`, async (c) => {
    const { teamId, channelId } = channelOf(c);
    const user = requireUser(c);
    const message = core.getMessage(teamId, channelId, c.req.param('id'), null);
    core.setReaction(message, user, reactionOf(await c.req.json()));
    return c.body(null, 204);
  });

  app.post(`${base}/:id/replies`, async (c) => {
    const { teamId, channelId } = channelOf(c);
    const user = requireMember(c, teamId);
    const input = parseMessageInput(await c.req.json());
    const message = core.createMessage({
      teamId,
      channelId,
      replyToId: c.req.param('id'),
      ...input,
      subject: null,
      user,
      by: 'bridge',
    });
    return c.json(core.toJson(message), 201);
  });
  app.get(`${base}/:id/replies`, (c) => {
    const { teamId, channelId } = channelOf(c);
    const root = core.getMessage(teamId, channelId, c.req.param('id'), null);
    // Newest first, like Teams; clients must not rely on any order.
    const replies = [...core.replies(teamId, channelId, root.id)].reverse();
    return c.json(page(c, replies, (m) => core.toJson(m)));
  });
  app.get(`${base}/:id/replies/:reply`, (c) => {
    const { teamId, channelId } = channelOf(c);
    return c.json(core.toJson(core.getMessage(teamId, channelId, c.req.param('reply'), c.req.param('id'))));
  });
  app.patch(`${base}/:id/replies/:reply`, async (c) => {
    const { teamId, channelId } = channelOf(c);
    const message = core.getMessage(teamId, channelId, c.req.param('reply'), c.req.param('id'));
    await update(c, message);
    return c.body(null, 204);
  });
  app.post(`${base}/:id/replies/:reply/softDelete`, (c) => {
    const { teamId, channelId } = channelOf(c);
    const message = core.getMessage(teamId, channelId, c.req.param('reply'), c.req.param('id'));
    ownMessage(c, message);
    core.softDelete(message);
    return c.body(null, 204);
  });
  app.post(`${base}/:id/replies/:reply/setReaction`, async (c) => {
    const { teamId, channelId } = channelOf(c);
    const user = requireUser(c);
    const message = core.getMessage(teamId, channelId, c.req.param('reply'), c.req.param('id'));
    core.setReaction(message, user, reactionOf(await c.req.json()));
    return c.body(null, 204);
  });

  // ---------------------------------------------------------------------- images and shared files
  // Pasted images: any token of the tenant (Graph: ChannelMessage.Read.All or the RSC
  // ChannelMessage.Read.Group), paced with the channel's other requests.
  const hostedContent = (c: Context, message: ChatMessageRecord) => {
    if (message.deletedDateTime) throw new GraphError(404, 'NotFound', `message ${message.id} not found`);
    const key = core.messageKey(message.teamId, message.channelId, message.id);
    const id = c.req.param('hosted') ?? '';
    const found = core.content.hostedContent(key, id);
    core.record({ kind: 'content.served', source: 'hostedContent', id, bytes: found.bytes.byteLength });
    return new Response(found.bytes, {
      status: 200,
      headers: { 'content-type': found.contentType, 'content-length': String(found.bytes.byteLength) },
    });
  };
  app.get(`${base}/:id/hostedContents/:hosted/$value`, (c) => {
    const { teamId, channelId } = channelOf(c);
    return hostedContent(c, core.getMessage(teamId, channelId, c.req.param('id'), null));
  });
  app.get(`${base}/:id/replies/:reply/hostedContents/:hosted/$value`, (c) => {
    const { teamId, channelId } = channelOf(c);
    return hostedContent(c, core.getMessage(teamId, channelId, c.req.param('reply'), c.req.param('id')));
  });
  // Shared files (Graph: Files.Read.All): 302 to a pre-authenticated download URL, as Graph does.
  app.get('/:version{v1\\.0|beta}/shares/:share/driveItem/content', (c) => {
    admitApp(c);
    const location = `${core.baseUrl}${core.content.downloadPath(c.req.param('share'))}`;
    return c.body(null, 302, { location });
  });

  function ownMessage(c: Context, message: ChatMessageRecord) {
    const user = requireUser(c);
    if (message.from.user?.id !== user.id) {
      throw new GraphError(403, 'Forbidden', 'Only the sender of a message can change it.');
    }
  }

  async function update(c: Context, message: ChatMessageRecord) {
    ownMessage(c, message);
    const json = (await c.req.json()) as Record<string, unknown>;
    const patch: { body?: ItemBody; attachments?: ChatMessageAttachment[]; subject?: string | null } = {};
    if (json.body !== undefined) patch.body = parseBody(json.body);
    if (json.attachments !== undefined) patch.attachments = parseAttachments(json.attachments);
    if (typeof json.subject === 'string' || json.subject === null)
      patch.subject = json.subject as string | null;
    const content = patch.body ?? message.body;
    for (const attachment of patch.attachments ?? []) {
      if (!content.content.includes(`<attachment id="${attachment.id}"></attachment>`)) {
        throw new GraphError(400, 'BadRequest', `Attachment ${attachment.id} is not referenced in the body.`);
      }
    }
    core.updateMessage(message, patch, 'bridge');
  }

  // --------------------------------------------------------------------------------- subscriptions
  const subs = '/:version{v1\\.0|beta}/subscriptions';
  app.post(subs, async (c) => {
    admitApp(c);
    const subscription = await core.createSubscription(
      (await c.req.json()) as Record<string, unknown>,
      grantOf(c),
    );
    return c.json(subscriptionJson(subscription), 201);
  });
  app.get(subs, (c) => {
    admitApp(c);
    const tenantId = grantOf(c).tenantId;
    return c.json({
      value: [...core.subscriptions.values()]
        .filter((s) => core.subscriptionTenant.get(s.id) === tenantId)
        .map(subscriptionJson),
    });
  });
  app.get(`${subs}/:id`, (c) => {
    admitApp(c);
    return c.json(subscriptionJson(core.liveSubscription(c.req.param('id'), grantOf(c).tenantId)));
  });
  app.patch(`${subs}/:id`, async (c) => {
    admitApp(c);
    const json = (await c.req.json()) as Record<string, unknown>;
    if (typeof json.expirationDateTime !== 'string') {
      throw new GraphError(400, 'InvalidRequest', 'expirationDateTime is required.');
    }
    return c.json(
      subscriptionJson(
        core.renewSubscription(c.req.param('id'), json.expirationDateTime, grantOf(c).tenantId),
      ),
    );
  });
  app.post(`${subs}/:id/reauthorize`, (c) => {
    admitApp(c);
    core.reauthorizeSubscription(c.req.param('id'), grantOf(c).tenantId);
    return c.body(null, 204);
  });
  app.delete(`${subs}/:id`, (c) => {
    admitApp(c);
    core.deleteSubscription(c.req.param('id'), grantOf(c).tenantId);
    return c.body(null, 204);
  });

  return app;
}

function teamJson(team: { id: string; displayName: string; tenantId: string }): Record<string, unknown> {
  return {
    id: team.id,
    displayName: team.displayName,
    description: null,
    isArchived: false,
    tenantId: team.tenantId,
  };
}

function channelJson(
  core: GraphCore,
  channel: { teamId: string; channelId: string; displayName: string; createdAt: number },
): Record<string, unknown> {
  return {
    id: channel.channelId,
    createdDateTime: new Date(channel.createdAt).toISOString(),
    displayName: channel.displayName,
    description: null,
    email: '',
    tenantId: core.tenantOf(channel.teamId),
    membershipType: 'standard',
    webUrl: `https://teams.microsoft.com/l/channel/${encodeURIComponent(channel.channelId)}/${encodeURIComponent(channel.displayName)}?groupId=${channel.teamId}&tenantId=${core.tenantOf(channel.teamId)}`,
  };
}

function subscriptionJson(s: import('./types.ts').SubscriptionRecord): Record<string, unknown> {
  const { reauthorizationRequired: _r, ...rest } = s;
  return { '@odata.context': 'https://graph.microsoft.com/v1.0/$metadata#subscriptions/$entity', ...rest };
}

function page<T>(c: Context, items: T[], render: (item: T) => unknown): Record<string, unknown> {
  const top = Math.min(MAX_TOP, Math.max(1, Number(c.req.query('$top') ?? 20) || 20));
  const skipToken = c.req.query('$skiptoken');
  const offset = skipToken ? Number(Buffer.from(skipToken, 'base64url').toString()) || 0 : 0;
  const slice = items.slice(offset, offset + top);
  const result: Record<string, unknown> = { '@odata.count': slice.length, value: slice.map(render) };
  if (offset + top < items.length) {
    const next = new URL(c.req.url);
    next.searchParams.set('$top', String(top));
    next.searchParams.set('$skiptoken', Buffer.from(String(offset + top)).toString('base64url'));
    result['@odata.nextLink'] = next.toString();
  }
  return result;
}

function parseBody(value: unknown): ItemBody {
  const body = value as { contentType?: unknown; content?: unknown } | null;
  if (!body || typeof body.content !== 'string')
    throw new GraphError(400, 'BadRequest', 'body.content is required.');
  const type = body.contentType === undefined ? 'text' : String(body.contentType).toLowerCase();
  if (type !== 'text' && type !== 'html')
    throw new GraphError(400, 'BadRequest', `Unsupported contentType ${type}.`);
  return { contentType: type, content: body.content };
}

function parseAttachments(value: unknown): ChatMessageAttachment[] {
  if (!Array.isArray(value)) throw new GraphError(400, 'BadRequest', 'attachments must be an array.');
  return value.map((a: Record<string, unknown>) => {
    if (typeof a.id !== 'string' || typeof a.contentType !== 'string') {
      throw new GraphError(400, 'BadRequest', 'Each attachment needs an id and a contentType.');
    }
    if (a.contentType === 'application/vnd.microsoft.card.adaptive') {
      try {
        const card = JSON.parse(String(a.content)) as { type?: unknown };
        if (card.type !== 'AdaptiveCard') throw new Error('not a card');
      } catch {
        throw new GraphError(
          400,
          'BadRequest',
          `Attachment ${a.id}: content must be an Adaptive Card in JSON.`,
        );
      }
    }
    return {
      id: a.id,
      contentType: a.contentType,
      content: typeof a.content === 'string' ? a.content : null,
      contentUrl: typeof a.contentUrl === 'string' ? a.contentUrl : null,
      name: typeof a.name === 'string' ? a.name : null,
      thumbnailUrl: null,
    };
  });
}

function parseMessageInput(json: unknown): {
  body: ItemBody;
  subject: string | null;
  attachments: ChatMessageAttachment[];
} {
  const input = json as Record<string, unknown>;
  return {
    body: parseBody(input.body),
    subject: typeof input.subject === 'string' ? input.subject : null,
    attachments: input.attachments === undefined ? [] : parseAttachments(input.attachments),
  };
}

function reactionOf(json: unknown): string {
  const type = (json as { reactionType?: unknown }).reactionType;
  if (typeof type !== 'string' || type === '')
    throw new GraphError(400, 'BadRequest', 'reactionType is required.');
  return type;
}

export function errorResponse(core: GraphCore, error: unknown): Response {
  const e =
    error instanceof GraphError
      ? error
      : error instanceof SyntaxError
        ? new GraphError(400, 'BadRequest', 'Invalid JSON in the request body.')
        : new GraphError(500, 'InternalServerError', error instanceof Error ? error.message : String(error));
  return new Response(
    JSON.stringify({
      error: {
        code: e.code,
        message: e.message,
        innerError: {
          date: new Date(core.now()).toISOString(),
          'request-id': crypto.randomUUID(),
          'client-request-id': crypto.randomUUID(),
        },
      },
    }),
    { status: e.status, headers: { 'content-type': 'application/json', ...e.headers } },
  );
}
