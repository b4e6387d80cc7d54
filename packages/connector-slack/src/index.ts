import type { ConnectorManifest } from '@wabridge/core';
import { z } from 'zod';

/** The Slack connector. (Being built: see its issue.) */
export const slackConnector: ConnectorManifest<Record<string, unknown>> = {
  id: 'slack',
  displayName: 'Slack',
  configSchema: z.record(z.string(), z.unknown()),
  secretFields: [],
  capabilities: { events: ['message.inbound'], inbound: false },
  create() {
    throw new Error('the Slack connector is not built yet');
  },
};
