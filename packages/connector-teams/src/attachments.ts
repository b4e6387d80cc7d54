import { isWabridgeError, WabridgeError } from '@wabridge/core';
import { graphStatus, toConnectorError } from './api/errors.ts';
import {
  baseMimeType,
  extensionOf,
  graphHosts,
  isShareableUrl,
  MAX_ATTACHMENT_BYTES,
  mimeTypeOf,
  parseAttachmentRef,
  parseHostedContentUrl,
  readCapped,
} from './api/files.ts';
import type { ChannelPacer } from './api/pacing.ts';
import type { TeamsApi } from './api/teams-api.ts';
import type { ChannelTarget, TeamsConfig } from './config.ts';

/** A download that stalls this long is abandoned and retried by the queue. */
const DOWNLOAD_TIMEOUT_MS = 5 * 60_000;

export interface FetchedAttachment {
  bytes: Uint8Array;
  mimeType: string;
  filename: string;
}

/**
 * `fetchAttachment` of the Teams connector: the bytes behind an `Attachment.ref` the inbound side
 * wrote (a pasted image or a shared file of an agent's reply), for the core to send to WhatsApp.
 *
 * A ref is data from the store, so it is checked again before our token goes anywhere: pasted
 * images only from Graph's own host and from a channel this connector serves, shared files only
 * through Graph's shares API. Failures are verdicts the sender acts on: a file that is gone, too
 * big, or a ref we refuse is permanent (the agent is told); throttling and outages are retried.
 */
export class AttachmentFetcher {
  private readonly api: TeamsApi;
  private readonly pacer: ChannelPacer;
  private readonly hosts: string[];
  private readonly channels: ChannelTarget[];
  private readonly maxBytes: number;

  constructor(
    config: Pick<TeamsConfig, 'graphBaseUrl' | 'graphResource' | 'teamId' | 'channelId' | 'routes'>,
    parts: { api: TeamsApi; pacer: ChannelPacer; maxBytes?: number },
  ) {
    this.api = parts.api;
    this.pacer = parts.pacer;
    this.hosts = graphHosts(config);
    this.channels = [
      { teamId: config.teamId, channelId: config.channelId },
      ...config.routes.map((r) => ({ teamId: r.teamId, channelId: r.channelId })),
    ];
    this.maxBytes = Math.min(parts.maxBytes ?? MAX_ATTACHMENT_BYTES, MAX_ATTACHMENT_BYTES);
  }

  async fetch(ref: string): Promise<FetchedAttachment> {
    const parsed = parseAttachmentRef(ref);
    if (!parsed) throw refused('it is not a Teams attachment ref');
    const signal = AbortSignal.timeout(DOWNLOAD_TIMEOUT_MS);
    if (parsed.kind === 'hosted') {
      const location = parseHostedContentUrl(parsed.url, this.hosts);
      if (!location)
        throw refused(`its image URL is not a Graph hostedContents URL on ${this.hosts.join(' or ')}`);
      this.requireServedChannel(location);
      // A read of the channel's messages: it counts against the channel's requests per second.
      await this.pacer.request(location, signal);
      const response = await this.api.hostedContent(location, signal).catch(gone('the pasted image'));
      const bytes = await this.read(response, `the pasted image ${parsed.name}`);
      const mimeType = baseMimeType(response.headers.get('content-type')) ?? 'image/png';
      return { bytes, mimeType, filename: `${parsed.name}.${extensionOf(mimeType)}` };
    }
    if (!isShareableUrl(parsed.url)) throw refused('its file URL is not an https URL');
    this.requireServedChannel(parsed);
    // No channel slot: the drive API is not a Teams channel resource and has its own limits
    // (SharePoint answers 429/503 with Retry-After, which the queue waits out).
    const response = await this.api.sharedFile(parsed.url, signal).catch(gone(`the file ${parsed.name}`));
    const bytes = await this.read(response, `the file ${parsed.name}`);
    const declared = baseMimeType(response.headers.get('content-type'));
    // A download without a useful type (octet-stream) says less than the file's extension.
    const mimeType = declared && declared !== 'application/octet-stream' ? declared : mimeTypeOf(parsed.name);
    return { bytes, mimeType, filename: parsed.name };
  }

  private requireServedChannel(channel: ChannelTarget): void {
    if (!this.channels.some((c) => c.teamId === channel.teamId && c.channelId === channel.channelId)) {
      throw refused(
        `it points into a channel this connector does not serve (${channel.teamId}/${channel.channelId})`,
      );
    }
  }

  private async read(response: Response, what: string): Promise<Uint8Array> {
    try {
      return await readCapped(response, this.maxBytes, what);
    } catch (error) {
      // A cut connection or a timeout mid-download: worth another attempt.
      throw isWabridgeError(error) ? error : toConnectorError(error, `download ${what}`);
    }
  }
}

function refused(why: string): WabridgeError {
  return new WabridgeError('permanent', `Teams attachment refused: ${why}`);
}

/** Graph's 404 for an attachment: deleted (or its message was), and it will not come back. */
function gone(what: string) {
  return (error: unknown): never => {
    if (graphStatus(error) === 404) {
      throw new WabridgeError('permanent', `${what} is no longer available in Teams (deleted?)`, {
        details: { status: 404 },
        cause: error,
      });
    }
    throw error;
  };
}
