import { describe, expect, it } from 'vitest';
import { readUpTo } from './bytes.ts';

/** A stream of `chunks`, noting how far it was read and whether it was cancelled. */
function chunked(chunks: number[][]) {
  const seen = { pulled: 0, cancelled: false };
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      const next = chunks[seen.pulled++];
      if (next) controller.enqueue(new Uint8Array(next));
      else controller.close();
    },
    cancel() {
      seen.cancelled = true;
    },
  });
  return { stream, seen };
}

describe('readUpTo', () => {
  const message = (body: ReadableStream<Uint8Array> | null, contentLength?: string) => ({
    headers: new Headers(contentLength === undefined ? {} : { 'content-length': contentLength }),
    body,
  });

  it('joins the chunks of a stream within the limit, up to exactly the limit', async () => {
    const { stream } = chunked([[1, 2], [3], [4, 5, 6]]);
    expect(await readUpTo(message(stream), 6)).toEqual(new Uint8Array([1, 2, 3, 4, 5, 6]));
  });

  it('stops at the first chunk past the limit and cancels the rest of the stream', async () => {
    const { stream, seen } = chunked([[1, 2], [3, 4], [5], [6]]);
    expect(await readUpTo(message(stream), 3)).toBeNull();
    expect(seen.cancelled).toBe(true);
    expect(seen.pulled).toBeLessThan(4);
  });

  it('refuses a body whose Content-Length is over the limit without reading it', async () => {
    const { stream, seen } = chunked([[1, 2]]);
    expect(await readUpTo(message(stream, '3'), 2)).toBeNull();
    expect(seen.cancelled).toBe(true);
    // A Content-Length that lies low is caught by the count.
    expect(await readUpTo(message(chunked([[1, 2, 3]]).stream, '1'), 2)).toBeNull();
  });

  it('reads no body as empty', async () => {
    expect(await readUpTo(message(null), 10)).toEqual(new Uint8Array(0));
  });
});
