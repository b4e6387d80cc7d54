import type { ConnectorDeps, ConnectorInstance, ConnectorManifest } from '@wabridge/core';
import { WabridgeError } from '@wabridge/core';
import { HubSpotApi } from './api/client.ts';
import { HUBSPOT_SECRET_FIELDS, type HubSpotConfig, hubspotConfigSchema } from './config.ts';
import { HubSpotDelivery } from './deliver/index.ts';
import { createWebhookHandler } from './inbound/handler.ts';
import { createOAuthTokens } from './oauth/tokens.ts';
import { testHubSpot } from './self-test.ts';
import { Setup } from './setup/index.ts';

export { type HubSpotConfig, hubspotConfigSchema } from './config.ts';
export { signV3 as signHubSpotWebhook, verifyV3 as verifyHubSpotWebhook } from './inbound/verify.ts';
export {
  exchangeHubSpotCode,
  HUBSPOT_OAUTH_SCOPES,
  HUBSPOT_OPTIONAL_SCOPES,
  type HubSpotInstallation,
  HubSpotInstallError,
  hubspotAuthorizeUrl,
} from './oauth/install.ts';
export {
  OAUTH_STATUS_KEY as HUBSPOT_OAUTH_STATUS_KEY,
  type OAuthStatus as HubSpotOAuthStatus,
} from './oauth/tokens.ts';
export {
  COMMUNICATION as HUBSPOT_COMMUNICATION_PROPERTIES,
  CONSENT_VALUES as HUBSPOT_CONSENT_VALUES,
  CONTACT as HUBSPOT_CONTACT_PROPERTIES,
  type ConsentValue as HubSpotConsentValue,
} from './setup/properties.ts';

/**
 * Largest batch the queue hands over at once. HubSpot takes 100 records per batch call; the
 * connector splits writes into calls of 100 but resolves the contacts of the whole batch together,
 * so a backlog costs one search and one contact upsert per 500 events instead of per 100 (the
 * contact calls would otherwise be a third of all calls: see bench/).
 */
export const HUBSPOT_BATCH_SIZE = 500;

/**
 * The HubSpot connector: every WhatsApp message on the right contact's timeline, WhatsApp consent
 * in sync both ways.
 *
 * @example createRegistry([hubspotConnector, …]); // config: { accessToken, clientSecret, portalId, appId }
 */
export const hubspotConnector: ConnectorManifest<HubSpotConfig> = {
  id: 'hubspot',
  displayName: 'HubSpot',
  configSchema: hubspotConfigSchema,
  secretFields: HUBSPOT_SECRET_FIELDS,
  capabilities: {
    events: [
      'message.inbound',
      'message.outbound',
      'message.status',
      'consent.changed',
      'conversation.erased',
    ],
    inbound: true,
    batch: { maxSize: HUBSPOT_BATCH_SIZE },
    // Only a failure rewrites the timeline entry (see deliver/index.ts).
    statuses: ['failed'],
  },
  create(config: HubSpotConfig, deps: ConnectorDeps): ConnectorInstance {
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
  },
};

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
