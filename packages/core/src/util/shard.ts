/**
 * The shard, of `shards`, that `key` belongs to: FNV-1a over its UTF-16 code units, so the same
 * key lands in the same shard in every process and after every restart. For connector state that
 * one object per deployment would otherwise hold for every conversation (an index read and
 * written whole under one lock): split by key, each shard stays small and has its own lock.
 */
export function shardOf(key: string, shards: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    hash ^= key.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % shards;
}
