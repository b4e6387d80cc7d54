/**
 * A Slack connector instance: the part of the connector that needs Slack's SDKs (Bolt and the Web
 * API client), loaded by the manifest (manifest.ts) when a workspace's instance is first created.
 */
import type { ConnectorDeps, ConnectorInstance, DeliveryContext, DomainEvent } from '@wabridge/core';
import { WabridgeError } from '@wabridge/core';
import { SlackApi } from './api/client.ts';
import type { SlackConfig } from './config.ts';
import { IDENTITY_KEY } from './constants.ts';
import { SlackMirror } from './deliver/index.ts';
import { createInboundHandler } from './inbound/handler.ts';
import { revocationOf, revokedError } from './inbound/revocation.ts';
import { testSlack } from './self-test.ts';

export function createSlackInstance(config: SlackConfig, deps: ConnectorDeps): ConnectorInstance {
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
}
