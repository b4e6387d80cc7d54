/**
 * A Teams connector instance: the part of the connector that needs Microsoft's SDKs (MSAL and the
 * Graph client), loaded by the manifest (manifest.ts) when a workspace's instance is first created.
 */
import type { ConnectorDeps, ConnectorInstance } from '@wabridge/core';
import { graphHosts } from './api/files.ts';
import { ChannelPacer } from './api/pacing.ts';
import { TeamsApi } from './api/teams-api.ts';
import { AttachmentFetcher } from './attachments.ts';
import { createTokenSource } from './auth/tokens.ts';
import type { TeamsConfig } from './config.ts';
import { Mirror } from './deliver/index.ts';
import type { CommandOptions } from './inbound/commands.ts';
import { loadPrivateKey, ValidationTokenVerifier } from './inbound/encryption.ts';
import { createInboundHandler } from './inbound/handler.ts';
import { testTeams } from './self-test.ts';
import { SubscriptionManager } from './sync/subscriptions.ts';
import { ThreadIndex } from './sync/threads.ts';

export function createTeamsInstance(config: TeamsConfig, deps: ConnectorDeps): ConnectorInstance {
  const logger = deps.logger;
  const tokens = createTokenSource(config, {
    state: deps.state,
    logger,
    now: deps.now,
    metrics: deps.metrics,
  });
  const pacer = new ChannelPacer(config, {
    state: deps.state,
    logger,
    now: deps.now,
    metrics: deps.metrics,
    ...(deps.pacing ? { pacing: deps.pacing } : {}),
  });
  const api = new TeamsApi({
    baseUrl: config.graphBaseUrl,
    version: config.graphVersion,
    tokens,
    beforeChannelSend: (channel, signal) => pacer.beforeSend(channel, signal),
  });
  const threads = new ThreadIndex(deps.state, deps.now);
  const commandOptions = async (): Promise<CommandOptions> => ({
    selfId: config.serviceAccountId ?? (await tokens.serviceAccountId()),
    notePrefix: config.notePrefix,
    sendMode: config.sendMode,
    sendPrefix: config.sendPrefix,
    mentionsAreNotes: config.mentionsAreNotes,
    templateLanguage: config.templateLanguage,
    graphHosts: graphHosts(config),
  });
  const subscriptions = new SubscriptionManager(config, deps, { api, pacer, threads, commandOptions });
  const mirror = new Mirror(config, deps, {
    api,
    pacer,
    threads,
    selfId: async () => config.serviceAccountId ?? (await tokens.serviceAccountId()),
  });
  const attachments = new AttachmentFetcher(config, { api, pacer, maxBytes: config.maxAttachmentBytes });
  const encryption =
    config.encryptionPrivateKey && config.encryptionCertificate
      ? {
          privateKey: loadPrivateKey(config.encryptionPrivateKey),
          verifier: new ValidationTokenVerifier({
            keysUrl:
              config.validationTokenKeysUrl ??
              `${config.authorityHost.replace(/\/$/, '')}/common/discovery/v2.0/keys`,
            clientId: config.clientId,
            tenantId: config.tenantId,
            now: deps.now,
          }),
        }
      : null;
  return {
    deliver: (event, ctx) => mirror.deliver(event, ctx),
    inbound: createInboundHandler({
      config,
      api,
      pacer,
      subscriptions,
      commandOptions,
      logger,
      now: deps.now,
      encryption,
    }),
    fetchAttachment: (ref) => attachments.fetch(ref),
    maintain: () => subscriptions.maintain(),
    test: (signal) => testTeams(config, { api, tokens }, signal),
  };
}
