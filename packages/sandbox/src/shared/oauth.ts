/**
 * OAuth 2.0 pieces every emulated platform shares: one-time authorization codes on the emulator's
 * clock, client authentication (HTTP Basic or form fields, compared in constant time), PKCE checks
 * and random token values. Each platform keeps its own error vocabulary; these helpers only say
 * *what* is wrong, the caller answers in the platform's words.
 *
 * References: RFC 6749 (§2.3.1 client password, §4.1.2 codes are short-lived and single-use,
 * §10.5), RFC 7636 (PKCE, `S256` = BASE64URL(SHA256(code_verifier))).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** A random token value with a platform-shaped prefix, e.g. `randomToken('xoxb-')`. */
export function randomToken(prefix = '', bytes = 24): string {
  return `${prefix}${randomBytes(bytes).toString('base64url')}`;
}

/** Constant-time string comparison (false when either side is missing). */
export function safeEqual(a: string | undefined | null, b: string | undefined | null): boolean {
  if (typeof a !== 'string' || typeof b !== 'string') return false;
  // Hashing first gives both sides the same length, so not even the length leaks.
  const left = createHash('sha256').update(a).digest();
  const right = createHash('sha256').update(b).digest();
  return timingSafeEqual(left, right);
}

/** `Authorization: Basic base64(id:secret)` (RFC 6749 §2.3.1: both parts form-url-encoded). */
export function parseBasicAuth(
  header: string | undefined | null,
): { id: string; secret: string } | undefined {
  const match = /^Basic\s+([A-Za-z0-9+/=._~-]+)\s*$/i.exec(header ?? '');
  if (!match?.[1]) return undefined;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  const decode = (part: string) => {
    try {
      return decodeURIComponent(part.replace(/\+/g, ' '));
    } catch {
      return part;
    }
  };
  return { id: decode(decoded.slice(0, colon)), secret: decode(decoded.slice(colon + 1)) };
}

/**
 * The client's credentials from a token request: Basic auth wins over form fields; both at once with
 * different values is refused (RFC 6749 §2.3: one authentication method per request).
 */
export function clientCredentials(
  authorization: string | undefined | null,
  form: URLSearchParams,
): {
  id: string | undefined;
  secret: string | undefined;
  method: 'basic' | 'form' | 'none';
  conflict: boolean;
} {
  const basic = parseBasicAuth(authorization);
  const formId = form.get('client_id') ?? undefined;
  const formSecret = form.get('client_secret') ?? undefined;
  if (basic) {
    const conflict = (formId !== undefined && formId !== basic.id) || formSecret !== undefined;
    return { id: basic.id, secret: basic.secret, method: 'basic', conflict };
  }
  return {
    id: formId,
    secret: formSecret,
    method: formId === undefined && formSecret === undefined ? 'none' : 'form',
    conflict: false,
  };
}

/** Reads an `application/x-www-form-urlencoded` body (or a JSON object of strings, which some clients send). */
export async function readForm(request: Request): Promise<URLSearchParams> {
  const type = request.headers.get('content-type') ?? '';
  const text = await request.text();
  if (type.startsWith('application/json')) {
    const parsed: unknown = text.trim() === '' ? {} : JSON.parse(text);
    const form = new URLSearchParams();
    if (typeof parsed === 'object' && parsed !== null) {
      for (const [key, value] of Object.entries(parsed)) {
        if (value !== undefined && value !== null) form.set(key, String(value));
      }
    }
    return form;
  }
  return new URLSearchParams(text);
}

/** RFC 7636 §4.2: the challenge a verifier yields for `method`. */
export function pkceChallenge(verifier: string, method: 'S256' | 'plain'): string {
  return method === 'plain' ? verifier : createHash('sha256').update(verifier).digest('base64url');
}

/** RFC 7636 §4.1: 43–128 characters from the unreserved set. */
export function isValidPkceVerifier(verifier: string): boolean {
  return /^[A-Za-z0-9\-._~]{43,128}$/.test(verifier);
}

export type CodeRedemption<T> =
  | { status: 'ok'; data: T }
  | { status: 'unknown' }
  | { status: 'expired'; data: T }
  | { status: 'used'; data: T };

/**
 * Authorization codes: random, bound to the data of the consent that produced them, valid for
 * `ttlMs` on the emulator's clock and redeemable once. A used or expired code stays known, so the
 * platform can say which of the two happened (Slack `code_already_used`, Entra AADSTS54005 …).
 */
export class AuthorizationCodes<T> {
  readonly #codes = new Map<string, { data: T; expiresAt: number; used: boolean }>();
  readonly #now: () => number;
  readonly #ttlMs: number;
  readonly #prefix: string;

  constructor(options: { now: () => number; ttlMs: number; prefix?: string }) {
    this.#now = options.now;
    this.#ttlMs = options.ttlMs;
    this.#prefix = options.prefix ?? '';
  }

  issue(data: T): string {
    const code = randomToken(this.#prefix, 32);
    this.#codes.set(code, { data, expiresAt: this.#now() + this.#ttlMs, used: false });
    return code;
  }

  /** Redeems a code: `ok` once; afterwards `used`; `expired` after its lifetime. */
  redeem(code: string | undefined | null): CodeRedemption<T> {
    const entry = code ? this.#codes.get(code) : undefined;
    if (!entry) return { status: 'unknown' };
    if (entry.used) return { status: 'used', data: entry.data };
    if (this.#now() >= entry.expiresAt) return { status: 'expired', data: entry.data };
    entry.used = true;
    return { status: 'ok', data: entry.data };
  }

  /** Looks a code up without redeeming it. */
  peek(code: string): T | undefined {
    return this.#codes.get(code)?.data;
  }
}

/**
 * Consent requests waiting for the person's decision on the consent page: the page carries only an
 * unguessable id, the parameters stay server-side, and a decision can be made once.
 */
export class PendingConsents<T> {
  readonly #pending = new Map<string, { data: T; expiresAt: number }>();
  readonly #now: () => number;
  readonly #ttlMs: number;

  constructor(options: { now: () => number; ttlMs?: number }) {
    this.#now = options.now;
    this.#ttlMs = options.ttlMs ?? 30 * 60_000;
  }

  open(data: T): string {
    const id = randomToken('', 24);
    this.#pending.set(id, { data, expiresAt: this.#now() + this.#ttlMs });
    return id;
  }

  /** The request behind `id`, removed (a page can be submitted once); undefined if unknown or stale. */
  take(id: string | undefined | null): T | undefined {
    const entry = id ? this.#pending.get(id) : undefined;
    if (!entry) return undefined;
    this.#pending.delete(id as string);
    return this.#now() < entry.expiresAt ? entry.data : undefined;
  }
}

/**
 * A redirect back to the client with the result in the query (RFC 6749 §4.1.2 / §4.1.2.1),
 * keeping any query the registered redirect URI already had.
 */
export function redirectWith(redirectUri: string, params: Record<string, string | undefined>): string {
  const target = new URL(redirectUri);
  for (const [key, value] of Object.entries(params))
    if (value !== undefined) target.searchParams.set(key, value);
  return target.toString();
}

/** True for `http(s)://localhost|127.0.0.1|[::1]`: redirect URIs where the port may vary (native apps, RFC 8252 §7.3). */
export function isLoopback(url: URL): boolean {
  return ['localhost', '127.0.0.1', '[::1]', '::1'].includes(url.hostname);
}
