/**
 * A HubSpot connector instance: the part of the connector that needs HubSpot's SDK
 * (@hubspot/api-client), loaded by the manifest (manifest.ts) when a workspace's instance is first
 * created.
 */
import type { ConnectorDeps, ConnectorInstance } from '@wabridge/core';
import { WabridgeError } from '@wabridge/core';
import { HubSpotApi } from './api/client.ts';
import type { HubSpotConfig } from './config.ts';
import { HubSpotDelivery } from './deliver/index.ts';
import { createWebhookHandler } from './inbound/handler.ts';
import { createOAuthTokens } from './oauth/tokens.ts';
import { testHubSpot } from './self-test.ts';
import { Setup } from './setup/index.ts';

export function createHubSpotInstance(config: HubSpotConfig, deps: ConnectorDeps): ConnectorInstance {
  const api = new HubSpotApi({
    config,
    logger: deps.logger,
    metrics: deps.metrics,
    state: deps.state,
    now: deps.now,
    ...(deps.pacing ? { pacing: deps.pacing } : {}),
    ...(config.refreshToken ? { tokens: oauthTokens(config, deps) } : {}),
  });
  const setup = new Setup(api, deps.state, deps.logger, deps.now);
  const delivery = new HubSpotDelivery(api, config, deps, setup);
  return {
    deliverBatch: (items) => delivery.deliverBatch(items),
    async deliver(event, ctx) {
      const [outcome] = await delivery.deliverBatch([{ event, ctx }]);
      if (!outcome) throw new WabridgeError('internal', 'no outcome for the event');
      if (!outcome.ok) throw outcome.error;
      return outcome.result;
    },
    inbound: createWebhookHandler({
      config,
      workspaceId: deps.workspaceId,
      publicUrl: deps.publicUrl,
      logger: deps.logger,
      now: deps.now,
      api,
    }),
    test: () => testHubSpot(config, api),
    // Installs the properties before the first message needs them.
    async maintain() {
      await setup.ensure();
    },
  };
}

function oauthTokens(config: HubSpotConfig, deps: ConnectorDeps) {
  return createOAuthTokens(
    {
      basePath: config.basePath,
      // The schema requires both with a refresh token.
      portalId: config.portalId ?? '',
      oauthClientId: config.oauthClientId ?? '',
      clientSecret: config.clientSecret,
      refreshToken: config.refreshToken ?? '',
    },
    {
      state: deps.state,
      logger: deps.logger,
      now: deps.now,
      ...(deps.audit ? { audit: deps.audit } : {}),
      reconnectHint: `wabridge connector connect ${deps.workspaceId} hubspot`,
    },
  );
}
