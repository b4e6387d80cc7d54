import type { JobEvent } from '../domain/events.ts';
import { WabridgeError } from '../errors/index.ts';
import type { ConnectorManifest } from './contract.ts';

/**
 * The connectors this deployment knows, registered explicitly by the composition root.
 *
 * `get`, `require` and `list` see the connectors users enable (the admin console, the config
 * file, the CLI). The internal ones (`ConnectorManifest.internal`, the WhatsApp sender) are added
 * with `withInternal` and seen only by the delivery side: `resolve` and `delivering`.
 *
 * @example const registry = createRegistry([slackConnector, hubspotConnector, teamsConnector]);
 */
export interface ConnectorRegistry {
  get(id: string): ConnectorManifest | undefined;
  require(id: string): ConnectorManifest;
  list(): ConnectorManifest[];
  /** Any connector the worker delivers to, internal ones included. */
  resolve(id: string): ConnectorManifest<unknown, JobEvent> | undefined;
  /** Every connector the worker delivers to, internal ones included. */
  delivering(): ConnectorManifest<unknown, JobEvent>[];
  /** This registry plus internal connectors; an id taken twice is refused. */
  // biome-ignore lint/suspicious/noExplicitAny: manifests are generic in their config type.
  withInternal(manifests: readonly ConnectorManifest<any, JobEvent>[]): ConnectorRegistry;
}

const ID = /^[a-z][a-z0-9-]{1,31}$/;

// biome-ignore lint/suspicious/noExplicitAny: manifests are generic in their config type; the registry only hands them back.
export function createRegistry(manifests: readonly ConnectorManifest<any>[]): ConnectorRegistry {
  return registryOf(manifests, []);
}

function registryOf(
  // biome-ignore lint/suspicious/noExplicitAny: as above.
  users: readonly ConnectorManifest<any>[],
  // biome-ignore lint/suspicious/noExplicitAny: as above.
  internals: readonly ConnectorManifest<any, JobEvent>[],
): ConnectorRegistry {
  const byId = new Map<string, ConnectorManifest>();
  const all = new Map<string, ConnectorManifest<unknown, JobEvent>>();
  for (const manifest of [...internals, ...users]) {
    if (!ID.test(manifest.id)) {
      throw new WabridgeError(
        'config_invalid',
        `connector id "${manifest.id}" must be lowercase letters, digits and dashes`,
      );
    }
    const taken = all.get(manifest.id);
    if (taken) {
      throw new WabridgeError(
        'config_invalid',
        taken.internal
          ? `connector id "${manifest.id}" is taken by the internal ${taken.displayName}`
          : `connector "${manifest.id}" is registered twice`,
      );
    }
    all.set(manifest.id, manifest as ConnectorManifest<unknown, JobEvent>);
    if (!internals.includes(manifest)) byId.set(manifest.id, manifest as ConnectorManifest);
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
    resolve: (id) => all.get(id),
    delivering: () => [...all.values()],
    withInternal: (more) => {
      for (const manifest of more) {
        if (!manifest.internal)
          throw new WabridgeError('config_invalid', `connector "${manifest.id}" is not marked internal`);
      }
      return registryOf(users, [...internals, ...more]);
    },
  };
}
