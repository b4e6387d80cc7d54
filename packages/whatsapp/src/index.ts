// The public API of @wabridge/whatsapp: Meta's side of the bridge.
export * from './apps.ts';
export * from './cloud-api-client.ts';
export * from './cloud-api-errors.ts';
export * from './ingest.ts';
export * from './media-url-policy.ts';
export * from './number-check.ts';
export * from './schema.ts';
export * from './sender.ts';
export * from './signature.ts';
