import type { ResourceLimits } from 'node:worker_threads';

/**
 * Young-generation sizes of the store's threads. Left to V8, each thread's young generation grows
 * to 128 MB under sustained load on a machine with much memory (it grows whenever enough objects
 * survived since it last grew, however briefly they lived), although what a store call allocates
 * dies within the call: measured at 1,000 msg/s, the store thread's heap was 93 MB of which 64 MB
 * young, and 1–8 MB of its young generation in use at the peak once bounded. V8 makes the young
 * generation ⅔ semi-spaces (two of a third each) and ⅓ room for large objects, so 12 MB means 4 MB
 * semi-spaces. A process-wide `--max-semi-space-size` overrides these limits: `wabridge serve`
 * sets the same 4 MB for its threads through that flag (apps/gateway/bin/memory.mjs).
 *
 * Only the young generation is bounded: an old-generation limit would end the thread (and with
 * it the store) where V8 would otherwise only collect more often.
 */
export const STORE_THREAD_LIMITS: ResourceLimits = { maxYoungGenerationSizeMb: 12 };

/** The checkpoint thread allocates little (a checkpoint a second, the odd read aside). */
export const BACKGROUND_THREAD_LIMITS: ResourceLimits = { maxYoungGenerationSizeMb: 6 };
