// Test support for adapters and connectors: `@wabridge/core/testing`. Imports vitest.

export * from './archive-conformance.ts';
export * from './erasure-conformance.ts';
export * from './fixtures.ts';
export * from './key-rotation-conformance.ts';
export * from './ledger-connector.ts';
export * from './memory-state.ts';
export * from './mutate.ts';
export * from './net.ts';
export * from './random.ts';
export * from './store-conformance.ts';
export * from './webhook-fixtures.ts';
