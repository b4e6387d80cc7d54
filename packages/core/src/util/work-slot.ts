import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * The worker slot a delivery runs in, as code deep inside the delivery (a `Pacer`) sees it. A
 * delivery that only waits for its pace lane (a timer, no work) can step out of its slot for the
 * wait, so the worker claims other jobs with it: with 50 Teams channels at 3 requests/s, deliveries
 * sleeping up to 3 s per pacer in their slots used to fill most of 64 slots and starve the sends
 * and the other connectors (`npm run bench:campaign`, docs/performance.md).
 */
export interface WorkSlot {
  /**
   * Whether stepping out is possible now (the worker bounds how many deliveries wait outside their
   * slots). When it is, a pacer may let the delivery wait longer before handing the job back.
   */
  canPark(): boolean;
  /**
   * Steps out of the slot for the whole of `wait` when `canPark` (the job stays claimed and its
   * lease kept; it takes a slot again when `wait` settles, even if that briefly exceeds the
   * worker's concurrency, as it has already been claimed); otherwise waits in the slot.
   */
  parked<T>(wait: () => Promise<T>): Promise<T>;
}

const slots = new AsyncLocalStorage<WorkSlot>();

/** Runs a delivery in `slot`: code it calls finds the slot with `currentWorkSlot`. */
export function runInWorkSlot<T>(slot: WorkSlot, work: () => Promise<T>): Promise<T> {
  return slots.run(slot, work);
}

/** The slot of the delivery this code runs for, if it runs under a worker. */
export function currentWorkSlot(): WorkSlot | undefined {
  return slots.getStore();
}
