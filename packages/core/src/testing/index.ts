// Test support for adapters and connectors: `@wabridge/core/testing`. Imports vitest.
export * from './fixtures.ts';
export * from './store-conformance.ts';
