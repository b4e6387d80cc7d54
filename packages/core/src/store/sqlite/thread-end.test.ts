import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { endThread } from './thread-end.ts';

describe('endThread', () => {
  it('terminates a thread that does not end by itself within the grace', async () => {
    // Ignores the request to close: its timer keeps it alive.
    const stubborn = new Worker('setInterval(() => {}, 1000);', { eval: true });
    await new Promise((resolve) => stubborn.once('online', resolve));
    // 1: the exit code of a terminated thread.
    expect(await endThread(stubborn, 50)).toBe(1);
    expect(stubborn.threadId).toBe(-1);
  });

  it('answers at once for a thread that has already ended, without waiting out the grace', async () => {
    const ended = new Worker('', { eval: true });
    await new Promise((resolve) => ended.once('exit', resolve));
    // A grace longer than the test's timeout: waiting for an exit that will not come would fail it.
    expect(await endThread(ended, 60_000)).toBeNull();
  });
});
