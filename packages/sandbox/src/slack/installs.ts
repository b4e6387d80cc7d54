/**
 * Who the app is installed for, and what each token may do: workspaces (teams) and Enterprise Grid
 * organizations, installations (one per workspace, or one for a whole organization), their bot and
 * user tokens (rotating or not), and the scopes each Web API method needs.
 *
 * Rules, as Slack documents them:
 * - An installation belongs to a workspace (`team`), or to an organization for an org-wide install
 *   (`team: null`, `enterprise`, `is_enterprise_install: true`) whose token acts in every workspace
 *   of the organization (https://docs.slack.dev/enterprise/developing-for-enterprise-orgs).
 * - A token sees only its workspace(s): a channel of another workspace is `channel_not_found`.
 * - Token rotation: access tokens expire (`token_expired`), refresh tokens are single-use
 *   (https://docs.slack.dev/authentication/using-token-rotation).
 * - A revoked token answers `token_revoked`; an app is uninstalled when its last bot and user tokens
 *   are gone (https://docs.slack.dev/reference/events/app_uninstalled).
 */
import { randomBytes } from 'node:crypto';
import { randomToken } from '../shared/oauth.ts';
import type { InstallationRef, SlackEnterpriseSeed, SlackUser, SlackWorkspaceSeed } from './types.ts';

export interface Team {
  id: string;
  name: string;
  domain: string;
  enterpriseId: string | undefined;
  admin: SlackUser;
}

export interface Enterprise {
  id: string;
  name: string;
  domain: string;
  admin: SlackUser;
}

export interface Installation extends InstallationRef {
  /** `T…` for a workspace install, `E…` for an org-wide one: at most one installation per key. */
  key: string;
  botUserId: string;
  botId: string;
  scopes: string[];
  userScopes: string[];
  installerUserId: string;
  active: boolean;
  installedAt: number;
}

export interface TokenRecord {
  token: string;
  tokenType: 'bot' | 'user';
  installKey: string;
  /** The bot user, or the installing person for a user token. */
  userId: string;
  scopes: string[];
  /** Epoch ms, or null for a token that does not expire. */
  expiresAt: number | null;
  revoked: boolean;
}

/** What a Web API call is allowed to touch. */
export interface SlackAuth {
  token: TokenRecord;
  installation: Installation;
  /** Workspaces the token acts in. */
  teamIds: ReadonlySet<string>;
  /** Who "you" are: the bot user, or the person of a user token. */
  userId: string;
  botId: string | undefined;
}

export type AuthFailure = 'invalid_auth' | 'token_revoked' | 'token_expired' | 'account_inactive';

/**
 * Scopes a method needs with a bot token (the "Scopes" fact of each method page on
 * docs.slack.dev/reference/methods). Methods not listed need none.
 */
export const METHOD_SCOPES: Readonly<Record<string, string>> = {
  'users.info': 'users:read',
  'conversations.info': 'channels:read',
  'conversations.history': 'channels:history',
  'conversations.replies': 'channels:history',
  'chat.postMessage': 'chat:write',
  'chat.update': 'chat:write',
  'chat.delete': 'chat:write',
  'reactions.add': 'reactions:write',
  'reactions.remove': 'reactions:write',
  'files.getUploadURLExternal': 'files:write',
  'files.completeUploadExternal': 'files:write',
  'files.info': 'files:read',
  'files.delete': 'files:write',
};

/** Scopes the emulator knows (bot and user), from docs.slack.dev/reference/scopes; others are `invalid_scope`. */
export const KNOWN_SCOPES: ReadonlySet<string> = new Set([
  'app_mentions:read',
  'assistant:write',
  'bookmarks:read',
  'bookmarks:write',
  'calls:read',
  'calls:write',
  'canvases:read',
  'canvases:write',
  'channels:history',
  'channels:join',
  'channels:manage',
  'channels:read',
  'channels:write.invites',
  'channels:write.topic',
  'chat:write',
  'chat:write.customize',
  'chat:write.public',
  'commands',
  'conversations.connect:manage',
  'conversations.connect:read',
  'conversations.connect:write',
  'dnd:read',
  'emoji:read',
  'files:read',
  'files:write',
  'groups:history',
  'groups:read',
  'groups:write',
  'identity.basic',
  'identity.email',
  'identity.team',
  'identity.avatar',
  'im:history',
  'im:read',
  'im:write',
  'incoming-webhook',
  'links:read',
  'links:write',
  'links.embed:write',
  'metadata.message:read',
  'mpim:history',
  'mpim:read',
  'mpim:write',
  'pins:read',
  'pins:write',
  'reactions:read',
  'reactions:write',
  'reminders:read',
  'reminders:write',
  'remote_files:read',
  'remote_files:share',
  'remote_files:write',
  'search:read',
  'team:read',
  'usergroups:read',
  'usergroups:write',
  'users.profile:read',
  'users:read',
  'users:read.email',
  'users:write',
  'workflow.steps:execute',
]);

/** Every scope a pre-installed (settings-page) token has: all those the emulated methods need. */
const ALL_METHOD_SCOPES = [...new Set(Object.values(METHOD_SCOPES))].sort();

const slug = (name: string) =>
  name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '') || 'workspace';

export class SlackInstalls {
  readonly teams = new Map<string, Team>();
  readonly enterprises = new Map<string, Enterprise>();
  readonly installations = new Map<string, Installation>();
  readonly tokens = new Map<string, TokenRecord>();
  /** Refresh token → the token kind and installation it renews; deleted when used (single-use). */
  readonly refreshTokens = new Map<
    string,
    { installKey: string; tokenType: 'bot' | 'user'; userId: string }
  >();
  readonly #now: () => number;
  #counter = 0;

  constructor(now: () => number) {
    this.#now = now;
  }

  /** A Slack-shaped id (`U0…`, `B0…`, `W0…`) unique in this emulator. */
  newId(prefix: string): string {
    this.#counter += 1;
    return `${prefix}${this.#counter.toString(36).toUpperCase().padStart(3, '0')}${randomBytes(3).toString('hex').toUpperCase()}`;
  }

  addEnterprise(seed: SlackEnterpriseSeed): Enterprise {
    if (this.enterprises.has(seed.id)) throw new TypeError(`enterprise ${seed.id} is declared twice`);
    const enterprise: Enterprise = {
      id: seed.id,
      name: seed.name,
      domain: seed.domain ?? slug(seed.name),
      admin: seed.admin ?? { id: `W0ORGADMIN${seed.id.slice(1, 6)}`, name: `${seed.name} Org Admin` },
    };
    this.enterprises.set(enterprise.id, enterprise);
    return enterprise;
  }

  addTeam(seed: Omit<SlackWorkspaceSeed, 'channels'>): Team {
    if (this.teams.has(seed.id)) throw new TypeError(`workspace ${seed.id} is declared twice`);
    if (seed.enterpriseId !== undefined && !this.enterprises.has(seed.enterpriseId)) {
      throw new TypeError(
        `workspace ${seed.id} names enterprise ${seed.enterpriseId}, which is not declared`,
      );
    }
    const team: Team = {
      id: seed.id,
      name: seed.name,
      domain: seed.domain ?? slug(seed.name),
      enterpriseId: seed.enterpriseId,
      admin: seed.admin ?? {
        id: `${seed.enterpriseId ? 'W' : 'U'}0ADMIN${seed.id.slice(1, 6)}`,
        name: `${seed.name} Admin`,
        teamId: seed.id,
      },
    };
    this.teams.set(team.id, team);
    return team;
  }

  team(id: string): Team {
    const team = this.teams.get(id);
    if (!team) throw new TypeError(`no Slack workspace ${id} in the emulator`);
    return team;
  }

  teamsOf(enterpriseId: string): Team[] {
    return [...this.teams.values()].filter((t) => t.enterpriseId === enterpriseId);
  }

  /** The active installation whose token acts in `teamId`: the workspace's own, else its organization's. */
  installationFor(teamId: string): Installation | undefined {
    const own = this.installations.get(teamId);
    if (own?.active) return own;
    const enterpriseId = this.teams.get(teamId)?.enterpriseId;
    const org = enterpriseId ? this.installations.get(enterpriseId) : undefined;
    return org?.active ? org : undefined;
  }

  teamIdsOf(installation: Installation): Set<string> {
    if (installation.isEnterpriseInstall && installation.enterpriseId) {
      return new Set(this.teamsOf(installation.enterpriseId).map((t) => t.id));
    }
    return new Set(installation.teamId ? [installation.teamId] : []);
  }

  /**
   * Creates (or extends, on a re-install) the installation for a workspace or an organization.
   * Scopes only grow on a re-install, as in Slack; the bot keeps its user and id.
   */
  install(input: {
    teamId: string | null;
    enterpriseId: string | null;
    isEnterpriseInstall: boolean;
    scopes: string[];
    userScopes: string[];
    installerUserId: string;
    botUserId?: string;
    botId?: string;
  }): { installation: Installation; reinstall: boolean } {
    const key = input.isEnterpriseInstall ? input.enterpriseId : input.teamId;
    if (!key) throw new TypeError('an installation needs a workspace or, org-wide, an organization');
    const previous = this.installations.get(key);
    if (previous?.active) {
      previous.scopes = [...new Set([...previous.scopes, ...input.scopes])].sort();
      previous.userScopes = [...new Set([...previous.userScopes, ...input.userScopes])].sort();
      previous.installerUserId = input.installerUserId;
      return { installation: previous, reinstall: true };
    }
    const installation: Installation = {
      key,
      teamId: input.isEnterpriseInstall ? null : input.teamId,
      enterpriseId: input.enterpriseId,
      isEnterpriseInstall: input.isEnterpriseInstall,
      // Org-wide bots are organization users (`W…`), like every user of a Grid org.
      botUserId:
        input.botUserId ?? previous?.botUserId ?? this.newId(input.enterpriseId !== null ? 'W0BOT' : 'U0BOT'),
      botId: input.botId ?? previous?.botId ?? this.newId('B0'),
      scopes: [...new Set(input.scopes)].sort(),
      userScopes: [...new Set(input.userScopes)].sort(),
      installerUserId: input.installerUserId,
      active: true,
      installedAt: this.#now(),
    };
    this.installations.set(key, installation);
    return { installation, reinstall: false };
  }

  /** Installs the pre-existing app of the default workspace with a given token and every scope. */
  preinstall(input: { teamId: string; token: string; botUserId: string; botId: string }): Installation {
    const team = this.team(input.teamId);
    const { installation } = this.install({
      teamId: team.id,
      enterpriseId: team.enterpriseId ?? null,
      isEnterpriseInstall: false,
      scopes: ALL_METHOD_SCOPES,
      userScopes: [],
      installerUserId: team.admin.id,
      botUserId: input.botUserId,
      botId: input.botId,
    });
    this.tokens.set(input.token, {
      token: input.token,
      tokenType: 'bot',
      installKey: installation.key,
      userId: installation.botUserId,
      scopes: installation.scopes,
      expiresAt: null,
      revoked: false,
    });
    return installation;
  }

  /**
   * Issues a token for an installation. Without rotation a live bot token is reused (Slack hands the
   * same `xoxb` to a re-install); with rotation every issue is a new expiring token plus a refresh token.
   */
  issueToken(
    installation: Installation,
    tokenType: 'bot' | 'user',
    userId: string,
    rotation: { ttlMs: number } | null,
  ): { token: TokenRecord; refreshToken: string | undefined } {
    const scopes = tokenType === 'bot' ? installation.scopes : installation.userScopes;
    if (!rotation) {
      const live = [...this.tokens.values()].find(
        (t) =>
          t.installKey === installation.key &&
          t.tokenType === tokenType &&
          t.userId === userId &&
          !t.revoked &&
          t.expiresAt === null,
      );
      if (live) {
        live.scopes = scopes;
        return { token: live, refreshToken: undefined };
      }
    }
    const kind = tokenType === 'bot' ? 'xoxb' : 'xoxp';
    const value = rotation
      ? `xoxe.${kind}-1-${randomToken('', 36)}`
      : `${kind}-${randomBytes(5).readUIntBE(0, 5)}-${randomBytes(5).readUIntBE(0, 5)}-${randomToken('', 18)}`;
    const token: TokenRecord = {
      token: value,
      tokenType,
      installKey: installation.key,
      userId,
      scopes,
      expiresAt: rotation ? this.#now() + rotation.ttlMs : null,
      revoked: false,
    };
    this.tokens.set(value, token);
    let refreshToken: string | undefined;
    if (rotation) {
      refreshToken = `xoxe-1-${randomToken('', 40)}`;
      this.refreshTokens.set(refreshToken, { installKey: installation.key, tokenType, userId });
    }
    return { token, refreshToken };
  }

  /** Resolves a Web API token, or says why it cannot be used. */
  authenticate(value: string): SlackAuth | AuthFailure {
    const token = this.tokens.get(value);
    if (!token) return 'invalid_auth';
    const installation = this.installations.get(token.installKey);
    if (token.revoked || !installation?.active) return 'token_revoked';
    if (token.expiresAt !== null && this.#now() >= token.expiresAt) return 'token_expired';
    return {
      token,
      installation,
      teamIds: this.teamIdsOf(installation),
      userId: token.userId,
      botId: token.tokenType === 'bot' ? installation.botId : undefined,
    };
  }

  /** Revokes tokens; returns those that were live. */
  revoke(predicate: (token: TokenRecord) => boolean): TokenRecord[] {
    const revoked: TokenRecord[] = [];
    for (const token of this.tokens.values()) {
      if (!token.revoked && predicate(token)) {
        token.revoked = true;
        revoked.push(token);
      }
    }
    for (const [refresh, grant] of this.refreshTokens) {
      if (revoked.some((t) => t.installKey === grant.installKey && t.tokenType === grant.tokenType)) {
        this.refreshTokens.delete(refresh);
      }
    }
    return revoked;
  }

  /** True when an installation has no live token left (Slack then uninstalls the app). */
  hasLiveTokens(installKey: string): boolean {
    return (
      [...this.tokens.values()].some(
        (t) =>
          t.installKey === installKey && !t.revoked && (t.expiresAt === null || t.expiresAt > this.#now()),
      ) || [...this.refreshTokens.values()].some((g) => g.installKey === installKey)
    );
  }

  ref(installation: Installation): InstallationRef {
    return {
      teamId: installation.teamId,
      enterpriseId: installation.enterpriseId,
      isEnterpriseInstall: installation.isEnterpriseInstall,
    };
  }
}
