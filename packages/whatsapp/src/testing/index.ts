// Test support that drives the core with WhatsApp webhooks: `@wabridge/whatsapp/testing`. Imports vitest.
export * from './bridge.ts';
export * from './connector-conformance.ts';
