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
  it('joins the chunks of a stream within the limit, up to exactly the limit', async () => {
    const { stream } = chunked([[1, 2], [3], [4, 5, 6]]);
    expect(await readUpTo(stream, 6)).toEqual(new Uint8Array([1, 2, 3, 4, 5, 6]));
  });

  it('stops at the first chunk past the limit and cancels the rest of the stream', async () => {
    const { stream, seen } = chunked([[1, 2], [3, 4], [5], [6]]);
    expect(await readUpTo(stream, 3)).toBeNull();
    expect(seen.cancelled).toBe(true);
    expect(seen.pulled).toBeLessThan(4);
  });

  it('reads no stream as empty', async () => {
    expect(await readUpTo(null, 10)).toEqual(new Uint8Array(0));
  });
});
