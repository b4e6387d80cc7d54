/**
 * A process that holds a `runExclusive` lock until it is killed (exclusive.test.ts):
 *   node hold-lock.ts <database url> <schema> <name>
 * Prints `held` once the lock is taken.
 */
import { openPostgresStore } from '../src/store.ts';

const [url, schema, name] = process.argv.slice(2) as [string, string, string];
const store = await openPostgresStore({ url, schema, poolSize: 1 });
await store.runExclusive(name, async () => {
  process.stdout.write('held\n');
  await new Promise(() => {});
});
