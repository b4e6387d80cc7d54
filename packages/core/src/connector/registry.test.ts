import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { JobEvent } from '../domain/events.ts';
import { isWabridgeError } from '../errors/index.ts';
import { ledgerConnector } from '../testing/ledger-connector.ts';
import type { ConnectorManifest } from './contract.ts';
import { createRegistry } from './registry.ts';

const internal: ConnectorManifest<unknown, JobEvent> = {
  id: 'outbox',
  displayName: 'outbox sender',
  internal: true,
  configSchema: z.unknown(),
  secretFields: [],
  capabilities: { events: [], inbound: false },
  create: () => ({ deliver: async () => ({}) }),
};

const codeOf = (f: () => unknown) => {
  try {
    f();
  } catch (error) {
    return isWabridgeError(error) ? `${error.code}: ${error.message}` : String(error);
  }
  return null;
};

describe('the connector registry', () => {
  it('shows users only their connectors, and the worker every connector, internal ones included', () => {
    const registry = createRegistry([ledgerConnector]).withInternal([internal]);
    expect(registry.list().map((m) => m.id)).toEqual(['ledger']);
    expect(registry.get('outbox')).toBeUndefined();
    expect(codeOf(() => registry.require('outbox'))).toBe(
      'not_found: unknown connector "outbox" (known: ledger)',
    );
    expect(registry.resolve('outbox')).toBe(internal);
    expect(registry.resolve('ledger')?.id).toBe('ledger');
    expect(registry.delivering().map((m) => m.id)).toEqual(['outbox', 'ledger']);
  });

  it('refuses an id an internal connector owns, and only then', () => {
    expect(codeOf(() => createRegistry([{ ...ledgerConnector, id: 'outbox' }]))).toBeNull();
    expect(
      codeOf(() => createRegistry([{ ...ledgerConnector, id: 'outbox' }]).withInternal([internal])),
    ).toBe('config_invalid: connector id "outbox" is taken by the internal outbox sender');
    expect(codeOf(() => createRegistry([ledgerConnector, ledgerConnector]))).toBe(
      'config_invalid: connector "ledger" is registered twice',
    );
    expect(codeOf(() => createRegistry([]).withInternal([{ ...internal, internal: false }]))).toBe(
      'config_invalid: connector "outbox" is not marked internal',
    );
  });
});
