import { WabridgeError } from '@wabridge/core';

/**
 * Where Slack serves the files agents share: `url_private_download` is always on Slack's file host
 * (https://api.slack.com/types/file#authentication), GovSlack's for GovSlack workspaces.
 */
export const SLACK_FILE_HOSTS: readonly string[] = Object.freeze(['files.slack.com', 'files.slack-gov.com']);

/**
 * The largest file worth fetching: WhatsApp's largest outbound media (documents, 100 MB:
 * https://developers.facebook.com/docs/whatsapp/cloud-api/reference/media#supported-media-types).
 * Anything bigger could not be sent on anyway, and reading it would only cost memory.
 */
export const MAX_SLACK_FILE_BYTES = 100 * 1024 * 1024;

const MAX_REDIRECTS = 3;

export interface FileDownloadPolicy {
  /** Host names the bot token may be sent to, besides the configured API host. */
  readonly fileHosts: readonly string[];
  /** `host[:port]` of the configured Slack API URL (the local emulator serves files there too). */
  readonly apiHost: string;
  /** Plain http only when the API URL itself is http (the local emulator). */
  readonly allowHttp: boolean;
  readonly maxBytes: number;
}

export function fileDownloadPolicy(slackApiUrl: string, maxBytes = MAX_SLACK_FILE_BYTES): FileDownloadPolicy {
  const api = new URL(slackApiUrl);
  return {
    fileHosts: SLACK_FILE_HOSTS,
    apiHost: api.host.toLowerCase(),
    allowHttp: api.protocol === 'http:',
    maxBytes,
  };
}

/**
 * Why a file URL must not be fetched with the bot token, or null when it may. The URL comes from a
 * `files.info` answer; checking it anyway means a wrong or hostile URL can never carry the token to
 * another host or reach an internal service.
 */
export function refuseFileUrl(input: string, policy: FileDownloadPolicy): string | null {
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    return 'the file URL is not a valid absolute URL';
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && policy.allowHttp)) {
    return `the file URL's scheme ${url.protocol} is not allowed`;
  }
  if (url.username !== '' || url.password !== '') return 'the file URL must not carry credentials';
  if (url.host.toLowerCase() === policy.apiHost) return null;
  // Slack's file hosts on the scheme's own port only.
  if (url.port === '' && policy.fileHosts.includes(url.hostname.toLowerCase())) return null;
  return `the file host ${url.host} is not Slack's`;
}

/**
 * Downloads a shared file with the bot token: only from Slack's file hosts, following at most
 * three redirects and each one checked again (the token is never sent elsewhere), and never more
 * than `policy.maxBytes`, whatever Content-Length says.
 */
export async function downloadSlackFile(
  input: string,
  token: string,
  policy: FileDownloadPolicy,
  signal: AbortSignal,
): Promise<Uint8Array> {
  let url = input;
  for (let redirects = 0; ; redirects++) {
    const refusal = refuseFileUrl(url, policy);
    if (refusal) {
      throw new WabridgeError('permanent', `refused to download a Slack file: ${refusal}`, {
        details: { host: hostOf(url) },
      });
    }
    let response: Response;
    try {
      response = await fetch(url, {
        headers: { authorization: `Bearer ${token}` },
        redirect: 'manual',
        signal,
      });
    } catch (error) {
      throw new WabridgeError('transient', 'downloading a Slack file failed', { cause: error });
    }
    const location = response.headers.get('location');
    if (response.status >= 300 && response.status < 400 && location) {
      await response.body?.cancel();
      if (redirects >= MAX_REDIRECTS) {
        throw new WabridgeError(
          'permanent',
          `refused to download a Slack file: more than ${MAX_REDIRECTS} redirects`,
        );
      }
      url = new URL(location, url).href;
      continue;
    }
    if (!response.ok) {
      await response.body?.cancel();
      throw new WabridgeError(
        response.status >= 500 || response.status === 429 ? 'transient' : 'permanent',
        `Slack refused the file download (HTTP ${response.status})`,
        { details: { status: response.status } },
      );
    }
    return readAtMost(response, policy.maxBytes);
  }
}

async function readAtMost(response: Response, maxBytes: number): Promise<Uint8Array> {
  const tooLarge = () =>
    new WabridgeError(
      'permanent',
      `the Slack file is larger than ${maxBytes} bytes, more than WhatsApp accepts`,
      {
        details: { maxBytes },
      },
    );
  const declared = Number(response.headers.get('content-length') ?? Number.NaN);
  if (Number.isFinite(declared) && declared > maxBytes) {
    await response.body?.cancel();
    throw tooLarge();
  }
  if (!response.body) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for await (const chunk of response.body) {
      total += chunk.byteLength;
      if (total > maxBytes) throw tooLarge();
      chunks.push(chunk);
    }
  } catch (error) {
    if (error instanceof WabridgeError) throw error;
    throw new WabridgeError('transient', 'downloading a Slack file failed', { cause: error });
  }
  return Buffer.concat(chunks, total);
}

function hostOf(url: string): string | null {
  try {
    return new URL(url).host;
  } catch {
    return null;
  }
}
