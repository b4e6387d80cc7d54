/** Whether a message's Content-Length announces more than `maxBytes` (absent or malformed: no). */
export function declaresMoreThan(headers: Headers, maxBytes: number): boolean {
  const declared = headers.get('content-length');
  return declared !== null && Number(declared) > maxBytes;
}

/**
 * Reads a request's or response's body to its end, or returns null as soon as it is known to pass
 * `maxBytes`: at once when its Content-Length says so, else at the first chunk past the limit. The
 * stream is cancelled then, so a huge or endless body is not downloaded to be thrown away.
 */
export async function readUpTo(
  message: { headers: Headers; body: ReadableStream<Uint8Array> | null },
  maxBytes: number,
): Promise<Uint8Array<ArrayBuffer> | null> {
  if (declaresMoreThan(message.headers, maxBytes)) {
    await message.body?.cancel().catch(() => {});
    return null;
  }
  if (!message.body) return new Uint8Array(0);
  const reader = message.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => {});
      return null;
    }
    chunks.push(value);
  }
  return concatBytes(chunks, size);
}

/** The chunks as one array; `size` is their total length, which the caller counted anyway. */
export function concatBytes(chunks: readonly Uint8Array[], size: number): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}
