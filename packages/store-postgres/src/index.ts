export { freshSchema, testDatabaseUrl } from './testing/index.ts';
