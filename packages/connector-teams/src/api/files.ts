import { readUpTo, WabridgeError } from '@wabridge/core';
import { z } from 'zod';
import type { ChannelTarget } from '../config.ts';

/**
 * Files agents put into Teams replies, and the refs that let a later job fetch them:
 * - an image pasted into a message is a Graph hostedContent, an `<img>` in the body whose `src`
 *   is `https://graph.microsoft.com/v1.0/teams/{t}/channels/{c}/messages/{m}[/replies/{r}]/hostedContents/{id}/$value`;
 * - a file shared into a message is a `reference` attachment whose `contentUrl` is the file's
 *   SharePoint/OneDrive URL, read through Graph's shares API (never fetched directly).
 *
 * The send job may run hours later in another process, so a ref carries everything needed to
 * fetch: `teams-hosted:{"url":…,"name":…}` or `teams-file:{"teamId":…,"channelId":…,"url":…,"name":…}`.
 */

/** WhatsApp's largest media (documents: 100 MB); anything bigger could not be sent anyway. */
export const MAX_ATTACHMENT_BYTES = 100_000_000;

const HOSTED_TAG = 'teams-hosted:';
const FILE_TAG = 'teams-file:';

export type AttachmentRef =
  | { kind: 'hosted'; url: string; name: string }
  | { kind: 'file'; teamId: string; channelId: string; url: string; name: string };

const hostedRefSchema = z.object({ url: z.string().min(1), name: z.string().min(1) });
const fileRefSchema = hostedRefSchema.extend({ teamId: z.string().min(1), channelId: z.string().min(1) });

export function formatAttachmentRef(ref: AttachmentRef): string {
  const { kind, ...fields } = ref;
  return `${kind === 'hosted' ? HOSTED_TAG : FILE_TAG}${JSON.stringify(fields)}`;
}

/** Null for anything that is not a ref this connector wrote. */
export function parseAttachmentRef(ref: string): AttachmentRef | null {
  const tag = ref.startsWith(HOSTED_TAG) ? HOSTED_TAG : ref.startsWith(FILE_TAG) ? FILE_TAG : null;
  if (!tag) return null;
  let json: unknown;
  try {
    json = JSON.parse(ref.slice(tag.length));
  } catch {
    return null;
  }
  if (tag === HOSTED_TAG) {
    const hosted = hostedRefSchema.safeParse(json);
    return hosted.success ? { kind: 'hosted', ...hosted.data } : null;
  }
  const file = fileRefSchema.safeParse(json);
  return file.success ? { kind: 'file', ...file.data } : null;
}

/** Where a hosted content lives: its channel, its message (and thread root), its id. */
export interface HostedContentLocation extends ChannelTarget {
  /** The message holding the image (the reply, for a reply). */
  messageId: string;
  /** The thread root for a reply, null for a root message. */
  rootId: string | null;
  hostedContentId: string;
}

const HOSTED_PATH =
  /^\/(?:v1\.0|beta)\/teams\/([^/]+)\/channels\/([^/]+)\/messages\/([^/]+)(?:\/replies\/([^/]+))?\/hostedContents\/([^/]+)\/\$value$/;

/** The hosts whose hostedContents URLs are Graph's own: the configured base URL's and the token resource's. */
export function graphHosts(config: { graphBaseUrl: string; graphResource: string }): string[] {
  return [...new Set([new URL(config.graphBaseUrl).host, new URL(config.graphResource).host])];
}

/**
 * A hostedContents `$value` URL on one of Graph's hosts → where it points; null for any other URL
 * (another host, plain http, credentials in the URL, another path). Only such URLs are ever read
 * with our token.
 */
export function parseHostedContentUrl(src: string, hosts: readonly string[]): HostedContentLocation | null {
  let url: URL;
  try {
    url = new URL(src);
  } catch {
    return null;
  }
  if (url.protocol !== 'https:' || url.username !== '' || url.password !== '' || url.search !== '')
    return null;
  if (!hosts.some((host) => host.toLowerCase() === url.host.toLowerCase())) return null;
  const match = HOSTED_PATH.exec(url.pathname);
  if (!match) return null;
  try {
    const [teamId, channelId, first, reply, hosted] = match
      .slice(1)
      .map((s) => (s ? decodeURIComponent(s) : ''));
    if (!teamId || !channelId || !first || !hosted) return null;
    return {
      teamId,
      channelId,
      messageId: reply || first,
      rootId: reply ? first : null,
      hostedContentId: hosted,
    };
  } catch {
    return null; // a malformed escape
  }
}

/** A shared file's URL, if it is one we may hand to the shares API (https, no credentials). */
export function isShareableUrl(contentUrl: string): boolean {
  try {
    const url = new URL(contentUrl);
    return url.protocol === 'https:' && url.username === '' && url.password === '';
  } catch {
    return false;
  }
}

/** Graph's "encoded sharing URL": `u!` + base64url of the URL without `=` padding. */
export function shareIdOf(contentUrl: string): string {
  return `u!${Buffer.from(contentUrl, 'utf8').toString('base64url')}`;
}

const MIME_TYPES: Record<string, string> = {
  pdf: 'application/pdf',
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
  mp4: 'video/mp4',
  mp3: 'audio/mpeg',
  ogg: 'audio/ogg',
  docx: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  pptx: 'application/vnd.openxmlformats-officedocument.presentationml.presentation',
  txt: 'text/plain',
  csv: 'text/csv',
};
const OCTET_STREAM = 'application/octet-stream';

/** The MIME type a file name's extension stands for (`application/octet-stream` when unknown). */
export function mimeTypeOf(filename: string): string {
  const dot = filename.lastIndexOf('.');
  return (dot >= 0 && MIME_TYPES[filename.slice(dot + 1).toLowerCase()]) || OCTET_STREAM;
}

/** The usual extension of a MIME type (`bin` when unknown), for names of pasted images. */
export function extensionOf(mimeType: string): string {
  if (mimeType === 'image/jpeg') return 'jpg';
  return Object.entries(MIME_TYPES).find(([, type]) => type === mimeType)?.[0] ?? 'bin';
}

/** `image/png; charset=…` → `image/png`; null when absent. */
export function baseMimeType(contentType: string | null): string | null {
  const base = contentType?.split(';')[0]?.trim().toLowerCase();
  return base ? base : null;
}

/** Reads a response body up to `maxBytes`; past it, a permanent error (the download is cancelled). */
export async function readCapped(response: Response, maxBytes: number, what: string): Promise<Uint8Array> {
  const bytes = await readUpTo(response, maxBytes);
  if (bytes) return bytes;
  throw new WabridgeError(
    'permanent',
    `${what} is larger than ${formatSize(maxBytes)}, the most the bridge sends to WhatsApp`,
    { details: { maxBytes } },
  );
}

function formatSize(bytes: number): string {
  if (bytes >= 1_000_000) return `${Math.round(bytes / 100_000) / 10} MB`;
  if (bytes >= 1000) return `${Math.round(bytes / 100) / 10} kB`;
  return `${bytes} bytes`;
}
