import { describe, expect, it } from 'vitest';
import { BodyGate, SMALL_BODY_BYTES } from './body-gate.ts';

describe('body gate', () => {
  it('admits bodies up to the count and byte caps, keeps a quarter for small bodies, and gives back exactly what it took', () => {
    const gate = new BodyGate({ maxBodies: 8, maxBytes: 4 * 1024 * 1024 });
    const large = 1024 * 1024 - 1;
    // Large bodies get three quarters of the bytes: three of them, not four.
    const tickets = [gate.admit(large), gate.admit(large), gate.admit(large)];
    expect(tickets.every(Boolean)).toBe(true);
    expect(gate.admit(large)).toBeNull();
    // A small one still gets in, up to the count.
    const small = [1, 2, 3, 4, 5].map(() => gate.admit(2048));
    expect(small.every(Boolean)).toBe(true);
    expect(gate.admit(2048)).toBeNull();
    expect(gate.inUse).toEqual({ bodies: 8, bytes: 3 * large + 5 * 2048 });
    // Released twice counts once.
    tickets[0]?.release();
    tickets[0]?.release();
    expect(gate.inUse).toEqual({ bodies: 7, bytes: 2 * large + 5 * 2048 });
    for (const ticket of [...tickets, ...small]) ticket?.release();
    expect(gate.inUse).toEqual({ bodies: 0, bytes: 0 });
  });

  it('grows a body of unknown length as it arrives and refuses the chunk that would pass the cap', () => {
    const gate = new BodyGate({ maxBodies: 4, maxBytes: 4 * SMALL_BODY_BYTES });
    const ticket = gate.admit(null);
    expect(ticket?.grow(2 * SMALL_BODY_BYTES)).toBe(true);
    expect(ticket?.grow(SMALL_BODY_BYTES + 1)).toBe(false);
    expect(gate.inUse).toEqual({ bodies: 1, bytes: 2 * SMALL_BODY_BYTES });
    ticket?.release();
    expect(gate.inUse).toEqual({ bodies: 0, bytes: 0 });
    expect(ticket?.grow(1)).toBe(false);
  });
});
