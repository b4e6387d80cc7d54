// The verifiable log of the compliance archive: RFC 9162 Merkle hashing and proofs, an append-only
// log over pluggable node storage, C2SP signed checkpoints, and streaming verification. See README.md.

export * from './checkpoint.ts';
export { CompactRange, coveringNodes, type NodeId, type StoredNode } from './compact-range.ts';
export {
  emptyRoot,
  HASH_SIZE,
  type Hash,
  hashesEqual,
  hashFromHex,
  leafHash,
  nodeHash,
  toHex,
} from './hash.ts';
export * from './merkle-log.ts';
export * from './node-store.ts';
export {
  generateLogKey,
  type LogKeyPair,
  type NoteSigner,
  type NoteVerdict,
  type NoteVerifier,
  noteSigner,
  noteVerifier,
  openNote,
  signNote,
} from './note.ts';
export * from './rfc9162.ts';
export * from './stream-verifier.ts';
export * from './verify.ts';
