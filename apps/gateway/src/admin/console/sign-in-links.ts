import { randomBytes } from 'node:crypto';

/**
 * One-time sign-in links for the demo: `npm run demo` prints a link that signs its demo owner in
 * once (within ten minutes), so the console opens signed in without typing a password. The link
 * holds a random token, never the credentials; they stay in this process's memory. Nothing else
 * creates these links: a real gateway has none (`createApp` gets no `SignInLinks`).
 */
export class SignInLinks {
  private readonly links = new Map<string, { email: string; password: string; expiresAt: number }>();
  private readonly now: () => number;
  private readonly ttlMs: number;

  constructor(options: { now?: () => number; ttlMs?: number } = {}) {
    this.now = options.now ?? Date.now;
    this.ttlMs = options.ttlMs ?? 10 * 60_000;
  }

  /** A path under /admin that signs `email` in once. */
  issue(credentials: { email: string; password: string }): string {
    const token = randomBytes(24).toString('base64url');
    this.links.set(token, { ...credentials, expiresAt: this.now() + this.ttlMs });
    return `/admin/sign-in/link/${token}`;
  }

  /** The credentials behind a token, once: a second use, or a late one, gets null. */
  take(token: string): { email: string; password: string } | null {
    const link = this.links.get(token);
    this.links.delete(token);
    if (!link || link.expiresAt <= this.now()) return null;
    return { email: link.email, password: link.password };
  }
}
