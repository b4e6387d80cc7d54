export * from './queue/index.ts';
export { freshSchema, testDatabaseUrl } from './testing/index.ts';
