import type { ConnectorManifest } from '@wabridge/core';
import { HUBSPOT_SECRET_FIELDS, type HubSpotConfig, hubspotConfigSchema } from './config.ts';

// What the gateway's Connect routes use without an instance; it does not load HubSpot's SDK either.
export { HubSpotInstallError } from './oauth/install-error.ts';

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
 * Only what the gateway needs to register, validate and route is loaded with the manifest; the
 * instance (instance.ts, with @hubspot/api-client, ~7 MB of heap) is imported when a workspace
 * that enables HubSpot first needs it, so a gateway none of whose workspaces uses HubSpot never
 * loads it (docs/performance.md, "lazy connector SDKs and a bounded old generation").
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
  async create(config, deps) {
    const { createHubSpotInstance } = await import('./instance.ts');
    return createHubSpotInstance(config, deps);
  },
};
