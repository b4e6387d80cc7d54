import { expect, it } from 'vitest';
import { GroupCommit, type Settled } from './group-commit.ts';

/** A GroupCommit whose batches finish when the test says; `batches` are their inputs, in order. */
function controlled(options: { maxBatch: number; inFlight: number }) {
  const batches: number[][] = [];
  const finish: Array<() => void> = [];
  const group = new GroupCommit<number, number>(
    (inputs) =>
      new Promise<Settled<number>[]>((resolve) => {
        batches.push([...inputs]);
        finish.push(() => resolve(inputs.map((value) => ({ ok: true, value: value * 10 }))));
      }),
    options,
  );
  return { group, batches, finish };
}

// Lets the microtasks run (the batch starts after the calls of the same task).
const settle = () => new Promise((resolve) => setImmediate(resolve));

it('gathers the calls that arrive while a batch is written into the next batch, not into batches of their own', async () => {
  const { group, batches, finish } = controlled({ maxBatch: 256, inFlight: 4 });
  const first = group.submit(1);
  await settle();
  expect(batches).toEqual([[1]]);
  // Arriving one by one while the first batch is written, as an HTTP server reads their bodies.
  const later: Promise<number>[] = [];
  for (const n of [2, 3, 4]) {
    later.push(group.submit(n));
    await settle();
  }
  expect(batches).toEqual([[1]]);
  finish[0]?.();
  expect(await first).toBe(10);
  await settle();
  expect(batches).toEqual([[1], [2, 3, 4]]);
  finish[1]?.();
  expect(await Promise.all(later)).toEqual([20, 30, 40]);
  expect(group.batches).toBe(2);
});

it('starts another batch beside a running one while a full batch waits, up to inFlight', async () => {
  const { group, batches, finish } = controlled({ maxBatch: 2, inFlight: 2 });
  const calls = [group.submit(1)];
  await settle();
  calls.push(group.submit(2));
  await settle();
  expect(batches).toEqual([[1]]);
  calls.push(group.submit(3));
  await settle();
  // A full batch waited: it runs beside the first.
  expect(batches).toEqual([[1], [2, 3]]);
  calls.push(group.submit(4), group.submit(5), group.submit(6));
  await settle();
  // Two running: the rest wait, however many.
  expect(batches).toEqual([[1], [2, 3]]);
  finish[1]?.();
  await settle();
  expect(batches).toEqual([[1], [2, 3], [4, 5]]);
  finish[0]?.();
  await settle();
  // One running and less than a full batch waiting: it waits for that one.
  expect(batches).toEqual([[1], [2, 3], [4, 5]]);
  finish[2]?.();
  await settle();
  expect(batches).toEqual([[1], [2, 3], [4, 5], [6]]);
  finish[3]?.();
  expect(await Promise.all(calls)).toEqual([10, 20, 30, 40, 50, 60]);
});
