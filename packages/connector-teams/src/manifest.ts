import { type ConnectorManifest, DOMAIN_EVENT_TYPES } from '@wabridge/core';
import { SECRET_FIELDS, type TeamsConfig, teamsConfigSchema } from './config.ts';

/**
 * Microsoft Teams through Microsoft Graph: each WhatsApp conversation is a thread in a channel
 * (a conversation card, then every message as a reply), and agents answer by replying in the
 * thread. Setup: docs/connectors/teams.md.
 *
 * Only what the gateway needs to register, validate and route is loaded with the manifest; the
 * instance (instance.ts, with MSAL and the Graph client, ~10 MB of heap) is imported when a
 * workspace that enables Teams first needs it, so a gateway none of whose workspaces uses Teams
 * never loads it (docs/performance.md, "lazy connector SDKs and a bounded old generation").
 *
 * @example createRegistry([slackConnector, hubspotConnector, teamsConnector])
 */
export const teamsConnector: ConnectorManifest<TeamsConfig> = {
  id: 'teams',
  displayName: 'Microsoft Teams',
  configSchema: teamsConfigSchema,
  secretFields: SECRET_FIELDS,
  capabilities: {
    // Every event: the thread mirrors messages, statuses, consent, notices and erasure alike.
    events: DOMAIN_EVENT_TYPES,
    inbound: true,
  },
  async create(config, deps) {
    const { createTeamsInstance } = await import('./instance.ts');
    return createTeamsInstance(config, deps);
  },
};
