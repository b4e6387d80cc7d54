/**
 * Media held by the emulator: files the business uploads (`POST /{phone-number-id}/media`) and files
 * the simulated customer "sends" (registered before the webhook so the gateway can download them).
 *
 * Retrieval works like Meta's (https://developers.facebook.com/documentation/business-messaging/whatsapp/business-phone-numbers/media/): `GET /{version}/{media-id}` returns a URL on
 * this emulator, shaped like `…/whatsapp_business/attachments/?mid=…&ext=…&hash=…`, that is valid for
 * `urlTtlMs` (5 minutes) on the emulator's clock, is signed (a forged or edited URL is refused) and
 * needs the bearer token to download.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../shared/clock.ts';
import { MetaApiError } from './errors.ts';
import { newNumericId } from './wire.ts';

export type MediaKind = 'audio' | 'document' | 'image' | 'sticker' | 'video';

/** Supported MIME types and maximum sizes per kind (https://developers.facebook.com/documentation/business-messaging/whatsapp/business-phone-numbers/media/). */
export const MEDIA_TYPES: Readonly<Record<MediaKind, { mimeTypes: readonly string[]; maxBytes: number }>> = {
  audio: {
    mimeTypes: ['audio/aac', 'audio/amr', 'audio/mpeg', 'audio/mp4', 'audio/ogg'],
    maxBytes: 16_000_000,
  },
  document: {
    mimeTypes: [
      'text/plain',
      'application/pdf',
      'application/msword',
      'application/vnd.ms-excel',
      'application/vnd.ms-powerpoint',
      'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
      'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
      'application/vnd.openxmlformats-officedocument.presentationml.presentation',
    ],
    maxBytes: 100_000_000,
  },
  image: { mimeTypes: ['image/jpeg', 'image/png'], maxBytes: 5_000_000 },
  sticker: { mimeTypes: ['image/webp'], maxBytes: 500_000 },
  video: { mimeTypes: ['video/mp4', 'video/3gpp'], maxBytes: 16_000_000 },
};

/** `audio/ogg; codecs=opus` → `audio/ogg`. */
export const baseMimeType = (mimeType: string): string => mimeType.split(';')[0]?.trim().toLowerCase() ?? '';

/** The media kind a MIME type belongs to, or undefined when Meta does not accept it. */
export function mediaKindOf(mimeType: string): MediaKind | undefined {
  const base = baseMimeType(mimeType);
  for (const [kind, spec] of Object.entries(MEDIA_TYPES) as Array<
    [MediaKind, (typeof MEDIA_TYPES)[MediaKind]]
  >) {
    if (spec.mimeTypes.includes(base)) return kind;
  }
  return undefined;
}

export interface MediaRecord {
  id: string;
  phoneNumberId: string;
  mimeType: string;
  bytes: Uint8Array;
  /** Hex digest, as in the retrieve-URL response. */
  sha256Hex: string;
  /** Base64 digest, as in inbound webhooks. */
  sha256Base64: string;
  fileSize: number;
  filename: string | undefined;
  source: 'business' | 'customer';
  createdAt: number;
  deletedAt: number | undefined;
}

export type DownloadCheck =
  | { ok: true; record: MediaRecord }
  | { ok: false; reason: 'not_found' | 'bad_signature' | 'expired' | 'deleted' };

export class MediaStore {
  readonly #clock: Clock;
  readonly #urlTtlMs: number;
  readonly #key = randomBytes(32);
  readonly #records = new Map<string, MediaRecord>();

  constructor(options: { clock: Clock; urlTtlMs: number }) {
    this.#clock = options.clock;
    this.#urlTtlMs = options.urlTtlMs;
  }

  /** Stores bytes; `checkLimits` enforces Meta's types and sizes (uploads), customer media skips it. */
  add(input: {
    bytes: Uint8Array;
    mimeType: string;
    phoneNumberId: string;
    filename?: string;
    source: MediaRecord['source'];
    checkLimits?: boolean;
  }): MediaRecord {
    if (input.checkLimits === true) {
      const kind = mediaKindOf(input.mimeType);
      if (kind === undefined) {
        throw new MetaApiError(100, {
          details: `Param file must be a file with one of the following types: ${Object.values(MEDIA_TYPES)
            .flatMap((t) => t.mimeTypes)
            .join(', ')}. Received file of type '${input.mimeType}'.`,
        });
      }
      if (input.bytes.byteLength > MEDIA_TYPES[kind].maxBytes) {
        throw new MetaApiError(100, {
          details: `File of ${input.bytes.byteLength} bytes exceeds the ${MEDIA_TYPES[kind].maxBytes}-byte limit for ${kind}.`,
        });
      }
    }
    const digest = createHash('sha256').update(input.bytes).digest();
    const record: MediaRecord = {
      id: newNumericId(),
      phoneNumberId: input.phoneNumberId,
      mimeType: input.mimeType,
      bytes: input.bytes,
      sha256Hex: digest.toString('hex'),
      sha256Base64: digest.toString('base64'),
      fileSize: input.bytes.byteLength,
      filename: input.filename,
      source: input.source,
      createdAt: this.#clock.now(),
      deletedAt: undefined,
    };
    this.#records.set(record.id, record);
    return record;
  }

  /** A live (not deleted) record. */
  get(id: string): MediaRecord | undefined {
    const record = this.#records.get(id);
    return record?.deletedAt === undefined ? record : undefined;
  }

  /** Any record, deleted or not (for state views). */
  all(): MediaRecord[] {
    return [...this.#records.values()];
  }

  delete(id: string): boolean {
    const record = this.get(id);
    if (record === undefined) return false;
    record.deletedAt = this.#clock.now();
    return true;
  }

  /** A download URL under `baseUrl`, valid for the configured TTL from now. */
  issueUrl(record: MediaRecord, baseUrl: string): { url: string; expiresAt: number } {
    const expiresAt = this.#clock.now() + this.#urlTtlMs;
    const ext = String(Math.floor(expiresAt / 1000));
    const url = `${baseUrl}/whatsapp_business/attachments/?mid=${record.id}&ext=${ext}&hash=${this.#sign(record.id, ext)}`;
    return { url, expiresAt: Number(ext) * 1000 };
  }

  /** Checks a download URL's query (`mid`, `ext`, `hash`). */
  checkDownload(query: URLSearchParams): DownloadCheck {
    const mid = query.get('mid') ?? '';
    const ext = query.get('ext') ?? '';
    const hash = query.get('hash') ?? '';
    const record = this.#records.get(mid);
    if (record === undefined) return { ok: false, reason: 'not_found' };
    const expected = Buffer.from(this.#sign(mid, ext));
    const given = Buffer.from(hash);
    if (expected.length !== given.length || !timingSafeEqual(expected, given))
      return { ok: false, reason: 'bad_signature' };
    if (record.deletedAt !== undefined) return { ok: false, reason: 'deleted' };
    if (this.#clock.now() >= Number(ext) * 1000) return { ok: false, reason: 'expired' };
    return { ok: true, record };
  }

  #sign(mid: string, ext: string): string {
    return createHmac('sha256', this.#key).update(`${mid}:${ext}`).digest('base64url');
  }
}
