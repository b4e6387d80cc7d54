import { describe, expect, it } from 'vitest';
import { Chaos } from './chaos.ts';

const draws = (chaos: Chaos, n: number) => Array.from({ length: n }, () => chaos.throttle());

describe('Chaos', () => {
  it('throttles the same calls for the same seed, and other calls for another seed', () => {
    const a = draws(new Chaos({ seed: 42, throttleRate: 0.2 }), 200);
    expect(draws(new Chaos({ seed: 42, throttleRate: 0.2 }), 200)).toEqual(a);
    expect(draws(new Chaos({ seed: 43, throttleRate: 0.2 }), 200)).not.toEqual(a);
  });

  it('throttles about the share asked for, and counts what it throttled', () => {
    const chaos = new Chaos({ seed: 7, throttleRate: 0.2 });
    const hits = draws(chaos, 10_000).filter(Boolean).length;
    expect(hits).toBeGreaterThan(1_800);
    expect(hits).toBeLessThan(2_200);
    expect(chaos.throttled).toBe(hits);
  });

  it('never throttles at rate 0 and always at rate 1', () => {
    expect(draws(new Chaos({ seed: 1, throttleRate: 0 }), 500).some(Boolean)).toBe(false);
    expect(draws(new Chaos({ seed: 1, throttleRate: 1 }), 500).every(Boolean)).toBe(true);
  });

  it('refuses a rate outside 0..1 and a seed that is not an integer', () => {
    expect(() => new Chaos({ seed: 1, throttleRate: 1.5 })).toThrow(RangeError);
    expect(() => new Chaos({ seed: 0.5, throttleRate: 0.2 })).toThrow(RangeError);
  });
});
