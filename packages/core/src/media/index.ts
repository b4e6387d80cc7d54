import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { MediaAccess } from '../connector/contract.ts';
import { WabridgeError } from '../errors/index.ts';
import type { Store } from '../store/types.ts';
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE } from '../util/private-files.ts';
import type { CloudApiClient } from '../whatsapp/cloud-api-client.ts';

export interface MediaStoreOptions {
  store: Store;
  /** The Cloud API client for a workspace's business number (each number may have its own token). */
  client: (workspaceId: string, phoneNumberId?: string) => CloudApiClient | Promise<CloudApiClient>;
  /** Where downloaded media is kept (`<data dir>/media`). */
  dir: string;
  /** Key for signing media links. */
  signingKey: Buffer;
  publicUrl: string;
  maxBytes?: number;
  now?: () => number;
}

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

/**
 * WhatsApp media for the mirrors. Media URLs from Meta live 5 minutes and webhook media ids 7
 * days, so the first download is kept on disk (content-addressed metadata beside it) and every
 * mirror reads the local copy. Links handed to platforms are signed and expire.
 */
export class MediaStore {
  private readonly o: MediaStoreOptions;

  constructor(options: MediaStoreOptions) {
    this.o = options;
  }

  forWorkspace(workspaceId: string): MediaAccess {
    return {
      fetch: (messageId) => this.fetch(workspaceId, messageId),
      url: (messageId, ttlMs) => this.url(workspaceId, messageId, ttlMs),
    };
  }

  async fetch(
    workspaceId: string,
    messageId: string,
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
    const media = message.content[message.type] as
      | { id?: string; mime_type?: string; filename?: string }
      | undefined;
    if (!media?.id)
      throw new WabridgeError('not_found', `message ${messageId} has no media`, { status: 404 });
    const folder = this.folder(workspaceId);
    const path = join(folder, messageId);
    try {
      const [bytes, meta] = await Promise.all([readFile(`${path}.bin`), readFile(`${path}.json`, 'utf8')]);
      return { bytes, ...(JSON.parse(meta) as CachedMeta) };
    } catch {
      // Not cached yet.
    }
    // The media belongs to the number the customer wrote to; only its own token may fetch it.
    const conversation = await this.o.store.getConversation(workspaceId, message.conversationId);
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
    await writeFile(`${path}.bin.tmp`, downloaded.bytes, { mode: PRIVATE_FILE_MODE });
    await writeFile(`${path}.json.tmp`, JSON.stringify(meta), { mode: PRIVATE_FILE_MODE });
    await rename(`${path}.bin.tmp`, `${path}.bin`);
    await rename(`${path}.json.tmp`, `${path}.json`);
    return { bytes: downloaded.bytes, ...meta };
  }

  /**
   * Removes every cached file of a workspace: part of deleting the workspace, so no copy of its
   * customers' media outlives it on disk.
   */
  async deleteWorkspace(workspaceId: string): Promise<void> {
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
