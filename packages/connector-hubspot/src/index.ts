import type { ConnectorManifest } from '@wabridge/core';
import { z } from 'zod';

/** The HubSpot connector. (Being built: see its issue.) */
export const hubspotConnector: ConnectorManifest<Record<string, unknown>> = {
  id: 'hubspot',
  displayName: 'HubSpot',
  configSchema: z.record(z.string(), z.unknown()),
  secretFields: [],
  capabilities: { events: ['message.inbound'], inbound: false },
  create() {
    throw new Error('the HubSpot connector is not built yet');
  },
};
