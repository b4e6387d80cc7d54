/**
 * "Add to Slack" (OAuth v2) for one wabridge workspace, through Bolt's `InstallProvider`
 * (`@slack/oauth`): the signed, expiring install link the CLI prints, InstallProvider's state store
 * and installation store on our store, and the provider itself.
 * Flow: https://docs.slack.dev/authentication/installing-with-oauth
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type {
  Installation,
  InstallationQuery,
  InstallationStore,
  InstallProvider,
  InstallURLOptions,
  LogLevel,
  Logger as SlackLogger,
  StateStore,
} from '@slack/oauth';
import { checkInstallation, SLACK_BOT_SCOPES } from '@wabridge/connector-slack/manifest';
import { type Store, WabridgeError } from '@wabridge/core';
import type { Env } from './env.ts';
import type { Runtime } from './runtime.ts';

/** How long the link printed by the CLI works (an admin opens it soon after). */
export const INSTALL_LINK_TTL_MS = 60 * 60 * 1000;
/** How long Slack's `state` works: the consent page is one click (InstallProvider's cookie lasts 10 minutes too). */
export const STATE_TTL_MS = 10 * 60 * 1000;
/** The cookie that binds `state` to the browser that started the install (InstallProvider checks it). */
export const STATE_COOKIE = 'wabridge_slack_state';

/** The install link's ticket (signed: whoever holds the link may connect this workspace). */
export interface InstallGrant {
  purpose: 'install';
  workspace: string;
  /** Channel for `defaultChannel` when the workspace has none yet. */
  channel?: string;
  /** Expiry, epoch milliseconds. */
  exp: number;
  nonce: string;
}

const b64 = (value: Buffer | string) => Buffer.from(value).toString('base64url');

function mac(secret: string, purpose: InstallGrant['purpose'], body: string): Buffer {
  // The purpose is in the key: a ticket can never pass for another signed value of ours.
  return createHmac('sha256', `wabridge slack ${purpose}\0${secret}`).update(body).digest();
}

/** `<payload>.<signature>`, both base64url. */
export function signGrant(secret: string, grant: InstallGrant): string {
  const body = b64(JSON.stringify(grant));
  return `${body}.${b64(mac(secret, grant.purpose, body))}`;
}

/** Why an install step was refused; `code` is shown on the error page and logged. */
export class InstallRefused extends Error {
  override readonly name = 'InstallRefused';
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

/** The grant, or InstallRefused `state_invalid` / `state_expired` (nothing is trusted before the signature). */
export function verifyGrant(
  secret: string,
  token: string | undefined,
  purpose: InstallGrant['purpose'],
  now = Date.now(),
): InstallGrant {
  const what = 'install link';
  const invalid = () => new InstallRefused('state_invalid', `the ${what} is invalid`);
  const [body, signature, extra] = (token ?? '').split('.');
  if (!body || !signature || extra !== undefined) throw invalid();
  const expected = mac(secret, purpose, body);
  const given = Buffer.from(signature, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw invalid();
  let grant: InstallGrant;
  try {
    grant = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as InstallGrant;
  } catch {
    throw invalid();
  }
  if (grant.purpose !== purpose || typeof grant.workspace !== 'string' || typeof grant.exp !== 'number') {
    throw invalid();
  }
  if (now > grant.exp) {
    throw new InstallRefused('state_expired', `the ${what} has expired; start again`);
  }
  return grant;
}

/** The OAuth settings, or a WabridgeError naming what is missing. */
export function slackOAuthSettings(env: Env) {
  const missing = (['SLACK_CLIENT_ID', 'SLACK_CLIENT_SECRET', 'SLACK_STATE_SECRET'] as const).filter(
    (name) => env[name] === undefined,
  );
  if (missing.length > 0) {
    throw new WabridgeError('config_invalid', `"Add to Slack" needs ${missing.join(', ')}`, { status: 503 });
  }
  return {
    clientId: env.SLACK_CLIENT_ID as string,
    clientSecret: env.SLACK_CLIENT_SECRET as string,
    stateSecret: env.SLACK_STATE_SECRET as string,
    authorizeUrl: env.SLACK_AUTHORIZE_URL,
    apiUrl: env.SLACK_API_URL,
    redirectUri: `${env.publicUrl}/connect/slack/callback`,
  };
}

/** The link an admin opens (printed by `wabridge connector connect`). */
export function installLink(
  env: Env,
  workspace: string,
  options: { channel?: string; now?: number } = {},
): string {
  const settings = slackOAuthSettings(env);
  const ticket = signGrant(settings.stateSecret, {
    purpose: 'install',
    workspace,
    ...(options.channel ? { channel: options.channel } : {}),
    exp: (options.now ?? Date.now()) + INSTALL_LINK_TTL_MS,
    nonce: b64(randomBytes(12)),
  });
  return `${env.publicUrl}/connect/slack/${encodeURIComponent(workspace)}/install?ticket=${ticket}`;
}

/** What an install carries through `state` (InstallProvider's `metadata`): the workspace and its channel. */
export interface InstallMetadata {
  workspace: string;
  channel?: string;
}

function readMetadata(metadata: string | undefined): InstallMetadata {
  try {
    const parsed = JSON.parse(metadata ?? '') as InstallMetadata;
    if (typeof parsed.workspace === 'string' && parsed.workspace !== '') return parsed;
  } catch {
    // Falls through: only our own code writes metadata, but nothing unchecked is trusted.
  }
  throw new InstallRefused('state_invalid', 'the state is invalid');
}

const STATE_KEY = (secret: string) => `oauth-state:${createHash('sha256').update(secret).digest('hex')}`;

/**
 * InstallProvider's state store on the workspace's Slack connector state: `state` is
 * `<base64url {"workspace"}>.<random>`, the entry (hashed random → install options and expiry) is taken in one
 * step when Slack sends the person back, so a state works once, for its workspace, for 10 minutes.
 */
export class WorkspaceStateStore implements StateStore {
  readonly store: Pick<Store, 'setConnectorState' | 'takeConnectorState'>;
  readonly now: () => number;

  constructor(store: Pick<Store, 'setConnectorState' | 'takeConnectorState'>, now: () => number = Date.now) {
    this.store = store;
    this.now = now;
  }

  async generateStateParam(installOptions: InstallURLOptions): Promise<string> {
    const { workspace } = readMetadata(installOptions.metadata);
    const secret = b64(randomBytes(24));
    await this.store.setConnectorState(workspace, 'slack', STATE_KEY(secret), {
      exp: this.now() + STATE_TTL_MS,
      installOptions,
    });
    return `${b64(JSON.stringify({ workspace }))}.${secret}`;
  }

  async verifyStateParam(_now: Date, state: string): Promise<InstallURLOptions> {
    const [encoded, secret, extra] = state.split('.');
    if (!encoded || !secret || extra !== undefined)
      throw new InstallRefused('state_invalid', 'the state is invalid');
    let workspace: unknown;
    try {
      workspace = (JSON.parse(Buffer.from(encoded, 'base64url').toString('utf8')) as { workspace?: unknown })
        .workspace;
    } catch {
      workspace = undefined;
    }
    if (typeof workspace !== 'string') throw new InstallRefused('state_invalid', 'the state is invalid');
    const taken = (await this.store.takeConnectorState(workspace, 'slack', STATE_KEY(secret))) as {
      exp: number;
      installOptions: InstallURLOptions;
    } | null;
    if (!taken)
      throw new InstallRefused('state_invalid', 'the state is invalid or was already used; start again');
    if (this.now() > taken.exp)
      throw new InstallRefused('state_expired', 'the state has expired; start again');
    return taken.installOptions;
  }
}

/**
 * InstallProvider's installation store on the connector settings: an installation becomes the
 * workspace's Slack connector config (the bot token encrypted like every connector secret, through
 * `admin.setConnector`, audited as `connector.connect`). A workspace install keeps its team; an
 * org-wide (Enterprise Grid) install keeps its organization and serves all its workspaces.
 */
export class ConnectorInstallationStore implements InstallationStore {
  readonly runtime: Pick<Runtime, 'env' | 'store' | 'admin' | 'secrets' | 'routing' | 'logger'>;

  constructor(runtime: Pick<Runtime, 'env' | 'store' | 'admin' | 'secrets' | 'routing' | 'logger'>) {
    this.runtime = runtime;
  }

  async storeInstallation(installation: Installation<'v1' | 'v2', boolean>): Promise<void> {
    const { workspace, channel } = readMetadata(installation.metadata);
    const checked = checkInstallation({
      tokenType: installation.tokenType,
      botToken: installation.bot?.token,
      refreshToken: installation.bot?.refreshToken,
      teamId: installation.team?.id,
      teamName: installation.team?.name ?? installation.enterprise?.name,
      enterpriseId: installation.enterprise?.id,
      isEnterpriseInstall: installation.isEnterpriseInstall,
      appId: installation.appId,
      botUserId: installation.bot?.userId,
    });
    const { runtime } = this;
    const settings = slackOAuthSettings(runtime.env);
    const existing = await runtime.store.getConnector(workspace, 'slack');
    await runtime.admin.setConnector('slack-oauth', workspace, 'slack', {
      enabled: true,
      config: {
        botToken: checked.botToken,
        // Both are written: switching between a workspace and an org-wide install drops the other.
        teamId: checked.teamId,
        enterpriseId: checked.enterpriseId,
        appId: checked.appId,
        botUserId: checked.botUserId,
        ...(channel ? { defaultChannel: channel } : {}),
        // The Web API base the token belongs to (the emulator in tests), unless it is Slack's.
        ...(settings.apiUrl !== 'https://slack.com/api/' ? { slackApiUrl: settings.apiUrl } : {}),
        ...(runtime.env.SLACK_SIGNING_SECRET ? { signingSecret: runtime.env.SLACK_SIGNING_SECRET } : {}),
      },
      audit: {
        action: 'connector.connect',
        details: {
          teamId: checked.teamId ?? null,
          enterpriseId: checked.enterpriseId ?? null,
          orgWide: checked.isEnterpriseInstall,
          appId: checked.appId,
          reconnect: existing !== null,
        },
      },
    });
    runtime.routing.invalidate();
    runtime.logger.info(
      { workspace, teamId: checked.teamId, enterpriseId: checked.enterpriseId, code: 'slack_connected' },
      'Slack connected through "Add to Slack"',
    );
  }

  /** The installation serving a team (or an organization): the workspace whose connector has it. */
  async fetchInstallation(query: InstallationQuery<boolean>): Promise<Installation<'v1' | 'v2', boolean>> {
    for (const setting of await this.runtime.store.listConnectors()) {
      if (setting.connectorId !== 'slack' || !setting.enabled) continue;
      const config = setting.config as {
        teamId?: string;
        enterpriseId?: string;
        appId?: string;
        botUserId?: string;
      };
      const serves = query.isEnterpriseInstall
        ? !config.teamId && config.enterpriseId === query.enterpriseId
        : config.teamId !== undefined && config.teamId === query.teamId;
      if (!serves || !setting.encryptedSecrets) continue;
      const secrets = JSON.parse(this.runtime.secrets.decrypt(setting.encryptedSecrets)) as {
        botToken?: string;
      };
      return {
        team: config.teamId ? { id: config.teamId } : undefined,
        enterprise: config.enterpriseId ? { id: config.enterpriseId } : undefined,
        isEnterpriseInstall: query.isEnterpriseInstall,
        appId: config.appId,
        user: { id: '', token: undefined, scopes: undefined },
        bot: {
          token: secrets.botToken ?? '',
          userId: config.botUserId ?? '',
          id: '',
          scopes: [...SLACK_BOT_SCOPES],
        },
        metadata: JSON.stringify({ workspace: setting.workspaceId }),
      } as Installation<'v1' | 'v2', boolean>;
    }
    throw new WabridgeError('not_found', 'no wabridge workspace has this Slack installation', {
      status: 404,
    });
  }
}

/**
 * Bolt's InstallProvider with our stores; its logger writes through ours. `@slack/oauth` is loaded
 * here, on the first install, not with the gateway: most gateways never serve one.
 */
export async function slackInstallProvider(
  runtime: Pick<Runtime, 'env' | 'store' | 'admin' | 'secrets' | 'routing' | 'logger'>,
  now: () => number = Date.now,
): Promise<InstallProvider> {
  const { InstallProvider, LogLevel } = await import('@slack/oauth');
  const settings = slackOAuthSettings(runtime.env);
  const log = runtime.logger.child({ via: 'slack-oauth' });
  const text = (parts: unknown[]) => parts.map((p) => (p instanceof Error ? p.message : String(p))).join(' ');
  let level: LogLevel = LogLevel.INFO;
  const logger: SlackLogger = {
    debug: (...p: unknown[]) => log.debug({}, text(p)),
    info: (...p: unknown[]) => log.info({}, text(p)),
    warn: (...p: unknown[]) => log.warn({}, text(p)),
    // InstallProvider logs every refused callback as an error; ours are logged once, as refusals.
    error: (...p: unknown[]) => log.info({}, text(p)),
    setLevel: (next: LogLevel) => {
      level = next;
    },
    getLevel: () => level,
    setName: () => {},
  };
  return new InstallProvider({
    clientId: settings.clientId,
    clientSecret: settings.clientSecret,
    stateStore: new WorkspaceStateStore(runtime.store, now),
    installationStore: new ConnectorInstallationStore(runtime),
    authorizationUrl: settings.authorizeUrl,
    stateCookieName: STATE_COOKIE,
    stateCookieExpirationSeconds: STATE_TTL_MS / 1000,
    clientOptions: { slackApiUrl: settings.apiUrl, retryConfig: { retries: 1 }, timeout: 15_000 },
    logger,
  });
}

/** The install options of a workspace: our scopes, our callback, the workspace in `metadata`. */
export function installOptions(env: Env, metadata: InstallMetadata): InstallURLOptions {
  return {
    scopes: [...SLACK_BOT_SCOPES],
    redirectUri: slackOAuthSettings(env).redirectUri,
    metadata: JSON.stringify(metadata),
  };
}
