/**
 * A seeded generator of numbers in [0, 1) (mulberry32: small, fast, and good enough for tests), so
 * a shuffle, a mutation or a kill point is the same on every run and a failure replays.
 *
 * @example const random = seededRandom(42); random(); // 0.6011037519201636, on every run
 */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
