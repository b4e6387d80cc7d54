import { type ConnectorManifest, DOMAIN_EVENT_TYPES } from '@wabridge/core';
import { type SlackConfig, slackConfigSchema } from './config.ts';
import { SLACK } from './constants.ts';

// What the gateway's HTTP routes use without an instance (callback checks, "Add to Slack"): none
// of these modules loads Slack's SDKs either.
export { servesSource } from './inbound/serves-source.ts';
export { verifySlackSignature } from './inbound/verify.ts';
export { checkInstallation, SLACK_BOT_SCOPES, SlackInstallError } from './install.ts';

/**
 * The Slack connector.
 *
 * Only what the gateway needs to register, validate and route is loaded with the manifest; the
 * instance (instance.ts, with Bolt and the Web API client, ~10 MB of heap) is imported when a
 * workspace that enables Slack first needs it, so a gateway none of whose workspaces uses Slack
 * never loads it (docs/performance.md, "lazy connector SDKs and a bounded old generation").
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
  async create(config, deps) {
    const { createSlackInstance } = await import('./instance.ts');
    return createSlackInstance(config, deps);
  },
};
