import { WabridgeError } from '../errors/index.ts';
import type { ConnectorManifest } from './contract.ts';

/**
 * The connectors this deployment knows, registered explicitly by the composition root.
 *
 * @example const registry = createRegistry([slackConnector, hubspotConnector, teamsConnector]);
 */
export interface ConnectorRegistry {
  get(id: string): ConnectorManifest | undefined;
  require(id: string): ConnectorManifest;
  list(): ConnectorManifest[];
}

// biome-ignore lint/suspicious/noExplicitAny: manifests are generic in their config type; the registry only hands them back.
export function createRegistry(manifests: readonly ConnectorManifest<any>[]): ConnectorRegistry {
  const byId = new Map<string, ConnectorManifest>();
  for (const manifest of manifests) {
    if (!/^[a-z][a-z0-9-]{1,31}$/.test(manifest.id)) {
      throw new WabridgeError(
        'config_invalid',
        `connector id "${manifest.id}" must be lowercase letters, digits and dashes`,
      );
    }
    if (manifest.id === 'whatsapp') {
      throw new WabridgeError(
        'config_invalid',
        'connector id "whatsapp" is reserved for the WhatsApp sender',
      );
    }
    if (byId.has(manifest.id))
      throw new WabridgeError('config_invalid', `connector "${manifest.id}" is registered twice`);
    byId.set(manifest.id, manifest as ConnectorManifest);
  }
  return {
    get: (id) => byId.get(id),
    require(id) {
      const manifest = byId.get(id);
      if (!manifest) {
        throw new WabridgeError(
          'not_found',
          `unknown connector "${id}" (known: ${[...byId.keys()].join(', ') || 'none'})`,
          {
            status: 404,
          },
        );
      }
      return manifest;
    },
    list: () => [...byId.values()],
  };
}
