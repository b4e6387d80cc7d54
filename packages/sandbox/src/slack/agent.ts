/**
 * A simulated human in the Slack workspace: what they do lands in the workspace first (as it does
 * in Slack's UI), then Slack tells the app with a signed callback.
 *
 *   const grace = slack.agent({ id: 'U0GRACE', name: 'Grace' });
 *   const reply = await grace.reply({ channel, threadTs }, 'On it!', { duplicates: 3 }); // + 3 retries
 *   await grace.edit(reply, 'On it now!');                         // message_changed
 *   await grace.delete(reply);                                     // message_deleted
 *   await grace.reply({ channel, threadTs }, 'See attached', { files: [{ name: 'a.pdf', bytes }] });
 *   const pick = await grace.chooseOption({ channel, ts: noticeTs }, 'template', 'order_update|en_US');
 *   await grace.submitView(viewId, { param_1: 'Ada' });           // view_submission
 *   await grace.slashCommand('/wabridge', 'template …', { channel }); // slash command
 */
import { randomUUID } from 'node:crypto';
import type { CallbackResult, SlackCore } from './core.ts';
import type { Enterprise, Installation, Team } from './installs.ts';
import { mimeOf, SlackApiError, type StoredMessage, sha256Hex } from './state.ts';
import type { SlackUser } from './types.ts';

interface Where {
  team: Team;
  installation: Installation | undefined;
  enterprise: Enterprise | undefined;
}

export interface MessageRef {
  channel: string;
  ts: string;
}

export interface ThreadRef {
  channel: string;
  threadTs: string;
}

export interface AgentFile {
  name: string;
  bytes: Uint8Array | string;
  mimeType?: string;
}

export interface EventOptions {
  /** Deliver the same event this many more times after it was acknowledged (Slack retries). */
  duplicates?: number;
}

/** What a human action produced: the Slack message (if any) and the callback's first answer. */
export interface AgentAction extends MessageRef {
  eventId: string;
  callback: CallbackResult;
}

export interface FormAction {
  status: number | undefined;
  /** The app's answer (JSON parsed when it is JSON). */
  body: unknown;
  callback: CallbackResult;
}

export class SlackAgent {
  readonly id: string;
  readonly name: string;
  readonly #core: SlackCore;

  readonly #teamId: string | undefined;

  constructor(core: SlackCore, user: SlackUser) {
    this.#core = core;
    this.id = user.id;
    this.name = user.name;
    this.#teamId = user.teamId;
    if (user.teamId !== undefined) core.installs.team(user.teamId);
    core.users.set(user.id, user);
  }

  /** Where the person acts: the channel's workspace (their own unless set). */
  #where(channel: string): Where {
    const core = this.#core;
    const team = core.teamOf(channel);
    const installation = core.installs.installationFor(team.id);
    const enterprise = team.enterpriseId ? core.installs.enterprises.get(team.enterpriseId) : undefined;
    return { team, installation, enterprise };
  }

  #profile() {
    return {
      real_name: this.name,
      display_name: this.name,
      name: this.name.toLowerCase().replace(/\s+/g, '.'),
    };
  }

  /** Posts a reply in a thread (with files: a `file_share` message), then sends `message` to the app. */
  async reply(
    thread: ThreadRef,
    text: string,
    options: EventOptions & { files?: AgentFile[] } = {},
  ): Promise<AgentAction> {
    const core = this.#core;
    const fileIds = (options.files ?? []).map((f) => {
      const bytes = typeof f.bytes === 'string' ? new TextEncoder().encode(f.bytes) : f.bytes;
      const file = core.workspace.addFile({
        filename: f.name,
        length: bytes.byteLength,
        user: this.id,
        teamId: core.teamOf(thread.channel).id,
      });
      file.bytes = bytes;
      file.mimetype = f.mimeType ?? mimeOf(f.name);
      file.completed = true;
      core.record({
        kind: 'file.uploaded',
        fileId: file.id,
        filename: f.name,
        size: bytes.byteLength,
        sha256: sha256Hex(bytes),
      });
      return file.id;
    });
    const message = core.workspace.addMessage({
      channel: thread.channel,
      threadTs: thread.threadTs,
      user: this.id,
      botId: undefined,
      appId: undefined,
      username: undefined,
      text,
      blocks: text ? [richText(text)] : undefined,
      metadata: undefined,
      fileIds,
      subtype: fileIds.length > 0 ? 'file_share' : undefined,
      userProfile: this.#profile(),
    });
    for (const id of fileIds) {
      core.workspace.files
        .get(id)
        ?.shares.push({ channel: thread.channel, ts: message.ts, threadTs: message.threadTs });
    }
    this.#recordPost(message);
    const event = {
      ...core.serializeMessage(message),
      client_msg_id: randomUUID(),
      channel: message.channel,
      channel_type: 'channel',
      event_ts: message.ts,
    };
    return this.#send(message, event, options);
  }

  /** Posts a top-level message in a channel (not in any thread). */
  async post(channel: string, text: string, options: EventOptions = {}): Promise<AgentAction> {
    const message = this.#core.workspace.addMessage({
      channel,
      threadTs: undefined,
      user: this.id,
      botId: undefined,
      appId: undefined,
      username: undefined,
      text,
      blocks: [richText(text)],
      metadata: undefined,
      fileIds: [],
      subtype: undefined,
      userProfile: this.#profile(),
    });
    this.#recordPost(message);
    const event = {
      ...this.#core.serializeMessage(message),
      client_msg_id: randomUUID(),
      channel,
      channel_type: 'channel',
    };
    return this.#send(message, event, options);
  }

  /** Edits one of this agent's messages: Slack sends `message_changed`. */
  async edit(ref: MessageRef, text: string, options: EventOptions = {}): Promise<AgentAction> {
    const core = this.#core;
    const message = this.#own(ref);
    const previous = core.serializeMessage(message);
    message.text = text;
    message.blocks = [richText(text)];
    const ts = core.workspace.nextTs();
    message.edited = { user: this.id, ts };
    core.record({ kind: 'message.updated', channel: message.channel, ts: message.ts, text, user: this.id });
    const event = {
      type: 'message',
      subtype: 'message_changed',
      hidden: true,
      channel: message.channel,
      channel_type: 'channel',
      ts,
      event_ts: ts,
      message: core.serializeMessage(message),
      previous_message: previous,
    };
    return this.#send({ channel: message.channel, ts: message.ts }, event, options);
  }

  /** Deletes one of this agent's messages: Slack sends `message_deleted`. */
  async delete(ref: MessageRef, options: EventOptions = {}): Promise<AgentAction> {
    const core = this.#core;
    const message = this.#own(ref);
    const previous = core.serializeMessage(message);
    core.workspace.removeMessage(message);
    core.record({ kind: 'message.deleted', channel: message.channel, ts: message.ts, user: this.id });
    const ts = core.workspace.nextTs();
    const event = {
      type: 'message',
      subtype: 'message_deleted',
      hidden: true,
      channel: message.channel,
      channel_type: 'channel',
      ts,
      event_ts: ts,
      deleted_ts: message.ts,
      previous_message: previous,
    };
    return this.#send({ channel: message.channel, ts: message.ts }, event, options);
  }

  /**
   * Picks an option of a select menu (or clicks a button, `value` = its value) in a message, as the
   * UI allows: the element must be in the message and the value one it offers.
   */
  async chooseOption(
    ref: MessageRef,
    actionId: string,
    value: string,
  ): Promise<FormAction & { triggerId: string }> {
    const core = this.#core;
    const message = core.workspace.message(ref.channel, ref.ts);
    const found = findElement(message.blocks ?? [], actionId);
    if (!found) throw new Error(`no element with action_id '${actionId}' in message ${ref.ts}`);
    const { element, blockId } = found;
    const options = (element.options ?? (element.option_groups ?? []).flatMap((g) => g.options ?? [])) as {
      value: string;
      text: { text: string };
    }[];
    const option = options.find((o) => o.value === value);
    if (element.type !== 'button' && !option) throw new Error(`'${value}' is not an option of '${actionId}'`);
    if (element.type === 'button' && element.value !== value)
      throw new Error(`button '${actionId}' has value '${element.value}'`);
    const where = this.#where(ref.channel);
    const triggerId = core.workspace.issueTrigger(this.id, where.team.id);
    const actionTs = core.workspace.nextTs();
    const action =
      element.type === 'button'
        ? {
            type: 'button',
            action_id: actionId,
            block_id: blockId,
            value,
            text: element.text,
            action_ts: actionTs,
          }
        : {
            type: element.type,
            action_id: actionId,
            block_id: blockId,
            selected_option: option,
            action_ts: actionTs,
          };
    const payload = {
      type: 'block_actions',
      user: this.#user(where.team.id),
      api_app_id: core.appId,
      token: 'sandbox-verification-token',
      container: {
        type: 'message',
        message_ts: message.ts,
        channel_id: message.channel,
        is_ephemeral: false,
        ...(message.threadTs ? { thread_ts: message.threadTs } : {}),
      },
      trigger_id: triggerId,
      ...this.#teamFields(where),
      channel: { id: message.channel, name: core.workspace.channel(message.channel).info.name },
      message: core.serializeMessage(message),
      state: { values: {} },
      response_url: `${core.baseUrl}/_sandbox/slack/response/${triggerId}`,
      actions: [action],
    };
    const result = await this.#form(
      'interaction',
      { payload: JSON.stringify(payload) },
      triggerId,
      where.team.id,
    );
    return { ...result, triggerId };
  }

  /** Submits a modal the app opened: `values` by input block id (or action id). */
  async submitView(viewId: string, values: Record<string, string>): Promise<FormAction> {
    const core = this.#core;
    const stored = core.workspace.views.get(viewId);
    if (!stored) throw new Error(`no open view ${viewId}`);
    const state: Record<string, Record<string, unknown>> = {};
    for (const block of (stored.view.blocks ?? []) as {
      type: string;
      block_id?: string;
      element?: { action_id?: string; type?: string };
    }[]) {
      if (block.type !== 'input' || !block.element) continue;
      const blockId = block.block_id ?? '';
      const actionId = block.element.action_id ?? '';
      const value = values[blockId] ?? values[actionId];
      state[blockId] = {
        [actionId]: { type: block.element.type ?? 'plain_text_input', value: value ?? null },
      };
    }
    const team = core.installs.team(stored.teamId);
    const where: Where = {
      team,
      installation: core.installs.installationFor(team.id),
      enterprise: team.enterpriseId ? core.installs.enterprises.get(team.enterpriseId) : undefined,
    };
    const payload = {
      type: 'view_submission',
      ...this.#teamFields(where),
      user: this.#user(team.id),
      api_app_id: core.appId,
      token: 'sandbox-verification-token',
      trigger_id: core.workspace.issueTrigger(this.id, team.id),
      view: { ...stored.view, hash: stored.hash, state: { values: state } },
      response_urls: [],
    };
    const result = await this.#form('interaction', { payload: JSON.stringify(payload) }, viewId, team.id);
    // A 2xx with no errors closes the modal, as in Slack.
    const errors = (result.body as { response_action?: string } | undefined)?.response_action === 'errors';
    if (result.status !== undefined && result.status < 300 && !errors) core.workspace.views.delete(viewId);
    return result;
  }

  /** Runs a slash command in a channel. */
  async slashCommand(command: string, text: string, options: { channel: string }): Promise<FormAction> {
    const core = this.#core;
    const where = this.#where(options.channel);
    const triggerId = core.workspace.issueTrigger(this.id, where.team.id);
    return this.#form(
      'command',
      {
        token: 'sandbox-verification-token',
        team_id: where.team.id,
        team_domain: where.team.domain,
        ...(where.enterprise
          ? { enterprise_id: where.enterprise.id, enterprise_name: where.enterprise.name }
          : {}),
        channel_id: options.channel,
        channel_name: core.workspace.channel(options.channel).info.name,
        user_id: this.id,
        user_name: this.name.toLowerCase().replace(/\s+/g, '.'),
        command,
        text,
        api_app_id: core.appId,
        // Slash command payloads carry this boolean as a string.
        is_enterprise_install: String(where.installation?.isEnterpriseInstall ?? false),
        response_url: `${core.baseUrl}/_sandbox/slack/response/${triggerId}`,
        trigger_id: triggerId,
      },
      triggerId,
      where.team.id,
    );
  }

  #user(teamId: string) {
    return {
      id: this.id,
      username: this.name.toLowerCase().replace(/\s+/g, '.'),
      name: this.name,
      team_id: this.#teamId ?? teamId,
    };
  }

  /**
   * `team`, `enterprise` and `is_enterprise_install` of an interaction payload. For an org-wide
   * installation `team` is null (the workspace is then in `user.team_id`), as Bolt expects
   * (bolt-js `buildSource`: "When the app is installed using org-wide deployment, team property will be null").
   */
  #teamFields(where: Where) {
    const orgWide = where.installation?.isEnterpriseInstall ?? false;
    return {
      team: orgWide
        ? null
        : {
            id: where.team.id,
            domain: where.team.domain,
            ...(where.enterprise
              ? { enterprise_id: where.enterprise.id, enterprise_name: where.enterprise.name }
              : {}),
          },
      enterprise: where.enterprise ? { id: where.enterprise.id, name: where.enterprise.name } : null,
      is_enterprise_install: orgWide,
    };
  }

  #own(ref: MessageRef): StoredMessage {
    const message = this.#core.workspace.message(ref.channel, ref.ts);
    if (message.user !== this.id) throw new SlackApiError('cant_update_message');
    return message;
  }

  #recordPost(message: StoredMessage): void {
    this.#core.record({
      kind: 'message.posted',
      channel: message.channel,
      ts: message.ts,
      threadTs: message.threadTs,
      user: this.id,
      bot: false,
      text: message.text,
      subtype: message.subtype,
      fileIds: message.fileIds,
      metadata: undefined,
    });
  }

  async #send(ref: MessageRef, event: Record<string, unknown>, options: EventOptions): Promise<AgentAction> {
    const result = await this.#core.sendEvent(event, { duplicates: options.duplicates ?? 0 });
    return { channel: ref.channel, ts: ref.ts, eventId: String(result.envelope.event_id), callback: result };
  }

  async #form(
    channel: 'interaction' | 'command',
    fields: Record<string, string>,
    id: string,
    teamId: string,
  ): Promise<FormAction> {
    const callback = await this.#core.sendForm(channel, fields, id, teamId);
    let body: unknown = callback.first.responseBody;
    try {
      body = body ? (JSON.parse(String(body)) as unknown) : undefined;
    } catch {
      // Not JSON: keep the text.
    }
    return { status: callback.first.status, body, callback };
  }
}

function richText(text: string) {
  return {
    type: 'rich_text',
    block_id: randomUUID().slice(0, 5),
    elements: [{ type: 'rich_text_section', elements: [{ type: 'text', text }] }],
  };
}

interface BlockElement {
  type: string;
  action_id?: string;
  value?: string;
  text?: unknown;
  options?: unknown[];
  option_groups?: { options?: unknown[] }[];
}

function findElement(
  blocks: unknown[],
  actionId: string,
): { element: BlockElement; blockId: string } | undefined {
  for (const block of blocks as {
    block_id?: string;
    accessory?: BlockElement;
    elements?: BlockElement[];
    element?: BlockElement;
  }[]) {
    const candidates = [block.accessory, block.element, ...(block.elements ?? [])];
    const element = candidates.find((e) => e?.action_id === actionId);
    if (element) return { element, blockId: block.block_id ?? '' };
  }
  return undefined;
}
