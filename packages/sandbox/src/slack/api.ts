/**
 * Slack's Web API over HTTP (`POST|GET /api/<method>`), the upload URLs of the files v2 flow and
 * `url_private` downloads. Like Slack: HTTP 200 with `{ ok: false, error }` for method errors,
 * HTTP 429 + `Retry-After` (seconds) when rate limited, arguments as form fields, a JSON body or
 * multipart, and the token as `Authorization: Bearer` or a `token` field.
 */
import { Hono } from 'hono';
import type { SlackCore } from './core.ts';
import { METHOD_SCOPES, type SlackAuth } from './installs.ts';
import { OAUTH_METHODS } from './oauth.ts';
import { checkWebApiRequest, checkWebApiResponse, specCovers } from './spec.ts';
import { SlackApiError, type StoredMessage, sha256Hex } from './state.ts';

export type Args = Record<string, unknown>;

/** What a method handler may see and act as: the calling token's installation and workspaces. */
export interface CallContext {
  auth: SlackAuth;
  /** Whether the token may see workspace `teamId` (else the object is "not found"). */
  visible: (teamId: string) => boolean;
  /** "You": the bot user (or the person of a user token). */
  userId: string;
  botId: string | undefined;
  /** The token's workspace (for an org-wide token, its first workspace). */
  teamId: string;
  /** The workspace an org-wide call acts on: `team_id` when given and visible, else the token's. */
  teamFor: (teamId: string | undefined) => string;
}

type Handler = (args: Args, core: SlackCore, ctx: CallContext) => Record<string, unknown>;

const MAX_TEXT = 40_000;
const MAX_BLOCKS = 50;
const EMOJI_NAME = /^[a-z0-9_+'-]+(::skin-tone-[2-6])?$/;

export function createWebApi(core: SlackCore): Hono {
  const app = new Hono();

  app.on(['GET', 'POST'], '/api/:method', async (c) => {
    const method = c.req.param('method');
    const respond = (body: Record<string, unknown>, status = 200, headers: Record<string, string> = {}) => {
      core.record({
        kind: 'api.call',
        method,
        ok: body.ok === true,
        error: typeof body.error === 'string' ? body.error : undefined,
        httpStatus: status,
      });
      return c.json(body, status as 200, headers);
    };
    if (core.down) return respond({ ok: false, error: 'service_unavailable' }, 503);
    const failure = core.takeFailure();
    if (failure?.kind === 'rate_limited') {
      const seconds = failure.retryAfterSeconds ?? 1;
      core.record({ kind: 'api.rate_limited', method, key: 'fail_next', retryAfterSeconds: seconds });
      return respond({ ok: false, error: 'ratelimited' }, 429, { 'retry-after': String(seconds) });
    }
    if (failure?.kind === 'unavailable')
      return respond({ ok: false, error: 'service_unavailable' }, failure.status ?? 503);
    if (failure?.kind === 'error') return respond({ ok: false, error: failure.error });
    if (failure?.kind === 'reset') return respond({ ok: false, error: 'internal_error' }, 500);

    let args: Args;
    let token: string | undefined;
    let basic: string | undefined;
    try {
      ({ args, token, basic } = await readArgs(c.req.raw));
    } catch {
      return respond({ ok: false, error: 'invalid_form_data' });
    }
    // OAuth methods authenticate the app (client id and secret), not a token.
    const oauthMethod = OAUTH_METHODS[method];
    if (oauthMethod) return respond(await oauthMethod(core, { args, token, basic }));
    if (!token) return respond({ ok: false, error: 'not_authed' });
    const auth = core.installs.authenticate(token);
    if (typeof auth === 'string') return respond({ ok: false, error: auth });
    const handler = METHODS[method];
    if (!handler) return respond({ ok: false, error: 'unknown_method', req_method: method });
    const needed = METHOD_SCOPES[method];
    if (needed && !auth.token.scopes.includes(needed)) {
      core.record({
        kind: 'api.denied',
        method,
        error: 'missing_scope',
        teamId: auth.installation.teamId ?? auth.installation.enterpriseId,
        needed,
      });
      return respond({ ok: false, error: 'missing_scope', needed, provided: auth.token.scopes.join(',') });
    }
    if (core.validateRequests) {
      const errors = specCovers(method) ? checkWebApiRequest(method, args) : (CHECKS[method]?.(args) ?? []);
      if (errors.length > 0) {
        core.record({ kind: 'api.invalid', method, errors });
        return respond({ ok: false, error: 'invalid_arguments', response_metadata: { messages: errors } });
      }
    }
    if (core.chaos?.throttle()) {
      const seconds = core.chaos.retryAfterSeconds;
      core.record({ kind: 'api.rate_limited', method, key: 'chaos', retryAfterSeconds: seconds });
      return respond({ ok: false, error: 'ratelimited' }, 429, { 'retry-after': String(seconds) });
    }
    const channel = str(args.channel) ?? str(args.channel_id);
    const limited = core.takeQuota(method, channel, auth.installation.key);
    if (limited) {
      core.record({
        kind: 'api.rate_limited',
        method,
        key: limited.key,
        retryAfterSeconds: limited.retryAfterSeconds,
      });
      return respond({ ok: false, error: 'ratelimited' }, 429, {
        'retry-after': String(limited.retryAfterSeconds),
      });
    }
    try {
      const body = { ok: true, ...handler(args, core, contextOf(core, auth)) };
      if (core.validateRequests) {
        // The emulator's own answers are checked against Slack's published response schemas.
        const problems = checkWebApiResponse(method, body);
        if (problems.length > 0)
          throw new Error(`the Slack emulator built an invalid ${method} answer: ${problems.join('; ')}`);
      }
      return respond(body);
    } catch (error) {
      if (error instanceof SlackApiError) return respond({ ok: false, error: error.error, ...error.extra });
      throw error;
    }
  });

  // Step 2 of the files v2 flow: the bytes, raw or as a multipart form (what @slack/web-api sends).
  app.post('/upload/v1/:fileId', async (c) => {
    const file = core.workspace.files.get(c.req.param('fileId'));
    if (!file || file.completed) return c.text('invalid upload url', 404);
    const type = c.req.header('content-type') ?? '';
    let bytes: Uint8Array;
    if (type.startsWith('multipart/form-data')) {
      const form = await c.req.formData();
      const part = [...form.values()].find((v): v is File => typeof v !== 'string');
      if (!part) return c.text('no file in form', 400);
      bytes = new Uint8Array(await part.arrayBuffer());
    } else {
      bytes = new Uint8Array(await c.req.arrayBuffer());
    }
    file.bytes = bytes;
    core.record({
      kind: 'file.uploaded',
      fileId: file.id,
      filename: file.filename,
      size: bytes.byteLength,
      sha256: sha256Hex(bytes),
    });
    return c.text(`OK - ${bytes.byteLength}`);
  });

  // `url_private` / `url_private_download`: only with a token of the file's workspace, like Slack.
  app.get('/files-pri/:key/:name', (c) => {
    const header = c.req.header('authorization') ?? '';
    const auth = header.startsWith('Bearer ') ? core.installs.authenticate(header.slice(7)) : 'not_authed';
    if (typeof auth === 'string') return c.text('not authorized', 403);
    const id = c.req.param('key').split('-').slice(1).join('-');
    const file = core.workspace.files.get(id);
    if (!file || file.deleted || !file.bytes || !auth.teamIds.has(file.teamId))
      return c.text('file not found', 404);
    return c.body(new Uint8Array(file.bytes), 200, {
      'content-type': file.mimetype,
      'content-disposition': `attachment; filename="${file.filename}"`,
    });
  });

  return app;
}

async function readArgs(
  request: Request,
): Promise<{ args: Args; token: string | undefined; basic: string | undefined }> {
  const url = new URL(request.url);
  const args: Args = Object.fromEntries(url.searchParams);
  if (request.method === 'POST') {
    const type = request.headers.get('content-type') ?? '';
    if (type.startsWith('application/json')) {
      const text = await request.text();
      if (text.trim() !== '') Object.assign(args, JSON.parse(text) as Args);
    } else if (type.startsWith('multipart/form-data')) {
      const form = await request.formData();
      for (const [key, value] of form) if (typeof value === 'string') args[key] = value;
    } else {
      Object.assign(args, Object.fromEntries(new URLSearchParams(await request.text())));
    }
  }
  const header = request.headers.get('authorization');
  const token = header?.startsWith('Bearer ') ? header.slice(7) : str(args.token);
  delete args.token;
  return { args, token, basic: header?.startsWith('Basic ') ? header : undefined };
}

function contextOf(core: SlackCore, auth: SlackAuth): CallContext {
  const teams = [...auth.teamIds];
  const home = auth.installation.teamId ?? teams[0] ?? core.teamId;
  return {
    auth,
    visible: (teamId) => auth.teamIds.has(teamId),
    userId: auth.userId,
    botId: auth.botId,
    teamId: home,
    teamFor: (teamId) => (teamId !== undefined && auth.teamIds.has(teamId) ? teamId : home),
  };
}

/** auth.test as Slack answers it for a workspace token or an org-wide one (docs.slack.dev/reference/methods/auth.test). */
function authTest(core: SlackCore, ctx: CallContext): Record<string, unknown> {
  const { installation, token } = ctx.auth;
  const enterprise = installation.enterpriseId
    ? core.installs.enterprises.get(installation.enterpriseId)
    : undefined;
  const team = installation.teamId ? core.installs.team(installation.teamId) : undefined;
  const user = core.users.get(ctx.userId);
  return {
    url: team
      ? `https://${team.domain}.slack.com/`
      : `https://${enterprise?.domain ?? 'org'}.enterprise.slack.com/`,
    team: team?.name ?? enterprise?.name ?? '',
    user:
      token.tokenType === 'bot' ? 'wabridge' : (user?.name.toLowerCase().replace(/\s+/g, '.') ?? ctx.userId),
    // An org-wide token is not tied to a workspace: it answers with the organization.
    team_id: team?.id ?? enterprise?.id ?? '',
    user_id: ctx.userId,
    ...(ctx.botId ? { bot_id: ctx.botId } : {}),
    ...(installation.enterpriseId ? { enterprise_id: installation.enterpriseId } : {}),
    is_enterprise_install: installation.isEnterpriseInstall,
    ...(token.expiresAt !== null
      ? { expires_in: Math.max(0, Math.floor((token.expiresAt - core.clock.now()) / 1000)) }
      : {}),
  };
}

const str = (value: unknown): string | undefined =>
  typeof value === 'string' && value !== '' ? value : typeof value === 'number' ? String(value) : undefined;

const bool = (value: unknown): boolean => value === true || value === 'true' || value === '1' || value === 1;

/** A field the spec describes as JSON text: parsed from a form, taken as is from a JSON body. */
function json(value: unknown, error: string): unknown {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value) as unknown;
  } catch {
    throw new SlackApiError(error);
  }
}

function blocksOf(value: unknown): unknown[] | undefined {
  const blocks = json(value, 'invalid_blocks');
  if (blocks === undefined) return undefined;
  if (!Array.isArray(blocks) || blocks.length > MAX_BLOCKS) throw new SlackApiError('invalid_blocks');
  for (const block of blocks) {
    if (
      typeof block !== 'object' ||
      block === null ||
      typeof (block as { type?: unknown }).type !== 'string'
    ) {
      throw new SlackApiError('invalid_blocks');
    }
  }
  return blocks;
}

function metadataOf(value: unknown): StoredMessage['metadata'] {
  const metadata = json(value, 'invalid_metadata_format') as
    | { event_type?: unknown; event_payload?: unknown }
    | undefined;
  if (metadata === undefined) return undefined;
  if (
    typeof metadata.event_type !== 'string' ||
    typeof metadata.event_payload !== 'object' ||
    metadata.event_payload === null
  ) {
    throw new SlackApiError('invalid_metadata_format');
  }
  return {
    event_type: metadata.event_type,
    event_payload: metadata.event_payload as Record<string, unknown>,
  };
}

function page<T>(items: T[], args: Args): { items: T[]; next: string } {
  const limit = Math.min(Math.max(Number(args.limit ?? 100) || 100, 1), 999);
  const offset = args.cursor
    ? Number(Buffer.from(String(args.cursor), 'base64url').toString().replace('offset:', ''))
    : 0;
  const slice = items.slice(offset, offset + limit);
  const next =
    offset + limit < items.length ? Buffer.from(`offset:${offset + limit}`).toString('base64url') : '';
  return { items: slice, next };
}

function inRange(ts: string, args: Args): boolean {
  const value = Number(ts);
  const inclusive = bool(args.inclusive);
  if (args.oldest !== undefined && args.oldest !== '') {
    const oldest = Number(args.oldest);
    if (inclusive ? value < oldest : value <= oldest) return false;
  }
  if (args.latest !== undefined && args.latest !== '') {
    const latest = Number(args.latest);
    if (inclusive ? value > latest : value >= latest) return false;
  }
  return true;
}

function ownMessage(core: SlackCore, ctx: CallContext, args: Args, denied: string): StoredMessage {
  const message = core.workspace.message(args.channel, args.ts, ctx.visible);
  if (message.user !== ctx.userId) throw new SlackApiError(denied);
  return message;
}

/** Checks for methods the vendored spec does not cover (from Slack's method reference pages). */
const CHECKS: Record<string, (args: Args) => string[]> = {
  'files.getUploadURLExternal': (args) => [
    ...(str(args.filename) ? [] : ['[ERROR] missing required field: filename']),
    ...(/^\d+$/.test(String(args.length ?? '')) && Number(args.length) > 0
      ? []
      : ['[ERROR] length must be a positive integer']),
  ],
  'files.completeUploadExternal': (args) => {
    let files: unknown;
    try {
      files = json(args.files, 'invalid_arguments');
    } catch {
      return ['[ERROR] files must be JSON'];
    }
    const valid =
      Array.isArray(files) &&
      files.length > 0 &&
      files.length <= 100 &&
      files.every(
        (f) => typeof f === 'object' && f !== null && typeof (f as { id?: unknown }).id === 'string',
      );
    return valid ? [] : ['[ERROR] files must be an array of 1 to 100 objects with an id'];
  },
};

const METHODS: Record<string, Handler> = {
  'auth.test': (_args, core, ctx) => authTest(core, ctx),

  'users.info': (args, core, ctx) => {
    const user = core.users.get(String(args.user));
    if (!user || (user.teamId !== undefined && !ctx.visible(user.teamId)))
      throw new SlackApiError('user_not_found');
    return {
      user: {
        id: user.id,
        team_id: user.teamId ?? ctx.teamId,
        name: user.name.toLowerCase().replace(/\s+/g, '.'),
        real_name: user.name,
        is_bot: false,
        profile: { real_name: user.name, display_name: user.name },
      },
    };
  },

  'conversations.info': (args, core, ctx) => {
    const channel = core.workspace.channel(args.channel, ctx.visible);
    return {
      channel: {
        id: channel.info.id,
        name: channel.info.name,
        name_normalized: channel.info.name,
        is_channel: true,
        is_group: false,
        is_im: false,
        is_mpim: false,
        is_private: false,
        is_archived: false,
        is_general: false,
        is_shared: false,
        is_org_shared: false,
        is_member: true,
        created: channel.created,
        creator: ctx.userId,
        unlinked: 0,
        topic: { value: '', creator: '', last_set: 0 },
        purpose: { value: 'WhatsApp conversations', creator: '', last_set: 0 },
        previous_names: [],
      },
    };
  },

  'conversations.history': (args, core, ctx) => {
    const channel = core.workspace.channel(args.channel, ctx.visible);
    const messages = core.workspace
      .history(channel.info.id)
      .filter((m) => inRange(m.ts, args))
      .reverse();
    const { items, next } = page(messages, args);
    return {
      messages: items.map((m) => core.serializeMessage(m, { metadata: bool(args.include_all_metadata) })),
      has_more: next !== '',
      pin_count: 0,
      response_metadata: { next_cursor: next },
    };
  },

  'conversations.replies': (args, core, ctx) => {
    const ts = str(args.ts);
    if (!ts) throw new SlackApiError('thread_not_found');
    const channel = core.workspace.channel(args.channel, ctx.visible);
    const [parent, ...replies] = core.workspace.thread(channel.info.id, ts);
    const all = [parent as StoredMessage, ...replies.filter((m) => inRange(m.ts, args))];
    const { items, next } = page(all, args);
    return {
      messages: items.map((m) => core.serializeMessage(m, { metadata: bool(args.include_all_metadata) })),
      has_more: next !== '',
      response_metadata: { next_cursor: next },
    };
  },

  'chat.postMessage': (args, core, ctx) => {
    const text = str(args.text) ?? '';
    const blocks = blocksOf(args.blocks);
    const metadata = metadataOf(args.metadata);
    if (text === '' && !blocks && !args.attachments) throw new SlackApiError('no_text');
    if (text.length > MAX_TEXT) throw new SlackApiError('msg_too_long');
    core.workspace.channel(args.channel, ctx.visible);
    const message = core.workspace.addMessage({
      channel: String(args.channel),
      threadTs: str(args.thread_ts),
      user: ctx.userId,
      botId: ctx.botId,
      appId: core.appId,
      username: str(args.username),
      text,
      blocks,
      metadata,
      fileIds: [],
      subtype: undefined,
      userProfile: undefined,
    });
    core.record({
      kind: 'message.posted',
      channel: message.channel,
      ts: message.ts,
      threadTs: message.threadTs,
      user: message.user,
      bot: true,
      text,
      subtype: undefined,
      fileIds: [],
      metadata,
    });
    const serialized = core.serializeMessage(message);
    core.echo({ ...serialized, channel: message.channel, channel_type: 'channel', event_ts: message.ts });
    return { channel: message.channel, ts: message.ts, message: serialized };
  },

  'chat.update': (args, core, ctx) => {
    const message = ownMessage(core, ctx, args, 'cant_update_message');
    const previous = core.serializeMessage(message);
    const blocks = blocksOf(args.blocks);
    const text = str(args.text);
    if (text === undefined && !blocks) throw new SlackApiError('no_text');
    if (text !== undefined) {
      if (text.length > MAX_TEXT) throw new SlackApiError('msg_too_long');
      message.text = text;
    }
    if (blocks) message.blocks = blocks;
    const ts = core.workspace.nextTs();
    message.edited = { user: ctx.userId, ts };
    core.record({
      kind: 'message.updated',
      channel: message.channel,
      ts: message.ts,
      text: message.text,
      user: ctx.userId,
    });
    core.echo({
      type: 'message',
      subtype: 'message_changed',
      hidden: true,
      channel: message.channel,
      channel_type: 'channel',
      ts,
      event_ts: ts,
      message: core.serializeMessage(message),
      previous_message: previous,
    });
    return {
      channel: message.channel,
      ts: message.ts,
      text: message.text,
      message: core.serializeMessage(message),
    };
  },

  'chat.delete': (args, core, ctx) => {
    const message = ownMessage(core, ctx, args, 'cant_delete_message');
    const previous = core.serializeMessage(message);
    if (message.threadTs === undefined && core.workspace.replies(message.channel, message.ts).length > 0) {
      // A parent with replies stays as a tombstone so the thread survives, as in Slack.
      Object.assign(message, {
        text: 'This message was deleted.',
        subtype: 'tombstone',
        blocks: undefined,
        metadata: undefined,
      });
    } else {
      core.workspace.removeMessage(message);
    }
    core.record({ kind: 'message.deleted', channel: message.channel, ts: message.ts, user: ctx.userId });
    const ts = core.workspace.nextTs();
    core.echo({
      type: 'message',
      subtype: 'message_deleted',
      hidden: true,
      channel: message.channel,
      channel_type: 'channel',
      ts,
      event_ts: ts,
      deleted_ts: message.ts,
      previous_message: previous,
    });
    return { channel: message.channel, ts: message.ts };
  },

  'chat.getPermalink': (args, core, ctx) => {
    const message = core.workspace.message(args.channel, args.message_ts, ctx.visible);
    return {
      channel: message.channel,
      permalink: core.permalink(message.channel, message.ts, message.threadTs),
    };
  },

  'reactions.add': (args, core, ctx) => {
    const name = String(args.name).replace(/^:|:$/g, '');
    if (!EMOJI_NAME.test(name)) throw new SlackApiError('invalid_name');
    const message = core.workspace.message(args.channel, args.timestamp, ctx.visible);
    const users = message.reactions.get(name) ?? [];
    if (users.includes(ctx.userId)) throw new SlackApiError('already_reacted');
    message.reactions.set(name, [...users, ctx.userId]);
    core.record({
      kind: 'reaction.added',
      channel: message.channel,
      ts: message.ts,
      name,
      user: ctx.userId,
    });
    return {};
  },

  'reactions.remove': (args, core, ctx) => {
    const name = String(args.name).replace(/^:|:$/g, '');
    if (!args.channel || !args.timestamp) throw new SlackApiError('no_item_specified');
    const message = core.workspace.message(args.channel, args.timestamp, ctx.visible);
    const users = message.reactions.get(name) ?? [];
    if (!users.includes(ctx.userId)) throw new SlackApiError('no_reaction');
    const left = users.filter((u) => u !== ctx.userId);
    if (left.length > 0) message.reactions.set(name, left);
    else message.reactions.delete(name);
    core.record({
      kind: 'reaction.removed',
      channel: message.channel,
      ts: message.ts,
      name,
      user: ctx.userId,
    });
    return {};
  },

  'files.getUploadURLExternal': (args, core, ctx) => {
    const file = core.workspace.addFile({
      filename: String(args.filename),
      length: Number(args.length),
      user: ctx.userId,
      teamId: ctx.teamFor(str(args.team_id)),
    });
    return { upload_url: `${core.baseUrl}/upload/v1/${file.id}`, file_id: file.id };
  },

  'files.completeUploadExternal': (args, core, ctx) => {
    const entries = json(args.files, 'invalid_arguments') as { id: string; title?: string }[];
    const channel = str(args.channel_id) ?? str(args.channels)?.split(',')[0];
    const threadTs = str(args.thread_ts);
    const files = entries.map((entry) => {
      const file = core.workspace.file(entry.id, ctx.visible);
      if (!file.bytes) throw new SlackApiError('file_not_found');
      if (file.completed) throw new SlackApiError('file_already_completed', { file_id: file.id });
      return { file, title: entry.title };
    });
    if (channel) core.workspace.channel(channel, ctx.visible);
    for (const { file, title } of files) {
      file.completed = true;
      if (title) file.title = title;
    }
    if (channel) {
      const message = core.workspace.addMessage({
        channel,
        threadTs,
        user: ctx.userId,
        botId: undefined,
        appId: undefined,
        username: undefined,
        text: str(args.initial_comment) ?? '',
        blocks: blocksOf(args.blocks),
        metadata: undefined,
        fileIds: files.map((f) => f.file.id),
        subtype: 'file_share',
        userProfile: undefined,
      });
      for (const { file } of files) {
        file.shares.push({ channel, ts: message.ts, threadTs: message.threadTs });
        core.record({
          kind: 'file.shared',
          fileId: file.id,
          channel,
          ts: message.ts,
          threadTs: message.threadTs,
        });
      }
      core.record({
        kind: 'message.posted',
        channel,
        ts: message.ts,
        threadTs: message.threadTs,
        user: ctx.userId,
        bot: true,
        text: message.text,
        subtype: 'file_share',
        fileIds: message.fileIds,
        metadata: undefined,
      });
      core.echo({
        ...core.serializeMessage(message),
        channel,
        channel_type: 'channel',
        event_ts: message.ts,
      });
    }
    return { files: files.map(({ file }) => core.serializeFile(file)) };
  },

  'files.info': (args, core, ctx) => ({
    file: core.serializeFile(core.workspace.file(args.file, ctx.visible)),
    comments: [],
  }),

  'files.delete': (args, core, ctx) => {
    const file = core.workspace.file(args.file, ctx.visible);
    if (file.user !== ctx.userId) throw new SlackApiError('cant_delete_file');
    file.deleted = true;
    core.record({ kind: 'file.deleted', fileId: file.id });
    return {};
  },

  'views.open': (args, core, ctx) => {
    const triggerId = String(args.trigger_id);
    const trigger = core.workspace.triggers.get(triggerId);
    if (!trigger || !ctx.visible(trigger.teamId)) throw new SlackApiError('invalid_trigger_id');
    // A trigger is good for 3 seconds and one view (docs.slack.dev/interactivity/handling-user-interaction).
    if (core.clock.now() - trigger.issuedAt > 3000) throw new SlackApiError('expired_trigger_id');
    core.workspace.triggers.delete(triggerId);
    const view = json(args.view, 'invalid_arguments') as Record<string, unknown> | undefined;
    const blocks = view?.blocks;
    const title = view?.title as { type?: string; text?: string } | undefined;
    if (
      view?.type !== 'modal' ||
      title?.type !== 'plain_text' ||
      (title.text ?? '').length > 24 ||
      !Array.isArray(blocks) ||
      blocks.length > 100 ||
      (blocks.some((b) => (b as { type?: string }).type === 'input') && !view.submit)
    ) {
      throw new SlackApiError('invalid_arguments', {
        response_metadata: { messages: ['[ERROR] invalid view'] },
      });
    }
    const id = core.workspace.newId('V0');
    const stored = {
      id,
      teamId: trigger.teamId,
      hash: `${Math.floor(core.clock.now() / 1000)}.${id}`,
      triggerId,
      user: trigger.user,
      view: {
        ...view,
        id,
        team_id: trigger.teamId,
        app_id: core.appId,
        bot_id: ctx.botId,
        state: { values: {} },
        private_metadata: view.private_metadata ?? '',
        callback_id: view.callback_id ?? '',
      },
    };
    core.workspace.views.set(id, stored);
    core.record({ kind: 'view.opened', viewId: id, callbackId: str(view.callback_id), triggerId });
    return { view: { ...stored.view, hash: stored.hash } };
  },
};
