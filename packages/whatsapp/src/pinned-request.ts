/**
 * A GET whose connection goes to one given IP address, for media hosts vetted by
 * `resolveMediaHost`. The name stays in the URL, so the Host header, TLS SNI and the certificate
 * check all use it; only the address lookup is replaced, by one that answers the vetted address.
 * Nothing resolves the name a second time, so a DNS answer that changes between the check and the
 * connection (rebinding) cannot send the request, and the bearer token with it, elsewhere.
 */
import type { LookupAddress, LookupOneOptions } from 'node:dns';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { Readable } from 'node:stream';

export interface PinnedAddress {
  address: string;
  family: 4 | 6;
}

type LookupCallback = (
  error: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;

/** Answers `pinned` for any name, in whichever form (`all` or not) the socket asks for. */
function pinnedLookup(pinned: PinnedAddress) {
  return (_hostname: string, options: LookupOneOptions & { all?: boolean }, callback: LookupCallback) => {
    if (options?.all) callback(null, [{ address: pinned.address, family: pinned.family }]);
    else callback(null, pinned.address, pinned.family);
  };
}

/**
 * GETs `url` over a fresh connection to `pinned` and returns a fetch-style Response (redirects are
 * not followed: the caller checks each hop). Errors are shaped like fetch's (`TypeError` with the
 * network error as `cause`), so callers classify both the same way.
 */
export function pinnedGet(
  url: URL,
  pinned: PinnedAddress,
  headers: Record<string, string>,
  signal: AbortSignal,
): Promise<Response> {
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'GET',
        headers,
        signal,
        lookup: pinnedLookup(pinned) as never,
        // No pooled sockets: every download connects to the address vetted for it, and only there.
        agent: false,
      },
      (res: IncomingMessage) => {
        const status = res.statusCode ?? 502;
        const responseHeaders = new Headers();
        for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) {
          responseHeaders.append(res.rawHeaders[i] as string, res.rawHeaders[i + 1] as string);
        }
        const bodyless = status === 204 || status === 205 || status === 304;
        if (bodyless) res.resume();
        // Cancelling the web stream destroys the response, and with it the connection.
        const body = bodyless ? null : (Readable.toWeb(res) as ReadableStream<Uint8Array>);
        resolve(new Response(body, { status, headers: responseHeaders }));
      },
    );
    req.on('error', (error) => reject(new TypeError('fetch failed', { cause: error })));
    req.end();
  });
}
