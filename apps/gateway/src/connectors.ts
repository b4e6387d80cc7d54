import { hubspotConnector } from '@wabridge/connector-hubspot/manifest';
import { slackConnector } from '@wabridge/connector-slack/manifest';
import { teamsConnector } from '@wabridge/connector-teams/manifest';
import { type ConnectorManifest, type ConnectorRegistry, createRegistry } from '@wabridge/core';

/** The connectors this build ships, registered explicitly (no import side effects). */
// biome-ignore lint/suspicious/noExplicitAny: manifests are generic in their config type.
export const BUILT_IN_CONNECTORS: ConnectorManifest<any>[] = [
  slackConnector,
  hubspotConnector,
  teamsConnector,
];

// biome-ignore lint/suspicious/noExplicitAny: manifests are generic in their config type.
export function defaultRegistry(extra: ConnectorManifest<any>[] = []): ConnectorRegistry {
  return createRegistry([...BUILT_IN_CONNECTORS, ...extra]);
}
