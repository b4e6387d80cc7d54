import { type Hash, half, hashesEqual, isHash, isOdd, nodeHash } from './hash.ts';
import { type ProofVerdict, verifyInclusion } from './verify.ts';

// Many inclusion proofs against one tree head, as an export's verifier checks them: records in
// log order share most of their proofs (the upper levels), so each path is walked only until it
// meets the last proven path. The verdict is the full check's, not an approximation: in RFC 9162's
// algorithm (§2.1.3.2) the state after each step is (fn, sn, r) and the proof left, and sn is
// fixed by the tree size and the step's level, so a path at the same level and fn, with the same
// hash and the same proof left, computes what the proven path computed from there: the root.

interface Step {
  readonly level: number;
  readonly fn: number;
  readonly r: Hash;
}

/** Checks inclusion proofs (hex, as exports carry them) against one trusted tree head. */
export class InclusionMemo {
  readonly #size: number;
  readonly #root: Hash;
  /** The last proven path: the state after each step, and its proof. */
  #steps: Step[] = [];
  #proof: readonly string[] = [];

  constructor(size: number, root: Hash) {
    this.#size = size;
    this.#root = root;
  }

  /**
   * Whether `leaf` is the leaf at `index`: null when the proof is not a list of 64-digit hex
   * hashes, else the verdict of `verifyInclusion` (its reason when it fails).
   */
  check(index: number, leaf: Hash, proof: unknown): ProofVerdict | null {
    if (!Array.isArray(proof)) return null;
    for (const element of proof) if (typeof element !== 'string') return null;
    // Each element's form is checked where it is decoded; those past the meeting point equal the
    // last proof's, already checked; the full check checks them all.
    const hex = proof as string[];
    const size = this.#size;
    if (!Number.isSafeInteger(index) || index < 0 || index >= size || !isHash(leaf))
      return this.#full(index, leaf, hex);
    let fn = index;
    let sn = size - 1;
    let level = 0;
    let r = leaf;
    const steps: Step[] = [];
    for (let k = 0; k < hex.length; k++) {
      if (sn === 0) return this.#full(index, leaf, hex);
      if (!HEX64.test(hex[k] as string)) return null;
      const p = fromHex(hex[k] as string);
      if (isOdd(fn) || fn === sn) {
        r = nodeHash(p, r);
        if (!isOdd(fn)) {
          while (!isOdd(fn) && fn !== 0) {
            fn = half(fn);
            sn = half(sn);
            level++;
          }
        }
      } else {
        r = nodeHash(r, p);
      }
      fn = half(fn);
      sn = half(sn);
      level++;
      steps.push({ level, fn, r });
      if (this.#meets(level, fn, r, hex, k + 1)) {
        this.#remember(steps, hex, k + 1);
        return { ok: true };
      }
    }
    if (sn !== 0 || !hashesEqual(r, this.#root)) return this.#full(index, leaf, hex);
    this.#steps = steps;
    this.#proof = hex;
    return { ok: true };
  }

  /** Whether the last proven path was at this node with this hash, with the same proof left. */
  #meets(level: number, fn: number, r: Hash, hex: readonly string[], rest: number): boolean {
    const at = this.#steps.findIndex((s) => s.level === level && s.fn === fn);
    if (at < 0) return false;
    const step = this.#steps[at] as Step;
    const left = this.#proof.length - (at + 1);
    if (left !== hex.length - rest || !hashesEqual(step.r, r)) return false;
    for (let i = 0; i < left; i++) if (this.#proof[at + 1 + i] !== hex[rest + i]) return false;
    return true;
  }

  /** A path proven by meeting the last one: its own steps, then the last one's from there. */
  #remember(steps: Step[], hex: readonly string[], rest: number): void {
    const last = steps[steps.length - 1] as Step;
    const at = this.#steps.findIndex((s) => s.level === last.level && s.fn === last.fn);
    this.#steps = [...steps, ...this.#steps.slice(at + 1)];
    this.#proof = [...hex.slice(0, rest), ...this.#proof.slice(at + 1)];
  }

  /** The full check, for its verdict and reason (a failure, or a path the shortcut cannot take). */
  #full(index: number, leaf: Hash, hex: readonly string[]): ProofVerdict | null {
    if (!hex.every((element) => HEX64.test(element))) return null;
    return verifyInclusion(index, this.#size, leaf, hex.map(fromHex), this.#root);
  }
}

const HEX64 = /^[0-9a-f]{64}$/;
const fromHex = (text: string): Hash => new Uint8Array(Buffer.from(text, 'hex'));
