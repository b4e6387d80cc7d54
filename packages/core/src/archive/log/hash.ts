import { createHash, hash, timingSafeEqual } from 'node:crypto';
import { WabridgeError } from '../../errors/index.ts';

/** A SHA-256 digest: a leaf hash, an interior node hash or a tree's root. Always 32 bytes. */
export type Hash = Uint8Array;

export const HASH_SIZE = 32;

// SHA-256 to a plain Uint8Array. `crypto.hash(…, 'buffer')` costs ~1.1 µs of CPU per call on
// Node 24, where a 'binary' (latin1) string, one char per byte, and a copy loop cost ~0.33 µs:
// with two hashes per leaf, that is most of the log's time. Hashes are never Buffers either:
// Buffer#slice returns a view, and a "copy" that shares memory would let an edit reach the store.
function sha256(input: Uint8Array): Hash {
  return fromBinary(hash('sha256', input, 'binary'));
}

function fromBinary(text: string): Hash {
  const out = new Uint8Array(HASH_SIZE);
  for (let i = 0; i < HASH_SIZE; i++) out[i] = text.charCodeAt(i);
  return out;
}

const EMPTY_ROOT: Hash = sha256(new Uint8Array(0));

/** The Merkle Tree Hash of the empty list: SHA-256 of nothing (RFC 9162 §2.1.1). A fresh copy. */
export const emptyRoot = (): Hash => copyHash(EMPTY_ROOT);

/** A copy in a plain Uint8Array of its own (`slice` would be a view on a Buffer). */
export const copyHash = (hash: Uint8Array): Hash => new Uint8Array(hash);

/** Whether `root` is the hash of the empty tree. */
export const isEmptyRoot = (root: Uint8Array): boolean => hashesEqual(root, EMPTY_ROOT);

// One scratch buffer for node hashes: one `crypto.hash` call is cheaper than a `createHash` with
// three updates, and it is synchronous, so sharing the buffer is safe.
const nodeInput = new Uint8Array(1 + 2 * HASH_SIZE);
nodeInput[0] = 0x01;
// Records up to this size are copied behind the prefix into a scratch buffer and hashed in one
// call; larger ones are streamed, so one big record does not pin a big buffer for good.
const SCRATCH_LEAF = 16 * 1024;
const leafInput = new Uint8Array(1 + SCRATCH_LEAF);
const LEAF_PREFIX = new Uint8Array([0x00]);

/** The hash of a leaf: SHA-256(0x00 ‖ data). The prefix keeps leaves and nodes apart (second preimages). */
export function leafHash(data: Uint8Array): Hash {
  if (data.byteLength > SCRATCH_LEAF)
    return fromBinary(createHash('sha256').update(LEAF_PREFIX).update(data).digest('binary'));
  leafInput[0] = 0x00;
  leafInput.set(data, 1);
  return sha256(leafInput.subarray(0, data.byteLength + 1));
}

/** The hash of an interior node: SHA-256(0x01 ‖ left ‖ right). */
export function nodeHash(left: Hash, right: Hash): Hash {
  nodeInput.set(left, 1);
  nodeInput.set(right, 1 + HASH_SIZE);
  return sha256(nodeInput);
}

export const isHash = (value: unknown): value is Hash =>
  value instanceof Uint8Array && value.byteLength === HASH_SIZE;

/** Compares two hashes in constant time; anything that is not a 32-byte hash is unequal. */
export function hashesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === HASH_SIZE && b.byteLength === HASH_SIZE && timingSafeEqual(a, b);
}

export const toHex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

/** Reads a 32-byte hash written as 64 hex characters. */
export function hashFromHex(text: string): Hash {
  if (!/^[0-9a-fA-F]{64}$/.test(text)) {
    throw new WabridgeError('bad_request', 'a hash must be 64 hexadecimal characters');
  }
  return new Uint8Array(Buffer.from(text, 'hex'));
}

/**
 * Tree sizes and indexes are plain numbers up to 2^53 − 1. JavaScript's bit operators work on 32
 * bits, so the tree arithmetic below uses division instead (exact for powers of two).
 */
export function assertCount(value: number, name: string): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new WabridgeError('bad_request', `${name} must be a whole number from 0 to 2^53 − 1, got ${value}`);
  }
}

export const isOdd = (n: number): boolean => n % 2 === 1;

export const half = (n: number): number => Math.floor(n / 2);

export function isPowerOfTwo(n: number): boolean {
  if (n < 1) return false;
  let m = n;
  while (m % 2 === 0) m /= 2;
  return m === 1;
}

/** The largest power of two strictly smaller than n (n ≥ 2): the split point `k` of RFC 9162. */
export function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}
