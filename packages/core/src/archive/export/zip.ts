import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import * as yauzl from 'yauzl';
import * as yazl from 'yazl';
import { WabridgeError } from '../../errors/index.ts';
import { PRIVATE_FILE_MODE } from '../../util/private-files.ts';

// ZIP files for exports: written with yazl and read with yauzl (one author, both streaming; yauzl
// checks entry names and sizes against the central directory and refuses `..` and absolute
// paths). An export holds personal data, so the file is private (0600) and appears under its name
// only when complete.

/** Writes a ZIP entry by entry, each streamed to the file as it is added. */
export class ZipWriter {
  readonly #zip = new yazl.ZipFile();
  readonly #done: Promise<void>;
  readonly #mtime: Date;
  readonly #path: string;
  readonly #temporary: string;

  constructor(path: string, options: { mtime: Date }) {
    this.#path = path;
    this.#temporary = `${path}.partial`;
    this.#mtime = options.mtime;
    this.#done = pipeline(
      this.#zip.outputStream,
      createWriteStream(this.#temporary, { mode: PRIVATE_FILE_MODE }),
    );
  }

  add(name: string, content: string | Uint8Array): void {
    const buffer = typeof content === 'string' ? Buffer.from(content, 'utf8') : Buffer.from(content);
    // Media is compressed already; text compresses well.
    this.#zip.addBuffer(buffer, name, { mtime: this.#mtime, compress: typeof content === 'string' });
  }

  async finish(): Promise<void> {
    this.#zip.end();
    await this.#done;
    await rename(this.#temporary, this.#path);
  }

  async abort(): Promise<void> {
    this.#zip.end();
    await this.#done.catch(() => {});
    await rm(this.#temporary, { force: true });
  }
}

/** Reads every entry of a ZIP into memory (exports verified offline are one contact's). */
export async function readZip(
  path: string,
  options: { maxBytes?: number } = {},
): Promise<Map<string, Buffer>> {
  const limit = options.maxBytes ?? 2 * 1024 ** 3;
  let zip: yauzl.ZipFile;
  try {
    zip = await yauzl.openPromise(path, { strictFileNames: true, validateEntrySizes: true });
  } catch (error) {
    throw new WabridgeError(
      'bad_request',
      `${path} is not a readable ZIP file: ${error instanceof Error ? error.message : error}`,
      {
        cause: error,
      },
    );
  }
  const entries = new Map<string, Buffer>();
  let total = 0;
  try {
    for await (const entry of zip.eachEntry()) {
      if (entry.fileName.endsWith('/')) continue;
      total += entry.uncompressedSize;
      if (total > limit)
        throw new WabridgeError('bad_request', `${path} unpacks to more than ${limit} bytes`);
      const stream = await zip.openReadStreamPromise(entry);
      const chunks: Buffer[] = [];
      for await (const chunk of stream) chunks.push(chunk as Buffer);
      entries.set(entry.fileName, Buffer.concat(chunks));
    }
  } catch (error) {
    if (error instanceof WabridgeError) throw error;
    throw new WabridgeError(
      'bad_request',
      `${path} is damaged: ${error instanceof Error ? error.message : error}`,
      {
        cause: error,
      },
    );
  } finally {
    zip.close();
  }
  return entries;
}
