/**
 * @wabridge/connector-slack — one Slack thread per WhatsApp conversation; agents reply from the
 * thread. Register `slackConnector` with the gateway; configure it per workspace (see
 * docs/connectors/slack.md and the app manifest beside it).
 */
import {
  type ConnectorManifest,
  type DeliveryContext,
  DOMAIN_EVENT_TYPES,
  type DomainEvent,
  WabridgeError,
} from '@wabridge/core';
import { SlackApi } from './api/client.ts';
import { type SlackConfig, slackConfigSchema } from './config.ts';
import { IDENTITY_KEY, SLACK } from './constants.ts';
import { SlackMirror } from './deliver/index.ts';
import { createInboundHandler } from './inbound/handler.ts';
import { revocationOf, revokedError } from './inbound/revocation.ts';
import { testSlack } from './self-test.ts';

export { translateSlackError } from './api/errors.ts';
export { formatRef, parseRef } from './api/refs.ts';
export { type RouteRule, type SlackConfig, type SlackConfigInput, slackConfigSchema } from './config.ts';
export { METADATA_EVENT, SLACK, TEMPLATE_ACTION } from './constants.ts';
export { chooseChannel } from './deliver/routing.ts';
export { classifyReply, commandsForEvent, isBotMessage } from './inbound/events.ts';
export { servesSource } from './inbound/handler.ts';
export { parseTemplateCommand, parseThreadReference } from './inbound/templates.ts';
export { verifySlackSignature } from './inbound/verify.ts';
export {
  checkInstallation,
  SLACK_BOT_SCOPES,
  type SlackInstallation,
  SlackInstallError,
} from './install.ts';
export { renderCard } from './render/card.ts';
export { slackReactionName } from './render/emoji.ts';
export { escapeMrkdwn, slackToWhatsApp } from './render/text.ts';

/**
 * The Slack connector.
 *
 * @example registry = createRegistry([slackConnector]); admin.setConnector('ops', ws, 'slack', { enabled: true, config })
 */
export const slackConnector: ConnectorManifest<SlackConfig> = {
  id: SLACK,
  displayName: 'Slack',
  configSchema: slackConfigSchema,
  secretFields: ['botToken', 'signingSecret'],
  capabilities: {
    // Every event: the thread mirrors messages, statuses, consent, notices and erasure alike.
    events: DOMAIN_EVENT_TYPES,
    inbound: true,
  },
  create(config, deps) {
    const api = new SlackApi(config, deps.logger, deps.pacing);
    const mirror = new SlackMirror(config, api, deps);
    let channelsChecked = false;
    return {
      async deliver(event: DomainEvent, ctx: DeliveryContext) {
        // Slack said the token is gone: fail at once with what to do, not with a Web API error.
        const revoked = await revocationOf(config, deps.state);
        if (revoked) throw revokedError(revoked);
        return mirror.deliver(event, ctx);
      },
      inbound: createInboundHandler(config, api, deps),
      async fetchAttachment(ref: string) {
        const info = await api.call<{
          file: { name?: string; mimetype?: string; url_private_download?: string; url_private?: string };
        }>('files.info', { file: ref }, { pace: { tier: 'tier4' } });
        const url = info.file.url_private_download ?? info.file.url_private;
        if (!url) throw new WabridgeError('permanent', `Slack file ${ref} has no download URL`);
        return {
          bytes: await api.download(url),
          mimeType: info.file.mimetype ?? 'application/octet-stream',
          filename: info.file.name ?? ref,
        };
      },
      async test(signal) {
        const revoked = await revocationOf(config, deps.state);
        if (revoked) return [{ name: 'installation', ok: false, detail: revokedError(revoked).message }];
        return testSlack(config, api, signal);
      },
      async maintain() {
        // Slack said the token is gone: every call would fail the same way until a new install.
        if (await revocationOf(config, deps.state)) return;
        // Checks the token every run (a revoked install shows in the logs, not only on the next
        // message) and keeps the bot's ids where the inbound side reads them to drop our own echoes.
        const identity = await api.identity(true);
        const stored = await deps.state.get<{ botUserId: string }>(IDENTITY_KEY);
        if (stored?.botUserId !== identity.botUserId) await deps.state.set(IDENTITY_KEY, identity);
        if (!channelsChecked) {
          // Once per instance: a channel the bot cannot post in is an admin's job, say so early.
          for (const channel of new Set([config.defaultChannel, ...config.routes.map((r) => r.channel)])) {
            const info = await api
              .call<{ channel: { is_member?: boolean; is_archived?: boolean } }>(
                'conversations.info',
                { channel },
                { pace: { tier: 'tier3' } },
              )
              .catch((error: unknown) => {
                deps.logger.error(
                  { channel, err: error },
                  'Slack channel not usable: check the channel id and invite the app',
                );
                return null;
              });
            if (info && (info.channel.is_member === false || info.channel.is_archived)) {
              deps.logger.error(
                { channel },
                'the Slack app is not a member of this channel (or it is archived): /invite it',
              );
            }
          }
          channelsChecked = true;
        }
        // Cards of conversations whose 24-hour window closed since their last event.
        const closed = await mirror.windows.closeDue(deps.now());
        if (closed > 0) deps.logger.debug({ cards: closed }, 'showed closed windows on conversation cards');
      },
    };
  },
};
