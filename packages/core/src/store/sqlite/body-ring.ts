/**
 * Webhook bodies from the HTTP thread to the store thread through shared memory: one producer,
 * one consumer, a ring of records.
 *
 * Why not postMessage: the store thread commits one batch at a time, and with messages it could
 * only start the next once the HTTP thread had got round to its answer and sent what had piled up
 * meanwhile. Under load the HTTP thread is often busy with a few hundred sockets just then, so the
 * store thread sat idle for ~15% of the time although bodies were waiting. Through the ring it
 * takes whatever has arrived the moment its commit returns, with no message per body.
 *
 * Layout: four int32 control words, then the data. `written` and `read` count bytes (mod 2^32;
 * the data size is a power of two, so a count maps to one position). A record is a 24-byte
 * header (body length, call id, received-at time or NaN) and the body, padded to 8 bytes; a
 * length of -1 means "the rest of the data is unused, go on at its start". The producer stores
 * `written` after the record (a sequentially consistent store, so the record is visible first)
 * and wakes the consumer only if it said it was going to sleep.
 */
const WRITTEN = 0;
const READ = 1;
const SLEEPING = 2;
const CONTROL_BYTES = 16;
const RECORD_HEADER = 24;
const WRAP = -1;

export interface RingRecord {
  id: number;
  body: Uint8Array;
  receivedAt: number | undefined;
}

export class BodyRing {
  readonly buffer: SharedArrayBuffer;
  private readonly control: Int32Array;
  private readonly data: Uint8Array;
  private readonly view: DataView;
  private readonly size: number;

  /** A new ring with `dataBytes` (a power of two) of room, or the consumer's view of an existing one. */
  constructor(from: number | SharedArrayBuffer) {
    this.buffer = typeof from === 'number' ? new SharedArrayBuffer(CONTROL_BYTES + from) : from;
    this.size = this.buffer.byteLength - CONTROL_BYTES;
    if (this.size <= 0 || (this.size & (this.size - 1)) !== 0 || this.size > 2 ** 30)
      throw new RangeError('the ring needs a power of two of data bytes, at most 1 GiB');
    this.control = new Int32Array(this.buffer, 0, CONTROL_BYTES / 4);
    this.data = new Uint8Array(this.buffer, CONTROL_BYTES);
    this.view = new DataView(this.buffer, CONTROL_BYTES);
  }

  /** Producer: appends a body, or returns false when it does not fit now (the caller sends it otherwise). */
  write(id: number, body: Uint8Array, receivedAt: number | undefined): boolean {
    const written = Atomics.load(this.control, WRITTEN) >>> 0;
    const used = (written - (Atomics.load(this.control, READ) >>> 0)) >>> 0;
    const need = (RECORD_HEADER + body.byteLength + 7) & ~7;
    let position = written & (this.size - 1);
    // A record never wraps: if it does not fit before the end, the end is skipped.
    const skip = position + need > this.size ? this.size - position : 0;
    if (used + skip + need > this.size) return false;
    if (skip > 0) {
      this.view.setInt32(position, WRAP);
      position = 0;
    }
    this.view.setInt32(position, body.byteLength);
    this.view.setFloat64(position + 8, id);
    this.view.setFloat64(position + 16, receivedAt ?? Number.NaN);
    this.data.set(body, position + RECORD_HEADER);
    Atomics.store(this.control, WRITTEN, (written + skip + need) | 0);
    if (Atomics.load(this.control, SLEEPING) === 1) Atomics.notify(this.control, WRITTEN);
    return true;
  }

  /** Consumer: takes every record written so far (bodies copied out, so the room is free again). */
  take(): RingRecord[] {
    const records: RingRecord[] = [];
    const written = Atomics.load(this.control, WRITTEN) >>> 0;
    let read = Atomics.load(this.control, READ) >>> 0;
    while (read !== written) {
      const position = read & (this.size - 1);
      const length = this.view.getInt32(position);
      if (length === WRAP) {
        read = (read + this.size - position) >>> 0;
        continue;
      }
      const at = this.view.getFloat64(position + 16);
      records.push({
        id: this.view.getFloat64(position + 8),
        body: this.data.slice(position + RECORD_HEADER, position + RECORD_HEADER + length),
        receivedAt: Number.isNaN(at) ? undefined : at,
      });
      read = (read + ((RECORD_HEADER + length + 7) & ~7)) >>> 0;
    }
    Atomics.store(this.control, READ, read | 0);
    return records;
  }

  /** Consumer: resolves once something has been written that `take` has not taken. */
  async written(): Promise<void> {
    Atomics.store(this.control, SLEEPING, 1);
    try {
      const seen = Atomics.load(this.control, READ);
      // Either the producer sees SLEEPING and notifies, or this sees its new WRITTEN and returns.
      const wait = Atomics.waitAsync(this.control, WRITTEN, seen);
      if (wait.async) await wait.value;
    } finally {
      Atomics.store(this.control, SLEEPING, 0);
    }
  }
}
