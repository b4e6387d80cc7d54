import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { BodyRing } from './body-ring.ts';

const bytes = (text: string) => new TextEncoder().encode(text);
const text = (body: Uint8Array) => new TextDecoder().decode(body);

describe('the body ring', () => {
  it('gives back what was written, in order, with ids and receive times', () => {
    const ring = new BodyRing(1024);
    expect(ring.write(1, bytes('first'), 1_750_000_000_000)).toBe(true);
    expect(ring.write(2, bytes(''), undefined)).toBe(true);
    const records = ring.take();
    expect(records.map((r) => [r.id, text(r.body), r.receivedAt])).toEqual([
      [1, 'first', 1_750_000_000_000],
      [2, '', undefined],
    ]);
    expect(ring.take()).toEqual([]);
  });

  it('refuses what does not fit, and has the room again once it is taken', () => {
    const ring = new BodyRing(256);
    const body = new Uint8Array(100).fill(7); // 128 bytes with the header and padding
    expect(ring.write(1, body, undefined)).toBe(true);
    expect(ring.write(2, body, undefined)).toBe(true);
    expect(ring.write(3, body, undefined)).toBe(false);
    expect(ring.write(4, new Uint8Array(300), undefined)).toBe(false);
    expect(ring.take().map((r) => r.id)).toEqual([1, 2]);
    expect(ring.write(3, body, undefined)).toBe(true);
  });

  it('skips the end of the data rather than splitting a record, and counts on past 2^32', () => {
    const buffer = new SharedArrayBuffer(16 + 256);
    // Both byte counts start just short of 2^32, so they wrap within the first records.
    new Int32Array(buffer, 0, 2).fill((2 ** 32 - 300) | 0);
    const ring = new BodyRing(buffer);
    const seen: string[] = [];
    // Sizes that do not divide the ring, so records keep landing near its end.
    for (let i = 0; i < 10_000; i++) {
      expect(ring.write(i, bytes(`#${i}:${'x'.repeat(i % 90)}`), undefined)).toBe(true);
      if (i % 2 === 1) for (const record of ring.take()) seen.push(text(record.body));
    }
    expect(seen).toHaveLength(10_000);
    expect(seen.every((body, i) => body === `#${i}:${'x'.repeat(i % 90)}`)).toBe(true);
  });

  it('wakes a consumer thread that waits for bodies', async () => {
    const ring = new BodyRing(4096);
    const consumer = new Worker(
      `const { workerData, parentPort } = require('node:worker_threads');
       const control = new Int32Array(workerData, 0, 4);
       // The same protocol as BodyRing.written: say it sleeps, then wait on the write count.
       Atomics.store(control, 2, 1);
       const wait = Atomics.waitAsync(control, 0, Atomics.load(control, 1));
       parentPort.postMessage('waiting');
       Promise.resolve(wait.value).then(() => parentPort.postMessage(Atomics.load(control, 0)));`,
      { eval: true, workerData: ring.buffer },
    );
    try {
      const messages: unknown[] = [];
      await new Promise<void>((resolve) =>
        consumer.on('message', (message) => {
          messages.push(message);
          if (messages.length === 1) ring.write(1, bytes('wake up'), undefined);
          else resolve();
        }),
      );
      expect(messages).toEqual(['waiting', 32]);
    } finally {
      await consumer.terminate();
    }
  });
});
