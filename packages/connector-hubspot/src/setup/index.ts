/**
 * First-install setup: the `wabridge` property group and the custom properties on contacts and
 * communications, created if missing. Idempotent and cheap: it creates and accepts "already
 * exists" instead of reading first (4 calls on a fresh portal), reads only what already existed to
 * check it is usable, and remembers the outcome in the connector's state so later deliveries make
 * no call at all.
 */
import { type ConnectorState, type Logger, WabridgeError } from '@wabridge/core';
import type { HubSpotApi, PropertyDefinition } from '../api/client.ts';
import { COMMUNICATION, COMMUNICATION_PROPERTIES, CONTACT, CONTACT_PROPERTIES, GROUP } from './properties.ts';

export interface SetupState {
  version: number;
  /**
   * Whether `wabridge_message_key` is a unique-value property. When HubSpot refuses uniqueness on
   * communications, message writes fall back to pending markers and a search by key (api/timeline.ts).
   */
  messageKeyUnique: boolean;
  at: number;
}

/** Bump when the property set changes, so existing installs add what is new. */
const VERSION = 1;
const STATE_KEY = 'setup';

export class Setup {
  #running: Promise<SetupState> | null = null;
  readonly #api: HubSpotApi;
  readonly #state: ConnectorState;
  readonly #logger: Logger;
  readonly #now: () => number;

  constructor(api: HubSpotApi, state: ConnectorState, logger: Logger, now: () => number) {
    this.#api = api;
    this.#state = state;
    this.#logger = logger;
    this.#now = now;
  }

  /** Resolves once the portal has what wabridge needs (installing it the first time). */
  ensure(): Promise<SetupState> {
    this.#running ??= this.#install().catch((error: unknown) => {
      this.#running = null; // try again on the next delivery
      throw error;
    });
    return this.#running;
  }

  async #install(): Promise<SetupState> {
    const stored = await this.#state.get<SetupState>(STATE_KEY);
    if (stored?.version === VERSION) return stored;
    const contactKey = await this.#installFor('contacts', CONTACT_PROPERTIES);
    if (!contactKey.unique) {
      throw new WabridgeError(
        'config_invalid',
        `HubSpot contact property ${CONTACT.key} exists but does not require unique values; delete it in HubSpot (Settings → Properties) so wabridge can recreate it`,
      );
    }
    const messageKey = await this.#installFor('communications', COMMUNICATION_PROPERTIES);
    const setup: SetupState = { version: VERSION, messageKeyUnique: messageKey.unique, at: this.#now() };
    await this.#state.set(STATE_KEY, setup);
    this.#logger.info(
      { portal: this.#api.portalLabel, messageKeyUnique: setup.messageKeyUnique },
      'HubSpot properties are in place',
    );
    return setup;
  }

  /** Creates the group and properties of one object type; tells whether its key property is unique. */
  async #installFor(
    type: 'contacts' | 'communications',
    definitions: PropertyDefinition[],
  ): Promise<{ unique: boolean }> {
    const keyName = type === 'contacts' ? CONTACT.key : COMMUNICATION.key;
    await this.#api.createGroup(type, GROUP);
    const { created, failed } = await this.#api.createProperties(type, definitions);
    const refused = new Map(
      failed.filter((f) => f.category !== 'CONFLICT' && f.name).map((f) => [f.name, f.message]),
    );
    let unique = created.includes(keyName);
    if (type === 'communications' && refused.has(keyName)) {
      // Some portals may not allow unique values on activities [V?]: keep the key, searchable.
      this.#logger.warn(
        { reason: refused.get(keyName) },
        `HubSpot refused a unique ${keyName}; message writes will look up pending keys by search`,
      );
      const plain = definitions
        .filter((d) => d.name === keyName)
        .map((d) => ({ ...d, hasUniqueValue: false }));
      const retry = await this.#api.createProperties(type, plain);
      if (retry.failed.every((f) => f.category === 'CONFLICT')) refused.delete(keyName);
      if (retry.created.includes(keyName)) created.push(keyName);
    }
    // Whatever was neither created nor refused by name existed already (or failed without saying
    // which): read those, to know they are there and whether the key is unique.
    const toCheck = definitions.map((d) => d.name).filter((n) => !created.includes(n) && !refused.has(n));
    const found = toCheck.length > 0 ? await this.#api.readProperties(type, toCheck) : new Map();
    const missing = toCheck.filter((n) => !found.has(n));
    if (refused.size > 0 || missing.length > 0) {
      const reasons = [
        ...[...refused].map(([name, message]) => `${name}: ${message}`),
        ...missing.map((name) => `${name}: ${failed.find((f) => !f.name)?.message ?? 'not created'}`),
      ];
      throw new WabridgeError(
        'config_invalid',
        `HubSpot refused the ${type} properties wabridge needs: ${reasons.join('; ')}`,
      );
    }
    const key = found.get(keyName);
    if (key) unique = key.hasUniqueValue;
    for (const definition of definitions) {
      const present = found.get(definition.name);
      const lacking = (definition.options ?? []).filter((o) => !present?.options.includes(o.value));
      if (present && lacking.length > 0) {
        this.#logger.warn(
          { property: definition.name, missing: lacking.map((o) => o.value) },
          'HubSpot property lacks options wabridge writes; add them in HubSpot or writes will be refused',
        );
      }
    }
    return { unique };
  }
}
