import { resolve } from 'node:path';
import { z } from 'zod';

/**
 * Every environment variable wabridge reads, validated once at start-up. `process.env` is read
 * here and nowhere else; `.env.example` documents the same list.
 */
const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const commaList = z.string().transform((v) =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean),
);

export const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  HOST: z.string().default('0.0.0.0'),
  PUBLIC_URL: z.url().optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  WABRIDGE_DATA_DIR: z.string().default('./data'),
  DATABASE_URL: z.string().optional(),
  // The Postgres schema of the store's tables (default: the server's search_path).
  DATABASE_SCHEMA: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]{0,62}$/, 'a plain identifier (letters, digits, _)')
    .optional(),
  // Postgres only: named (prepared) statements; false behind a transaction pooler that does not
  // track them (PgBouncer before 1.21, or max_prepared_statements = 0).
  DATABASE_PREPARED_STATEMENTS: bool.default(true),
  WABRIDGE_MASTER_KEY: z.string().optional(),
  WABRIDGE_MASTER_KEY_PREVIOUS: commaList.optional(),
  WABRIDGE_CONFIG: z.string().optional(),
  WHATSAPP_APP_SECRET: commaList.optional(),
  WHATSAPP_VERIFY_TOKEN: z.string().optional(),
  WHATSAPP_ACCESS_TOKEN: z.string().optional(),
  WHATSAPP_API_BASE_URL: z.url().default('https://graph.facebook.com'),
  WHATSAPP_API_VERSION: z
    .string()
    .regex(/^v\d+\.\d+$/, 'like v23.0')
    .default('v23.0'),
  WHATSAPP_MEDIA_HOSTS: commaList.optional(),
  WHATSAPP_MEDIA_ALLOW_PRIVATE_NETWORK: bool.default(false),
  WEBHOOK_MAX_BODY_BYTES: z.coerce
    .number()
    .int()
    .positive()
    .default(1024 * 1024 - 1),
  // Slow or stalled clients: how long a request's headers, and the whole request, may take to
  // arrive before the server answers 408 and closes the connection (Node's default is 300 s).
  HTTP_HEADERS_TIMEOUT_MS: z.coerce.number().int().min(1000).default(10_000),
  HTTP_REQUEST_TIMEOUT_MS: z.coerce.number().int().min(1000).default(15_000),
  HTTP_KEEP_ALIVE_TIMEOUT_MS: z.coerce.number().int().min(0).default(5000),
  // Webhook bodies not yet verified (read before their signature can be checked): how many at
  // once, and how many bytes in all. Beyond either, 503 with Retry-After.
  WEBHOOK_UNVERIFIED_MAX: z.coerce.number().int().min(1).default(64),
  WEBHOOK_UNVERIFIED_MAX_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .default(8 * 1024 * 1024),
  // Verified webhook bodies waiting for the store: how many, how many bytes, and how long one may
  // wait for its commit. Beyond any of them, 503 with Retry-After.
  WEBHOOK_STORE_QUEUE_MAX: z.coerce.number().int().min(1).default(1000),
  WEBHOOK_STORE_QUEUE_MAX_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .default(16 * 1024 * 1024),
  WEBHOOK_STORE_TIMEOUT_MS: z.coerce.number().int().min(100).default(5000),
  WORKER_ENABLED: bool.default(true),
  // Jobs in flight. Each waits most of its time on the store's commits and the target's answer, so
  // more in flight means bigger group commits and less CPU per job: on two idle cores 16 delivered
  // ~500 jobs/s while 1,000 webhooks/s arrived, 128 kept up (docs/performance.md).
  WORKER_CONCURRENCY: z.coerce.number().int().min(1).max(256).default(128),
  JOB_LEASE_MS: z.coerce.number().int().min(1000).default(30_000),
  JOB_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(100).default(20),
  METRICS_TOKEN: z.string().optional(),
  // "Add to Slack" (OAuth v2): the Slack app's client id and secret, the key that signs install
  // links and `state`, and the signing secret stored with each install. Overrides of Slack's
  // authorize URL and Web API base are for the sandbox emulator or a proxy.
  SLACK_CLIENT_ID: z.string().optional(),
  SLACK_CLIENT_SECRET: z.string().optional(),
  SLACK_STATE_SECRET: z.string().min(16, 'at least 16 characters (openssl rand -hex 32)').optional(),
  SLACK_SIGNING_SECRET: z.string().optional(),
  SLACK_AUTHORIZE_URL: z.url().default('https://slack.com/oauth/v2/authorize'),
  SLACK_API_URL: z.url().default('https://slack.com/api/'),
  // "Connect HubSpot" (public app, OAuth): the app's client id and secret (the secret also signs
  // its webhooks), the key that signs connect links and `state`. Overrides of the authorize page
  // and API base are for the sandbox emulator or HubSpot's EU data centre.
  HUBSPOT_CLIENT_ID: z.string().optional(),
  HUBSPOT_CLIENT_SECRET: z.string().optional(),
  HUBSPOT_STATE_SECRET: z.string().min(16, 'at least 16 characters (openssl rand -hex 32)').optional(),
  HUBSPOT_APP_ID: z.string().regex(/^\d+$/, 'the public app id (digits)').optional(),
  HUBSPOT_AUTHORIZE_URL: z.url().default('https://app.hubspot.com/oauth/authorize'),
  HUBSPOT_API_URL: z.url().default('https://api.hubapi.com'),
  // "Connect Teams" (the service account signs in in the browser): the Entra ID app registration
  // (tenant id, or `organizations` for a multi-tenant app), the key that signs connect links and
  // `state`. Overrides of the identity platform and Graph are for sovereign clouds or the sandbox.
  TEAMS_TENANT_ID: z.string().default('organizations'),
  TEAMS_CLIENT_ID: z.string().optional(),
  TEAMS_CLIENT_SECRET: z.string().optional(),
  TEAMS_STATE_SECRET: z.string().min(16, 'at least 16 characters (openssl rand -hex 32)').optional(),
  TEAMS_AUTHORITY_HOST: z.url().default('https://login.microsoftonline.com'),
  TEAMS_GRAPH_URL: z.url().default('https://graph.microsoft.com/'),
  TEAMS_GRAPH_RESOURCE: z.url().default('https://graph.microsoft.com'),
  // Admin API and console (docs/admin.md): session lifetimes, the cookie's Secure flag (on unless
  // PUBLIC_URL is http://localhost or 127.0.0.1; off only there), and whether the client IP comes
  // from X-Forwarded-For (behind a reverse proxy that sets it) for login throttling and the audit.
  ADMIN_SESSION_IDLE_MINUTES: z.coerce
    .number()
    .int()
    .min(1)
    .max(24 * 60)
    .default(30),
  ADMIN_SESSION_MAX_HOURS: z.coerce
    .number()
    .int()
    .min(1)
    .max(24 * 30)
    .default(12),
  ADMIN_COOKIE_SECURE: z.enum(['true', 'false']).optional(),
  ADMIN_TRUST_PROXY: z.enum(['true', 'false']).default('false'),
  // Optional single sign-on with OpenID Connect (docs/admin.md): the provider's issuer URL and
  // this client's credentials; the redirect URI is PUBLIC_URL/admin/api/auth/oidc/callback.
  ADMIN_OIDC_ISSUER: z.url().optional(),
  ADMIN_OIDC_CLIENT_ID: z.string().optional(),
  ADMIN_OIDC_CLIENT_SECRET: z.string().optional(),
  // Test only (NODE_ENV=test): the time `wabridge retention run` evaluates the rules at.
  WABRIDGE_TEST_NOW: z.iso.datetime({ offset: true }).optional(),
});

export type Env = z.infer<typeof envSchema> & {
  dataDir: string;
  /** The SQLite file (unused when `postgresUrl` is set). */
  databasePath: string;
  /** DATABASE_URL when it names a Postgres server (postgres:// or postgresql://), else null. */
  postgresUrl: string | null;
  publicUrl: string;
  devMode: boolean;
  /** Whether the admin session cookie is `Secure` (and `__Host-` prefixed). */
  adminCookieSecure: boolean;
};

export class EnvError extends Error {
  override readonly name = 'EnvError';
}

/** Parses the environment; errors name each variable and what is wrong with it. */
export function loadEnv(source: Record<string, string | undefined> = process.env): Env {
  // Empty strings (VAR= in a .env file) mean "not set".
  const cleaned = Object.fromEntries(Object.entries(source).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = envSchema.safeParse(cleaned);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new EnvError(`invalid configuration:\n${lines.join('\n')}\n(see .env.example)`);
  }
  const env = parsed.data;
  if (env.HTTP_HEADERS_TIMEOUT_MS > env.HTTP_REQUEST_TIMEOUT_MS) {
    throw new EnvError(
      'invalid configuration:\n  HTTP_HEADERS_TIMEOUT_MS: must not be more than HTTP_REQUEST_TIMEOUT_MS\n(see .env.example)',
    );
  }
  const dataDir = resolve(env.WABRIDGE_DATA_DIR);
  const url = env.DATABASE_URL ?? `sqlite:${resolve(dataDir, 'wabridge.db')}`;
  const postgres = /^postgres(ql)?:\/\//.test(url);
  if (!url.startsWith('sqlite:') && !postgres) {
    throw new EnvError(
      `DATABASE_URL: sqlite:<path>, postgres:// or postgresql:// (got ${url.split(':')[0]}:)`,
    );
  }
  if (postgres && !URL.canParse(url)) {
    // Not echoed: the URL may hold a password.
    throw new EnvError('DATABASE_URL: not a valid postgres:// URL');
  }
  if (env.WABRIDGE_TEST_NOW !== undefined && env.NODE_ENV !== 'test') {
    throw new EnvError(
      'invalid configuration:\n  WABRIDGE_TEST_NOW: only honoured with NODE_ENV=test (it moves the clock retention runs at)\n(see .env.example)',
    );
  }
  const devMode = env.NODE_ENV !== 'production';
  if (!devMode) {
    const missing = (
      [
        'WABRIDGE_MASTER_KEY',
        'WHATSAPP_APP_SECRET',
        'WHATSAPP_VERIFY_TOKEN',
        'WHATSAPP_ACCESS_TOKEN',
      ] as const
    ).filter((name) => env[name] === undefined);
    if (missing.length > 0) {
      throw new EnvError(
        `NODE_ENV=production needs ${missing.join(', ')}. ` +
          'WABRIDGE_MASTER_KEY encrypts connector secrets at rest: generate one with `openssl rand -base64 32` and keep it safe.',
      );
    }
  }
  const publicUrl = (env.PUBLIC_URL ?? `http://localhost:${env.PORT}`).replace(/\/$/, '');
  const localHttp = /^http:\/\/(localhost|127\.0\.0\.1|\[::1\])(:\d+)?$/.test(publicUrl);
  const oidc = [env.ADMIN_OIDC_ISSUER, env.ADMIN_OIDC_CLIENT_ID, env.ADMIN_OIDC_CLIENT_SECRET];
  if (oidc.some((v) => v !== undefined) && oidc.some((v) => v === undefined)) {
    throw new EnvError(
      'invalid configuration:\n  ADMIN_OIDC_ISSUER, ADMIN_OIDC_CLIENT_ID and ADMIN_OIDC_CLIENT_SECRET go together: set all three or none\n(see .env.example)',
    );
  }
  if (env.ADMIN_COOKIE_SECURE === 'false' && !localHttp) {
    throw new EnvError(
      `invalid configuration:\n  ADMIN_COOKIE_SECURE: false is only allowed when PUBLIC_URL is http://localhost (got ${publicUrl})\n(see .env.example)`,
    );
  }
  return {
    ...env,
    dataDir,
    databasePath: postgres ? resolve(dataDir, 'wabridge.db') : url.slice('sqlite:'.length),
    postgresUrl: postgres ? url : null,
    publicUrl,
    devMode,
    adminCookieSecure:
      env.ADMIN_COOKIE_SECURE === undefined ? !localHttp : env.ADMIN_COOKIE_SECURE === 'true',
  };
}

/**
 * The whole environment, for what names its variables itself: `${NAME}` in a config file or in
 * `--config`, and `--set-env key=NAME`. Secrets then never appear on a command line.
 */
export function environmentVariables(): Record<string, string | undefined> {
  return process.env;
}
