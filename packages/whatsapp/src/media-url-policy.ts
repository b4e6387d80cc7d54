/**
 * SSRF guard for media downloads. The URL to fetch comes from an API response and we attach our
 * bearer token to it, so a wrong or hostile URL must never reach an internal service or a
 * third-party host: only allow-listed hosts on the scheme's own port (unless an entry names
 * another), https (unless the configured API base itself is plain http, as with the local
 * emulator), no private IP literals, and no host name that resolves to a private address (see
 * `resolveMediaHost`; the caller then connects to the address that was checked, not to a second
 * answer of the DNS).
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';

/**
 * Meta's media hosts. `lookaside.fbsbx.com` serves Cloud API media; CDN hosts appear in
 * redirects. A leading dot means "any subdomain of".
 */
export const DEFAULT_MEDIA_HOST_ALLOW_LIST: readonly string[] = Object.freeze([
  'lookaside.fbsbx.com',
  '.fbsbx.com',
  '.fbcdn.net',
]);

export interface MediaUrlPolicy {
  /** `host[:port]` of the configured API base URL: always allowed, even as a private IP. */
  readonly baseHost: string;
  /** Plain http is accepted only when the API base URL is http (local emulator). */
  readonly allowHttp: boolean;
  /** Entries: `host`, `host:port`, or `.suffix` for any subdomain. Lower-case. */
  readonly allowList: readonly string[];
  /**
   * Lets allow-listed hosts be (or resolve to) private, loopback or link-local addresses. Off by
   * default; for a media host inside a private network or a local test server, never for Meta.
   */
  readonly allowPrivateNetwork: boolean;
}

/**
 * `trusted`: the URL is on the configured API base host, which gets the token with every API call
 * anyway; it is fetched like an API call. Any other host must be resolved and pinned first.
 */
export type MediaUrlCheck = { ok: true; url: URL; trusted: boolean } | { ok: false; reason: string };

/** What a resolver answers for one host name: every address, as `dns.lookup` with `all`. */
export type HostResolver = (hostname: string) => Promise<readonly { address: string; family: number }[]>;

/** The system resolver (getaddrinfo: /etc/hosts, then DNS), every address in its own order. */
export const systemResolver: HostResolver = (hostname) => dnsLookup(hostname, { all: true });

/**
 * Builds the policy for a client whose API base is `baseUrl`. `allowList` replaces
 * {@link DEFAULT_MEDIA_HOST_ALLOW_LIST}; the base URL's host is always allowed.
 *
 * @example createMediaUrlPolicy('https://graph.facebook.com', [...DEFAULT_MEDIA_HOST_ALLOW_LIST, 'media.proxy.corp'])
 */
export function createMediaUrlPolicy(
  baseUrl: string | URL,
  allowList: readonly string[] = DEFAULT_MEDIA_HOST_ALLOW_LIST,
  options: { allowPrivateNetwork?: boolean } = {},
): MediaUrlPolicy {
  const base = new URL(baseUrl);
  return {
    baseHost: base.host.toLowerCase(),
    allowHttp: base.protocol === 'http:',
    allowList: allowList.map(normaliseHostEntry).filter((entry) => entry !== '' && entry !== '.'),
    allowPrivateNetwork: options.allowPrivateNetwork === true,
  };
}

/** Decides whether a media URL may be fetched (with our token) under `policy`. */
export function checkMediaUrl(input: string | URL, policy: MediaUrlPolicy): MediaUrlCheck {
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    return { ok: false, reason: 'media URL is not a valid absolute URL' };
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && policy.allowHttp)) {
    return { ok: false, reason: `media URL scheme ${url.protocol} is not allowed` };
  }
  if (url.username !== '' || url.password !== '') {
    return { ok: false, reason: 'media URL must not carry credentials' };
  }
  const host = url.host.toLowerCase();
  const hostname = stripBrackets(url.hostname.toLowerCase()).replace(/\.$/, '');
  if (host === policy.baseHost) return { ok: true, url, trusted: true };

  if (isIP(hostname) !== 0 && isPrivateAddress(hostname) && !policy.allowPrivateNetwork) {
    return { ok: false, reason: `media host ${hostname} is a private, loopback or link-local address` };
  }
  if (!policy.allowList.some((entry) => hostMatches(entry, host, hostname, url.port))) {
    return { ok: false, reason: `media host ${host} is not in the allow-list` };
  }
  return { ok: true, url, trusted: false };
}

/**
 * An entry naming a port (`host:port`) allows that port; any other entry, a wildcard included,
 * only the scheme's own (443 for https), which the URL parser writes as an empty port.
 */
function hostMatches(entry: string, host: string, hostname: string, port: string): boolean {
  if (entry === host) return true;
  if (port !== '') return false;
  if (entry.startsWith('.')) return hostname.endsWith(entry);
  return entry === hostname || stripBrackets(entry) === hostname;
}

export type ResolvedMediaHost = { ok: true; address: string; family: 4 | 6 } | { ok: false; reason: string };

/**
 * Resolves the host of a URL that passed {@link checkMediaUrl} and vets every address it has:
 * one private, loopback, link-local, unique-local, CGNAT, multicast or unspecified answer (IPv4,
 * IPv6, or IPv4 inside IPv6) refuses the host, since a name an attacker controls can list a
 * public address beside an internal one. The caller must connect to the address returned and to
 * nothing else: resolving again at connect time would let a DNS answer that changed in between
 * (rebinding) reach an internal service. Resolution errors are thrown (the DNS may be down).
 */
export async function resolveMediaHost(
  url: URL,
  policy: MediaUrlPolicy,
  resolve: HostResolver = systemResolver,
): Promise<ResolvedMediaHost> {
  const hostname = stripBrackets(url.hostname.toLowerCase()).replace(/\.$/, '');
  const literal = isIP(hostname);
  // An IP literal was vetted by checkMediaUrl already; there is nothing to resolve.
  if (literal !== 0) return { ok: true, address: hostname, family: literal as 4 | 6 };
  const answers = await resolve(hostname);
  if (answers.length === 0) return { ok: false, reason: `media host ${hostname} has no address` };
  for (const { address } of answers) {
    if (isIP(address) === 0) return { ok: false, reason: `media host ${hostname} resolved to a non-address` };
    if (isPrivateAddress(address) && !policy.allowPrivateNetwork) {
      return {
        ok: false,
        reason: `media host ${hostname} resolves to ${address}, a private, loopback or link-local address`,
      };
    }
  }
  const first = answers[0] as { address: string };
  return { ok: true, address: first.address, family: isIP(first.address) as 4 | 6 };
}

function normaliseHostEntry(entry: string): string {
  return entry.trim().toLowerCase().replace(/\.$/, '');
}

function stripBrackets(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

// Non-public ranges (RFC 6890 and friends). Node's BlockList applies the IPv4 rules to
// IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) by itself. Whole translation/tunnel prefixes are
// blocked because they can embed a private IPv4 address and no media host legitimately uses them.
const PRIVATE_RANGES = (() => {
  const list = new BlockList();
  const v4: Array<[string, number]> = [
    ['0.0.0.0', 8],
    ['10.0.0.0', 8],
    ['100.64.0.0', 10],
    ['127.0.0.0', 8],
    ['169.254.0.0', 16],
    ['172.16.0.0', 12],
    ['192.0.0.0', 24],
    ['192.0.2.0', 24],
    ['192.88.99.0', 24],
    ['192.168.0.0', 16],
    ['198.18.0.0', 15],
    ['198.51.100.0', 24],
    ['203.0.113.0', 24],
    ['224.0.0.0', 4],
    ['240.0.0.0', 4],
  ];
  const v6: Array<[string, number]> = [
    // IPv4-compatible addresses (::a.b.c.d, deprecated), with :: and ::1 among them.
    ['::', 96],
    ['64:ff9b::', 96],
    ['64:ff9b:1::', 48],
    ['100::', 64],
    ['2001::', 32],
    ['2001:db8::', 32],
    ['2002::', 16],
    ['fc00::', 7],
    ['fe80::', 10],
    ['fec0::', 10],
    ['ff00::', 8],
  ];
  for (const [network, prefix] of v4) list.addSubnet(network, prefix, 'ipv4');
  for (const [network, prefix] of v6) list.addSubnet(network, prefix, 'ipv6');
  return list;
})();

/**
 * True for addresses that must not be fetched: private, loopback, link-local, unique-local,
 * CGNAT, multicast, unspecified, documentation and other reserved ranges.
 */
export function isPrivateAddress(ip: string): boolean {
  const family = isIP(ip);
  if (family === 4) return PRIVATE_RANGES.check(ip, 'ipv4');
  if (family === 6) return PRIVATE_RANGES.check(ip, 'ipv6');
  return false;
}
