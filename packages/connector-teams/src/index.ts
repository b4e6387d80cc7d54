import type { ConnectorManifest } from '@wabridge/core';
import { z } from 'zod';

/** The Teams connector. (Being built: see its issue.) */
export const teamsConnector: ConnectorManifest<Record<string, unknown>> = {
  id: 'teams',
  displayName: 'Teams',
  configSchema: z.record(z.string(), z.unknown()),
  secretFields: [],
  capabilities: { events: ['message.inbound'], inbound: false },
  create() {
    throw new Error('the Teams connector is not built yet');
  },
};
