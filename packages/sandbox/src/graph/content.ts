/**
 * Files in emulated Teams messages: images pasted into a message (Graph's `hostedContents`, read
 * at `…/messages/{id}/hostedContents/{id}/$value`) and files shared into one (a `reference`
 * attachment whose `contentUrl` is the file's SharePoint URL, read through the drive API at
 * `/shares/{shareId}/driveItem/content`, which answers 302 to a pre-authenticated download URL).
 *
 * The SharePoint host in `contentUrl` does not exist: like Graph, the only way to the bytes is the
 * shares API, so a client that fetches `contentUrl` itself fails here too.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { Hono } from 'hono';
import { GraphError } from './errors.ts';
import type { ChatMessageAttachment, HostedImageInput, SharedFileInput } from './types.ts';

/** Where shared files live (a document library of the team's SharePoint site). */
export const SHAREPOINT_FOLDER =
  'https://contoso.sharepoint.com/sites/CustomerSupport/Shared%20Documents/WhatsApp';
/** How long a download URL from the shares API stays valid (Graph: a few minutes). */
const DOWNLOAD_URL_TTL_MS = 5 * 60_000;

interface StoredBytes {
  bytes: Uint8Array<ArrayBuffer>;
  contentType: string;
}

interface DriveFile extends StoredBytes {
  id: string;
  name: string;
  contentUrl: string;
  deleted: boolean;
}

const bytesOf = (value: Uint8Array | string): Uint8Array<ArrayBuffer> =>
  typeof value === 'string' ? new TextEncoder().encode(value) : new Uint8Array(value);

/** `u!` + base64url of the URL without padding (Graph's "encoded sharing URL") → the URL. */
export function decodeShareId(shareId: string): string | null {
  if (!shareId.startsWith('u!')) return null;
  const encoded = shareId.slice(2);
  if (!/^[A-Za-z0-9_-]+$/.test(encoded)) return null;
  return Buffer.from(encoded, 'base64url').toString('utf8');
}

export class GraphContent {
  private readonly hosted = new Map<string, StoredBytes>();
  private readonly files = new Map<string, DriveFile>();
  private readonly downloads = new Map<string, { contentUrl: string; expiresAt: number }>();
  private readonly now: () => number;

  constructor(now: () => number) {
    this.now = now;
  }

  /**
   * Stores pasted images of a message and returns their hosted content ids. The ids look like
   * Graph's (base64 with `=` padding), so clients have to escape them in paths.
   */
  addHosted(messageKey: string, images: readonly HostedImageInput[]): string[] {
    return images.map((image) => {
      const raw = Buffer.from(`id=x_0-wus-d1-${randomBytes(12).toString('hex')},type=1`).toString(
        'base64url',
      );
      const id = raw + '='.repeat((4 - (raw.length % 4)) % 4);
      this.hosted.set(`${messageKey}/${id}`, {
        bytes: bytesOf(image.bytes),
        contentType: image.contentType ?? 'image/png',
      });
      return id;
    });
  }

  hostedContent(messageKey: string, id: string): StoredBytes {
    const found = this.hosted.get(`${messageKey}/${id}`);
    if (!found) throw new GraphError(404, 'NotFound', `hostedContent ${id} not found`);
    return found;
  }

  /** Drops a message's images (its soft delete). */
  dropHosted(messageKey: string): void {
    for (const key of this.hosted.keys()) if (key.startsWith(`${messageKey}/`)) this.hosted.delete(key);
  }

  /** Uploads files to the channel's folder (a name already there is overwritten) → reference attachments. */
  share(files: readonly SharedFileInput[]): ChatMessageAttachment[] {
    return files.map((file) => {
      const contentUrl = `${SHAREPOINT_FOLDER}/${encodeURIComponent(file.name)}`;
      const stored: DriveFile = {
        id: randomUUID(),
        name: file.name,
        contentUrl,
        bytes: bytesOf(file.bytes),
        contentType: file.contentType ?? 'application/octet-stream',
        deleted: false,
      };
      this.files.set(contentUrl, stored);
      return {
        id: stored.id,
        contentType: 'reference',
        content: null,
        contentUrl,
        name: file.name,
        thumbnailUrl: null,
      };
    });
  }

  /** Deletes a shared file from SharePoint (the message keeps its now dangling attachment). */
  deleteFile(contentUrl: string): void {
    const file = this.files.get(contentUrl);
    if (!file) throw new TypeError(`no shared file at ${contentUrl}`);
    file.deleted = true;
  }

  /** The shares API: a live file → a fresh pre-authenticated download URL (path only). */
  downloadPath(shareId: string): string {
    const url = decodeShareId(shareId);
    const file = url === null ? undefined : this.files.get(url);
    if (!file || file.deleted) throw new GraphError(404, 'itemNotFound', 'The resource could not be found.');
    const token = randomBytes(24).toString('base64url');
    this.downloads.set(token, { contentUrl: file.contentUrl, expiresAt: this.now() + DOWNLOAD_URL_TTL_MS });
    return `/_drive/download/${token}`;
  }

  download(token: string): DriveFile | null {
    const grant = this.downloads.get(token);
    if (!grant || grant.expiresAt <= this.now()) return null;
    const file = this.files.get(grant.contentUrl);
    return file && !file.deleted ? file : null;
  }
}

/**
 * The pre-authenticated download URLs the shares API redirects to (SharePoint's, in Graph): the
 * token in the URL is the credential, no bearer token is needed or looked at.
 */
/** What the download route needs of the emulator: its content and its ledger. */
export interface DownloadHost {
  content: GraphContent;
  record(event: { kind: 'content.served'; source: 'driveItem'; id: string; bytes: number }): void;
}

export function createDownloadApi(core: DownloadHost): Hono {
  const app = new Hono();
  app.get('/_drive/download/:token', (c) => {
    const file = core.content.download(c.req.param('token'));
    if (!file) return c.text('The download link expired or the file is gone.', 404);
    core.record({ kind: 'content.served', source: 'driveItem', id: file.id, bytes: file.bytes.byteLength });
    return new Response(file.bytes, {
      status: 200,
      headers: {
        'content-type': file.contentType,
        'content-length': String(file.bytes.byteLength),
        'content-disposition': `attachment; filename*=UTF-8''${encodeURIComponent(file.name)}`,
      },
    });
  });
  return app;
}
