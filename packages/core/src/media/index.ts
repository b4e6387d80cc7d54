import { createHash, createHmac, createSecretKey, type KeyObject, timingSafeEqual } from 'node:crypto';
import { mkdir, readFile, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { MediaAccess } from '../connector/contract.ts';
import { WabridgeError } from '../errors/index.ts';
import type { Store } from '../store/types.ts';
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE } from '../util/private-files.ts';
import { openWith, sealedKeyId, sealWith } from '../vault/keyring.ts';

/**
 * Where a message's file is fetched from the first time: the source's media API (WhatsApp's Cloud
 * API client is one). The cache below does not need to know more of it.
 */
export interface MediaDownloader {
  downloadMedia(
    mediaId: string,
    options: { maxBytes: number },
  ): Promise<{ bytes: Uint8Array; mimeType: string }>;
}

export interface MediaStoreOptions {
  store: Store;
  /** The downloader for a workspace's business number (each number may have its own token). */
  client: (workspaceId: string, phoneNumberId?: string) => MediaDownloader | Promise<MediaDownloader>;
  /** Where downloaded media is kept (`<data dir>/media`). */
  dir: string;
  /** Key for signing media links. */
  signingKey: Buffer;
  publicUrl: string;
  maxBytes?: number;
  now?: () => number;
}

// Cached files are sealed with the workspace's data key (AES-256-GCM, the key id in each file):
// `<message>.bin.sealed` holds the bytes, `<message>.json.sealed` the type and file name, which
// may say as much as the file. Files cached before encryption at rest (`.bin`, `.json`) are still
// read, and are replaced by sealed ones at their next download.
const MEDIA_BYTES = 'media.bytes';
const MEDIA_META = 'media.meta';
/** How long the current data key of a workspace is used before asking again (a rotation). */
const CURRENT_KEY_TTL_MS = 60_000;

interface CachedMeta {
  mimeType: string;
  filename: string;
  sha256: string;
}

const EXTENSIONS: Record<string, string> = {
  'image/jpeg': 'jpg',
  'image/png': 'png',
  'image/webp': 'webp',
  'video/mp4': 'mp4',
  'audio/ogg': 'ogg',
  'audio/mpeg': 'mp3',
  'audio/aac': 'aac',
  'application/pdf': 'pdf',
};

/** Every file a message's cached media can leave (see `fetch`). */
const MEDIA_FILE_SUFFIXES = [
  '.bin.sealed',
  '.json.sealed',
  '.bin.sealed.tmp',
  '.json.sealed.tmp',
  '.bin',
  '.json',
  '.bin.tmp',
  '.json.tmp',
];

/**
 * WhatsApp media for the mirrors. Media URLs from Meta live 5 minutes and webhook media ids 7
 * days, so the first download is kept on disk (content-addressed metadata beside it) and every
 * mirror reads the local copy. Links handed to platforms are signed and expire.
 */
export class MediaStore {
  private readonly o: MediaStoreOptions;
  private readonly keys = new Map<string, KeyObject>();
  private readonly current = new Map<string, { keyId: string; until: number }>();

  constructor(options: MediaStoreOptions) {
    this.o = options;
  }

  forWorkspace(workspaceId: string): MediaAccess {
    return {
      fetch: (messageId) => this.fetch(workspaceId, messageId),
      url: (messageId, ttlMs) => this.url(workspaceId, messageId, ttlMs),
    };
  }

  /**
   * A message's media file. A restricted conversation's files are refused, unless `restricted` is
   * `include`: the person's own access request (GDPR art. 15) covers restricted data.
   */
  async fetch(
    workspaceId: string,
    messageId: string,
    options: { restricted?: 'refuse' | 'include' } = {},
  ): Promise<{ bytes: Uint8Array; mimeType: string; filename: string; sha256: string }> {
    if (!/^[\w-]+$/.test(workspaceId) || !/^[\w-]+$/.test(messageId)) {
      throw new WabridgeError('bad_request', 'invalid media reference');
    }
    // The database decides whether the file exists, before the cache is looked at: a message
    // (or a whole workspace) that was deleted must not stay reachable through a link handed out
    // earlier, whatever is still on disk.
    const message = await this.o.store.getMessage(workspaceId, messageId);
    if (!message)
      throw new WabridgeError('not_found', `message ${messageId} does not exist`, { status: 404 });
    // Restricted content (an erasure under a retention obligation) is kept, not served.
    const conversation = await this.o.store.getConversation(workspaceId, message.conversationId);
    if (conversation?.restrictedAt != null && options.restricted !== 'include')
      throw new WabridgeError('not_found', `message ${messageId} is restricted`, { status: 404 });
    const media = message.content[message.type] as
      | { id?: string; mime_type?: string; filename?: string }
      | undefined;
    if (!media?.id)
      throw new WabridgeError('not_found', `message ${messageId} has no media`, { status: 404 });
    const folder = this.folder(workspaceId);
    const path = join(folder, messageId);
    const cached = await this.readCached(workspaceId, path);
    if (cached) return cached;
    // The media belongs to the number the customer wrote to; only its own token may fetch it.
    const client = await this.o.client(workspaceId, conversation?.phoneNumberId);
    const downloaded = await client.downloadMedia(media.id, { maxBytes: this.o.maxBytes ?? 100_000_000 });
    const mimeType = downloaded.mimeType || media.mime_type || 'application/octet-stream';
    const meta: CachedMeta = {
      mimeType,
      filename:
        media.filename ?? `${message.type}-${messageId}.${EXTENSIONS[mimeType.split(';')[0] ?? ''] ?? 'bin'}`,
      sha256: createHash('sha256').update(downloaded.bytes).digest('hex'),
    };
    // Private to the gateway's user (0700 folders, 0600 files), like the database.
    await mkdir(folder, { recursive: true, mode: PRIVATE_DIR_MODE });
    // Written under temporary names and renamed, so a crash never leaves a half file behind.
    const { keyId, key } = await this.currentKey(workspaceId);
    const sealedBytes = sealWith(keyId, key, workspaceId, MEDIA_BYTES, downloaded.bytes);
    const sealedMeta = sealWith(keyId, key, workspaceId, MEDIA_META, Buffer.from(JSON.stringify(meta)));
    await writeFile(`${path}.bin.sealed.tmp`, sealedBytes, { mode: PRIVATE_FILE_MODE });
    await writeFile(`${path}.json.sealed.tmp`, sealedMeta, { mode: PRIVATE_FILE_MODE });
    await rename(`${path}.bin.sealed.tmp`, `${path}.bin.sealed`);
    await rename(`${path}.json.sealed.tmp`, `${path}.json.sealed`);
    // A plaintext copy cached before encryption at rest goes now that a sealed one exists.
    await rm(`${path}.bin`, { force: true });
    await rm(`${path}.json`, { force: true });
    return { bytes: downloaded.bytes, ...meta };
  }

  /** The cached copy, opened; null when there is none. */
  private async readCached(
    workspaceId: string,
    path: string,
  ): Promise<{ bytes: Uint8Array; mimeType: string; filename: string; sha256: string } | null> {
    let sealed: [Buffer, Buffer];
    try {
      sealed = await Promise.all([readFile(`${path}.bin.sealed`), readFile(`${path}.json.sealed`)]);
    } catch {
      try {
        const [bytes, meta] = await Promise.all([readFile(`${path}.bin`), readFile(`${path}.json`, 'utf8')]);
        return { bytes, ...(JSON.parse(meta) as CachedMeta) };
      } catch {
        return null; // Not cached yet.
      }
    }
    const [sealedBytes, sealedMeta] = sealed;
    const bytes = openWith(
      await this.keyFor(workspaceId, sealedBytes),
      workspaceId,
      MEDIA_BYTES,
      sealedBytes,
    );
    const meta = openWith(await this.keyFor(workspaceId, sealedMeta), workspaceId, MEDIA_META, sealedMeta);
    return { bytes, ...(JSON.parse(meta.toString('utf8')) as CachedMeta) };
  }

  private async currentKey(workspaceId: string): Promise<{ keyId: string; key: KeyObject }> {
    const now = (this.o.now ?? Date.now)();
    const known = this.current.get(workspaceId);
    if (known && known.until > now) {
      const key = this.keys.get(`${workspaceId}:${known.keyId}`);
      if (key) return { keyId: known.keyId, key };
    }
    const { keyId, key } = await this.o.store.dataKey(workspaceId);
    const object = createSecretKey(Buffer.from(key, 'base64'));
    this.keys.set(`${workspaceId}:${keyId}`, object);
    this.current.set(workspaceId, { keyId, until: now + CURRENT_KEY_TTL_MS });
    return { keyId, key: object };
  }

  private async keyFor(workspaceId: string, sealed: Uint8Array): Promise<KeyObject> {
    const keyId = sealedKeyId(sealed);
    if (keyId === null)
      throw new WabridgeError('internal', `a cached media file of ${workspaceId} is not sealed`);
    const cached = this.keys.get(`${workspaceId}:${keyId}`);
    if (cached) return cached;
    const { key } = await this.o.store.dataKey(workspaceId, keyId);
    const object = createSecretKey(Buffer.from(key, 'base64'));
    this.keys.set(`${workspaceId}:${keyId}`, object);
    return object;
  }

  /**
   * Deletes the cached files of these messages (retention purge, erasure), sealed or (cached
   * before encryption at rest) not, and any half-written one; answers the files that were there,
   * as `<workspace>/<file name>`.
   */
  async deleteMessages(workspaceId: string, messageIds: readonly string[]): Promise<string[]> {
    const folder = this.folder(workspaceId);
    const deleted: string[] = [];
    for (const messageId of messageIds) {
      if (!/^[\w-]+$/.test(messageId)) continue;
      for (const suffix of MEDIA_FILE_SUFFIXES) {
        const name = `${messageId}${suffix}`;
        try {
          await unlink(join(folder, name));
          deleted.push(`${workspaceId}/${name}`);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
        }
      }
    }
    return deleted;
  }

  /**
   * Removes every cached file of a workspace: part of deleting the workspace, so no copy of its
   * customers' media outlives it on disk.
   */
  async deleteWorkspace(workspaceId: string): Promise<void> {
    for (const name of this.keys.keys()) if (name.startsWith(`${workspaceId}:`)) this.keys.delete(name);
    this.current.delete(workspaceId);
    await rm(this.folder(workspaceId), { recursive: true, force: true });
  }

  /** Where a workspace's files are cached; the id is checked, so it cannot name another folder. */
  private folder(workspaceId: string): string {
    if (!/^[\w-]+$/.test(workspaceId)) throw new WabridgeError('bad_request', 'invalid workspace id');
    return join(this.o.dir, workspaceId);
  }

  url(workspaceId: string, messageId: string, ttlMs = 7 * 24 * 3600_000): string {
    const expires = Math.floor(((this.o.now ?? Date.now)() + ttlMs) / 1000);
    const signature = this.sign(workspaceId, messageId, expires);
    return `${this.o.publicUrl.replace(/\/$/, '')}/media/${workspaceId}/${messageId}?exp=${expires}&sig=${signature}`;
  }

  /** Checks a signed link's signature and expiry (constant-time). */
  verify(
    workspaceId: string,
    messageId: string,
    expires: string | undefined,
    signature: string | undefined,
  ): boolean {
    if (!expires || !signature || !/^\d+$/.test(expires)) return false;
    if (Number(expires) * 1000 < (this.o.now ?? Date.now)()) return false;
    const expected = Buffer.from(this.sign(workspaceId, messageId, Number(expires)));
    const given = Buffer.from(signature);
    return expected.length === given.length && timingSafeEqual(expected, given);
  }

  private sign(workspaceId: string, messageId: string, expires: number): string {
    return createHmac('sha256', this.o.signingKey)
      .update(`media:${workspaceId}:${messageId}:${expires}`)
      .digest('base64url');
  }
}
