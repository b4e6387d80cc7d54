import { type Cipheriv, createCipheriv, type KeyObject } from 'node:crypto';
import { aadOf, SEALED_LAYOUT } from './keyring.ts';

// Opening many sealed values at once, for `archive verify` (millions of contents in a row).
//
// One AES-256-GCM open through node:crypto costs ~4 µs of CPU whatever the value's size: a
// Decipheriv object, its key set up, and five calls into OpenSSL (IV, AAD, tag, update, final).
// Here a page of values sealed with one key is opened with three cipher calls in all, by doing
// what GCM does (NIST SP 800-38D, §7.2) in two halves:
//
//   - the keystream: every value's counter blocks (J0 = IV ‖ 0³¹1, then inc32(J0), inc32²(J0), …)
//     are laid side by side and encrypted with one AES-256-ECB cipher kept for the whole run;
//     XORed with the ciphertexts they give the plaintexts, and E(J0) of each value masks its tag;
//   - the tags: value i is authentic iff GHASH_H(X_i) = T_i ⊕ E(J0_i), where X_i is its AAD and
//     ciphertext, each zero-padded to 16 bytes, and their lengths in bits. Append the block
//     M_i = T_i ⊕ E(J0_i) to X_i: GHASH_H(X_i ‖ M_i) = (GHASH_H(X_i) ⊕ M_i)·H, which is zero
//     iff the tag is right (H ≠ 0). GHASH is linear, so over all the values' blocks laid end to
//     end, Z = (X_1 ‖ M_1) ‖ … ‖ (X_n ‖ M_n), GHASH_H(Z) = Σ_i (GHASH_H(X_i) ⊕ M_i)·H^(k_i),
//     k_i > 0 the blocks from the end of value i on. That is zero when every tag is right. When
//     one or more are wrong, it is a non-zero polynomial in H of degree at most |Z|/16 whose
//     coefficients an attacker without the key can choose but not H: it is zero with probability
//     at most |Z|/16 / 2¹²⁸, the bound GCM itself gives one forged tag over |Z|/16 blocks.
//     GHASH_H(Z) is read from one GCM seal of Z as associated data (tag = GHASH_H(Z ‖ L)·… ⊕
//     E(J0')): the tag equals that of an all-zero Z of the same length, under the same IV, iff
//     GHASH_H(Z)·H = 0, i.e. GHASH_H(Z) = 0.
//
// So a page either opens whole, every tag verified (up to that bound) and every plaintext
// returned, or it answers that some tag failed, without saying which: the caller then opens the
// page's values one by one, as `sealedOpener` does, to find it. A value that is not in the sealed
// format, or whose key is not given, opens to null either way.

const { FORMAT, HEADER, IV_BYTES, TAG_BYTES, MIN_SEALED } = SEALED_LAYOUT;
const BLOCK = 16;
const ZERO_IV = new Uint8Array(IV_BYTES);

interface KeyState {
  readonly key: KeyObject;
  /** The associated data zero-padded to whole blocks: each value's GHASH input starts with it. */
  readonly aad: Uint8Array;
  /** The AAD's length in bits, as the 8 bytes (big-endian) of the lengths block. */
  readonly aadBits: number;
  /** AES-256-ECB with this key, no padding: encrypts the counter blocks of every page. */
  readonly ecb: Cipheriv;
}

/** The outcome of `open`: per value, its plaintext or null; or `false` when some tag failed. */
export type BatchOpened = Array<Uint8Array | null> | false;

/** Opens the values of one workspace and purpose sealed with the given data keys, many at a time. */
export class BatchOpener {
  readonly #keys = new Map<number, KeyState>();

  constructor(keys: ReadonlyMap<string, KeyObject>, workspaceId: string, purpose: string) {
    for (const [id, key] of keys) {
      const header = Buffer.concat([Buffer.from([FORMAT]), Buffer.from(id, 'hex')]);
      if (header.byteLength !== HEADER) continue;
      const aad = aadOf(header, workspaceId, purpose);
      const padded = new Uint8Array(roundUp(aad.byteLength));
      padded.set(aad);
      const ecb = createCipheriv('aes-256-ecb', key, null);
      ecb.setAutoPadding(false);
      this.#keys.set(header.readUInt32BE(1), { key, aad: padded, aadBits: aad.byteLength * 8, ecb });
    }
  }

  /**
   * The plaintexts of `sealed` (views of one buffer per key), null where a value is not a sealed
   * value or its key is unknown; `false` when a tag did not verify (open them one by one to see
   * which). Entries that are not byte arrays are left null.
   */
  open(sealed: ReadonlyArray<unknown>): BatchOpened {
    const out: Array<Uint8Array | null> = new Array(sealed.length).fill(null);
    // Which values go with which key: a log is sealed with one key at a time, so a page has one
    // group (two across a rotation).
    const groups = new Map<number, number[]>();
    for (let i = 0; i < sealed.length; i++) {
      const value = sealed[i];
      if (!(value instanceof Uint8Array) || value.byteLength < MIN_SEALED || value[0] !== FORMAT) continue;
      const keyId =
        (((value[1] as number) << 24) |
          ((value[2] as number) << 16) |
          ((value[3] as number) << 8) |
          (value[4] as number)) >>>
        0;
      if (!this.#keys.has(keyId)) continue;
      const group = groups.get(keyId);
      if (group) group.push(i);
      else groups.set(keyId, [i]);
    }
    for (const [keyId, group] of groups) {
      if (
        !this.#openGroup(this.#keys.get(keyId) as KeyState, sealed as ReadonlyArray<Uint8Array>, group, out)
      )
        return false;
    }
    return out;
  }

  #openGroup(
    state: KeyState,
    sealed: ReadonlyArray<Uint8Array>,
    group: readonly number[],
    out: Array<Uint8Array | null>,
  ): boolean {
    // The counter blocks, one run per value: J0, then one per block of ciphertext.
    let blocks = 0;
    let ghashBytes = 0;
    for (const i of group) {
      const length = (sealed[i] as Uint8Array).byteLength - MIN_SEALED;
      blocks += 1 + Math.ceil(length / BLOCK);
      ghashBytes += state.aad.byteLength + roundUp(length) + 2 * BLOCK;
    }
    const counters = this.#scratch('counters', blocks * BLOCK);
    const view = new DataView(counters.buffer, 0, counters.byteLength);
    let at = 0;
    for (const i of group) {
      const value = sealed[i] as Uint8Array;
      const runs = 1 + Math.ceil((value.byteLength - MIN_SEALED) / BLOCK);
      // The IV as three little-endian words, written back the same way: its bytes as they are.
      const w0 = word(value, HEADER);
      const w1 = word(value, HEADER + 4);
      const w2 = word(value, HEADER + 8);
      for (let counter = 1; counter <= runs; counter++) {
        view.setUint32(at, w0, true);
        view.setUint32(at + 4, w1, true);
        view.setUint32(at + 8, w2, true);
        view.setUint32(at + 12, counter, false);
        at += BLOCK;
      }
    }
    // The keystream; the plaintexts are made in place over it, after each value's E(J0).
    // (A buffer of its own, at an offset of 0: the plaintexts returned are views of it.)
    const stream = new Uint8Array(blocks * BLOCK);
    stream.set(state.ecb.update(counters));
    // GHASH's input for all the values, end to end (zero-filled: the paddings).
    const ghash = this.#scratch('ghash', ghashBytes);
    ghash.fill(0);
    const streamWords = new Uint32Array(stream.buffer, 0, stream.byteLength >>> 2);
    const ghashWords = new Uint32Array(ghash.buffer, 0, ghash.byteLength >>> 2);
    let g = 0;
    at = 0;
    for (const i of group) {
      const value = sealed[i] as Uint8Array;
      const length = value.byteLength - MIN_SEALED;
      const tagAt = value.byteLength - TAG_BYTES;
      ghash.set(state.aad, g);
      g += state.aad.byteLength;
      const j0 = at;
      const text = at + BLOCK;
      const padded = roundUp(length);
      // The ciphertext into GHASH's input, then XORed word by word (both at multiples of 16
      // bytes; the padding is zero) onto the keystream: the plaintext.
      ghash.set(value.subarray(HEADER + IV_BYTES, tagAt), g);
      for (let k = text >>> 2, c = g >>> 2, end = (text + padded) >>> 2; k < end; k++, c++) {
        streamWords[k] = (streamWords[k] as number) ^ (ghashWords[c] as number);
      }
      g += padded;
      writeBits(ghash, g, state.aadBits);
      writeBits(ghash, g + 8, length * 8);
      g += BLOCK;
      for (let k = 0; k < TAG_BYTES; k++)
        ghash[g + k] = (value[tagAt + k] as number) ^ (stream[j0 + k] as number);
      g += BLOCK;
      out[i] = stream.subarray(text, text + length);
      at = text + padded;
    }
    return this.#ghashIsZero(state.key, ghash);
  }

  /** Whether GHASH_H(z) = 0 for the key's H (z whole blocks): z's GCM tag is that of zeros. */
  #ghashIsZero(key: KeyObject, z: Uint8Array): boolean {
    const tagOf = (aad: Uint8Array) => {
      const gcm = createCipheriv('aes-256-gcm', key, ZERO_IV);
      gcm.setAAD(aad);
      gcm.final();
      return gcm.getAuthTag();
    };
    return tagOf(z).equals(tagOf(this.#scratch('zeros', z.byteLength)));
  }

  // Buffers reused from page to page (each starting at offset 0 of its own ArrayBuffer, so that
  // word views line up), grown as a page needs; `zeros` is never written.
  readonly #buffers = new Map<'counters' | 'ghash' | 'zeros', Uint8Array>();

  #scratch(name: 'counters' | 'ghash' | 'zeros', bytes: number): Uint8Array {
    let buffer = this.#buffers.get(name);
    if (!buffer || buffer.byteLength < bytes) {
      buffer = new Uint8Array(Math.max(bytes, 2 * (buffer?.byteLength ?? 0)));
      this.#buffers.set(name, buffer);
    }
    return buffer.subarray(0, bytes);
  }
}

/** The 4 bytes at `at` as a little-endian word. */
function word(bytes: Uint8Array, at: number): number {
  return (
    ((bytes[at] as number) |
      ((bytes[at + 1] as number) << 8) |
      ((bytes[at + 2] as number) << 16) |
      ((bytes[at + 3] as number) << 24)) >>>
    0
  );
}

function roundUp(n: number): number {
  return Math.ceil(n / BLOCK) * BLOCK;
}

/** Writes `bits` (< 2⁵³) as 8 bytes big-endian at `at`. */
function writeBits(to: Uint8Array, at: number, bits: number): void {
  const high = Math.floor(bits / 0x100000000);
  const low = bits >>> 0;
  to[at] = high >>> 24;
  to[at + 1] = (high >>> 16) & 0xff;
  to[at + 2] = (high >>> 8) & 0xff;
  to[at + 3] = high & 0xff;
  to[at + 4] = low >>> 24;
  to[at + 5] = (low >>> 16) & 0xff;
  to[at + 6] = (low >>> 8) & 0xff;
  to[at + 7] = low & 0xff;
}
