// `@wabridge/core/ingest`: the values an ingest translator uses, for the store thread. That thread
// loads the translator (e.g. @wabridge/whatsapp/ingest-plugin) beside the SQLite store; through the
// package's index it would also load everything else core holds (the bridge, the archive's
// exports, the admin schemas…), ~7 MB of heap it never uses, in a thread of its own. Types still
// come from `@wabridge/core` (a type-only import loads nothing).

export { keywordMatcher } from './consent/keywords.ts';
export { WabridgeError } from './errors/index.ts';
export { contentId, newId } from './ids/index.ts';
export { RoutingCache } from './routing/index.ts';
