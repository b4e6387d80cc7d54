export * from './apps.ts';
export * from './cloud-api-client.ts';
export * from './cloud-api-errors.ts';
export * from './media-url-policy.ts';
export * from './number-check.ts';
export * from './schema.ts';
export * from './signature.ts';
