import { WabridgeError } from '../errors/index.ts';
import { newId } from '../ids/index.ts';
import type { AccessStore, ConfigStore, GovernanceStore } from '../store/types.ts';

/** Admin access's part of the store: its own role, plus workspaces to check and the audit trail. */
export type AdminAccessStore = AccessStore &
  Pick<ConfigStore, 'getWorkspace'> &
  Pick<GovernanceStore, 'appendAudit'>;

import { type AuditActor, auditEntry } from './actor.ts';
import {
  DEFAULT_SCRYPT,
  hashPassword,
  passwordProblem,
  type ScryptParams,
  verifyPassword,
} from './password.ts';
import { isWorkspaceRole, type Principal, type WorkspaceRole } from './roles.ts';
import { API_TOKEN_PREFIX, csrfTokenFor, hashSecret, randomSecret } from './secrets.ts';
import { DEFAULT_THROTTLE, type ThrottleKey, type ThrottlePolicy } from './throttle.ts';
import type { AdminAccount, AdminAccountRecord, ApiToken } from './types.ts';

export interface SessionPolicy {
  /** A session unused this long ends (30 minutes). */
  idleMs: number;
  /** A session ends this long after sign-in, used or not (12 hours). */
  absoluteMs: number;
}

export const DEFAULT_SESSION_POLICY: SessionPolicy = { idleMs: 30 * 60_000, absoluteMs: 12 * 60 * 60_000 };

/** Sign-in failures allowed per account and per client IP before waits begin (see throttle.ts). */
export const FREE_ATTEMPTS = { account: 5, ip: 20 } as const;

/** Where a request came from, for sessions, throttling and the audit trail. */
export interface RequestOrigin {
  ip: string | null;
  userAgent: string | null;
}

export interface AccessOptions {
  store: AdminAccessStore;
  now?: () => number;
  scrypt?: ScryptParams;
  throttle?: ThrottlePolicy;
  session?: SessionPolicy;
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
// A session's last use is written at most this often: a page of requests is not a page of writes.
const TOUCH_EVERY_MS = 60_000;

/**
 * Admin accounts, sessions, role grants and API tokens (issue 19). The CLI (`wabridge admin …`),
 * the admin API and the console call these; every change is written to the audit trail.
 * Times come from the injected clock.
 */
export class AdminAccess {
  private readonly store: AdminAccessStore;
  private readonly now: () => number;
  private readonly scrypt: ScryptParams;
  private readonly throttle: ThrottlePolicy;
  readonly session: SessionPolicy;
  /** Verified against when the email is unknown, so that answer takes as long as a wrong password. */
  private decoy: Promise<string> | null = null;

  constructor(options: AccessOptions) {
    this.store = options.store;
    this.now = options.now ?? Date.now;
    this.scrypt = options.scrypt ?? DEFAULT_SCRYPT;
    this.throttle = options.throttle ?? DEFAULT_THROTTLE;
    this.session = options.session ?? DEFAULT_SESSION_POLICY;
  }

  // --- Accounts ---------------------------------------------------------------------------------

  /** Creates an account (an owner with `owner: true`). Fails `conflict` on a taken email. */
  async createAccount(
    actor: AuditActor,
    input: { email: string; name: string; password: string; owner?: boolean },
  ): Promise<AdminAccount> {
    const email = input.email.trim().toLowerCase();
    if (!EMAIL.test(email))
      throw new WabridgeError('bad_request', `"${input.email}" is not an email address`);
    const problem = passwordProblem(input.password);
    if (problem) throw new WabridgeError('bad_request', problem);
    const account: AdminAccountRecord = {
      id: newId('acc', this.now()),
      email,
      name: input.name.trim() || email,
      owner: input.owner ?? false,
      createdAt: this.now(),
      disabledAt: null,
      passwordHash: await hashPassword(input.password, this.scrypt),
    };
    await this.store.createAdminAccount(account);
    await this.store.appendAudit(
      auditEntry(actor, 'account.create', null, { account: account.id, email, owner: account.owner }),
    );
    const { passwordHash: _, ...visible } = account;
    return visible;
  }

  async listAccounts(): Promise<AdminAccount[]> {
    return this.store.listAdminAccounts();
  }

  async getAccount(id: string): Promise<AdminAccount | null> {
    const record = await this.store.getAdminAccount(id);
    if (!record) return null;
    const { passwordHash: _, ...visible } = record;
    return visible;
  }

  /** Grants `role` in a workspace (replacing the previous role), or revokes it with `null`. */
  async setGrant(
    actor: AuditActor,
    grant: { accountId: string; workspaceId: string; role: WorkspaceRole | null },
  ): Promise<{ grantedAt: number }> {
    if (grant.role !== null && !isWorkspaceRole(grant.role))
      throw new WabridgeError('bad_request', `unknown role ${String(grant.role)}`);
    if (!(await this.store.getAdminAccount(grant.accountId)))
      throw new WabridgeError('not_found', `account ${grant.accountId} does not exist`);
    if (!(await this.store.getWorkspace(grant.workspaceId)))
      throw new WabridgeError('not_found', `workspace ${grant.workspaceId} does not exist`);
    const at = this.now();
    await this.store.setAdminGrant({ ...grant, at });
    await this.store.appendAudit(
      auditEntry(actor, grant.role ? 'access.grant' : 'access.revoke', grant.workspaceId, {
        account: grant.accountId,
        role: grant.role,
      }),
    );
    return { grantedAt: at };
  }

  /**
   * Disables or re-enables an account, or makes it an owner or not. Disabling ends its sessions
   * (and its API tokens stop working). The last enabled owner cannot be demoted or disabled.
   */
  async updateAccount(
    actor: AuditActor,
    accountId: string,
    patch: { disabled?: boolean; owner?: boolean; name?: string },
  ): Promise<AdminAccount> {
    const account = await this.store.getAdminAccount(accountId);
    if (!account) throw new WabridgeError('not_found', `account ${accountId} does not exist`);
    const losesOwner =
      account.owner && account.disabledAt === null && (patch.owner === false || patch.disabled === true);
    if (losesOwner) {
      const owners = (await this.store.listAdminAccounts()).filter((a) => a.owner && a.disabledAt === null);
      if (owners.length <= 1)
        throw new WabridgeError('conflict', 'this is the last owner: make another owner first', {
          status: 409,
        });
    }
    await this.store.updateAdminAccount(accountId, {
      ...(patch.name !== undefined ? { name: patch.name } : {}),
      ...(patch.owner !== undefined ? { owner: patch.owner } : {}),
      ...(patch.disabled !== undefined
        ? { disabledAt: patch.disabled ? (account.disabledAt ?? this.now()) : null }
        : {}),
    });
    if (patch.disabled) await this.store.deleteAdminSessions({ accountId });
    await this.store.appendAudit(auditEntry(actor, 'account.update', null, { account: accountId, ...patch }));
    const updated = await this.getAccount(accountId);
    if (!updated) throw new WabridgeError('not_found', `account ${accountId} does not exist`);
    return updated;
  }

  /**
   * Changes an account's own password, given the current one (throttled like a sign-in). Every
   * other session of the account ends: whoever knew the old password is signed out.
   */
  async changePassword(
    actor: AuditActor,
    principal: Principal,
    input: { currentPassword: string; newPassword: string },
    origin: RequestOrigin,
  ): Promise<void> {
    const account = await this.store.getAdminAccount(principal.accountId);
    if (!account?.passwordHash) throw new WabridgeError('not_found', 'this account has no password');
    const key = `account:${account.email}`;
    const decision = await this.store.takeLoginAttempt(
      [
        { key, free: FREE_ATTEMPTS.account },
        ...(origin.ip ? [{ key: `ip:${origin.ip}`, free: FREE_ATTEMPTS.ip }] : []),
      ],
      this.now(),
      this.throttle,
    );
    if (!decision.ok)
      throw new WabridgeError('rate_limited', 'too many failed attempts; wait before trying again', {
        status: 429,
        retryAfterMs: decision.retryAfterMs,
        retryable: true,
      });
    if (!(await verifyPassword(input.currentPassword, account.passwordHash)))
      throw new WabridgeError('forbidden', 'the current password is wrong', { status: 403 });
    await this.store.clearLoginAttempts(key);
    const problem = passwordProblem(input.newPassword);
    if (problem) throw new WabridgeError('bad_request', problem);
    await this.store.updateAdminAccount(account.id, {
      passwordHash: await hashPassword(input.newPassword, this.scrypt),
    });
    await this.store.deleteAdminSessions({
      accountId: account.id,
      ...(principal.sessionIdHash ? { except: principal.sessionIdHash } : {}),
    });
    await this.store.appendAudit(auditEntry(actor, 'account.password', null, { account: account.id }));
  }

  // --- Sessions ---------------------------------------------------------------------------------

  /**
   * Signs in with email and password: a new session (its id is returned once, for the cookie;
   * only its hash is stored). Throttled per account and per IP; unknown email and wrong password
   * answer alike (`unauthorized`), and a throttled attempt `rate_limited` with the wait.
   */
  async signIn(
    input: { email: string; password: string },
    origin: RequestOrigin,
  ): Promise<{ sessionId: string; csrfToken: string; account: AdminAccount }> {
    const email = input.email.trim().toLowerCase();
    const accountKey = `account:${email}`;
    const keys: ThrottleKey[] = [{ key: accountKey, free: FREE_ATTEMPTS.account }];
    if (origin.ip) keys.push({ key: `ip:${origin.ip}`, free: FREE_ATTEMPTS.ip });
    const decision = await this.store.takeLoginAttempt(keys, this.now(), this.throttle);
    if (!decision.ok) {
      await this.store.appendAudit(
        auditEntry({ actor: `login:${email}`, ...origin }, 'session.throttled', null, {
          retryAfterMs: decision.retryAfterMs,
        }),
      );
      throw new WabridgeError('rate_limited', 'too many failed sign-ins; wait before trying again', {
        status: 429,
        retryAfterMs: decision.retryAfterMs,
        retryable: true,
      });
    }
    const record = await this.store.findAdminAccountByEmail(email);
    const stored = record?.passwordHash ?? (await this.decoyHash());
    const matches = await verifyPassword(input.password, stored);
    if (!record?.passwordHash || !matches || record.disabledAt !== null) {
      await this.store.appendAudit(
        auditEntry({ actor: `login:${email}`, ...origin }, 'session.failed', null, {
          known: record !== null,
        }),
      );
      throw new WabridgeError('unauthorized', 'wrong email or password', { status: 401 });
    }
    await this.store.clearLoginAttempts(accountKey);
    return this.openSession(record, origin, 'password');
  }

  /**
   * Signs in the account with this (verified) email after single sign-on: `forbidden` when no
   * account has it or it is disabled. Accounts are never created this way: an owner makes them.
   */
  async signInWithVerifiedEmail(
    email: string,
    origin: RequestOrigin,
    method: string,
  ): Promise<{ sessionId: string; csrfToken: string; account: AdminAccount }> {
    const record = await this.store.findAdminAccountByEmail(email.trim().toLowerCase());
    if (!record || record.disabledAt !== null) {
      await this.store.appendAudit(
        auditEntry({ actor: `login:${email.toLowerCase()}`, ...origin }, 'session.failed', null, {
          known: record !== null,
          method,
        }),
      );
      throw new WabridgeError(
        'forbidden',
        `no enabled account has the email ${email}: an owner creates accounts`,
        {
          status: 403,
        },
      );
    }
    return this.openSession(record, origin, method);
  }

  private async openSession(record: AdminAccountRecord, origin: RequestOrigin, method: string) {
    const sessionId = randomSecret();
    const at = this.now();
    // Housekeeping on the way in: sessions no request can use any more, and stale throttle counts.
    await this.store.purgeAdminAccess({
      lastSeenBefore: at - this.session.idleMs,
      createdBefore: at - this.session.absoluteMs,
      attemptsBefore: at - this.throttle.resetMs,
    });
    await this.store.createAdminSession({
      idHash: hashSecret(sessionId),
      accountId: record.id,
      createdAt: at,
      lastSeenAt: at,
      ip: origin.ip,
      userAgent: origin.userAgent?.slice(0, 300) ?? null,
    });
    await this.store.appendAudit(
      auditEntry({ actor: `account:${record.email}`, ...origin }, 'session.create', null, {
        account: record.id,
        method,
      }),
    );
    const { passwordHash: _, ...account } = record;
    return { sessionId, csrfToken: csrfTokenFor(sessionId), account };
  }

  /** The principal of a session cookie's value, or null (unknown, expired, or account disabled). */
  async resolveSession(sessionId: string): Promise<Principal | null> {
    const idHash = hashSecret(sessionId);
    const session = await this.store.getAdminSession(idHash);
    if (!session) return null;
    const at = this.now();
    if (at - session.lastSeenAt >= this.session.idleMs || at - session.createdAt >= this.session.absoluteMs) {
      await this.store.deleteAdminSessions({ idHash });
      return null;
    }
    const principal = await this.principalOf(session.accountId, 'session');
    if (!principal) return null;
    if (at - session.lastSeenAt >= TOUCH_EVERY_MS) await this.store.touchAdminSession(idHash, at);
    return { ...principal, sessionIdHash: idHash };
  }

  /** Ends one session. */
  async signOut(actor: AuditActor, principal: Principal): Promise<void> {
    if (principal.sessionIdHash) await this.store.deleteAdminSessions({ idHash: principal.sessionIdHash });
    await this.store.appendAudit(auditEntry(actor, 'session.delete', null, { account: principal.accountId }));
  }

  /** Ends every session of an account (`log out everywhere`); returns how many. */
  async signOutEverywhere(actor: AuditActor, accountId: string): Promise<number> {
    const ended = await this.store.deleteAdminSessions({ accountId });
    await this.store.appendAudit(
      auditEntry(actor, 'session.delete_all', null, { account: accountId, sessions: ended }),
    );
    return ended;
  }

  // --- API tokens -------------------------------------------------------------------------------

  /** A new token for one workspace and role; its value is returned once and stored hashed. */
  async createApiToken(
    actor: AuditActor,
    input: { workspaceId: string; role: WorkspaceRole; name: string; createdBy: string },
  ): Promise<{ token: string; record: ApiToken }> {
    if (!isWorkspaceRole(input.role))
      throw new WabridgeError('bad_request', `unknown role ${String(input.role)}`);
    if (!(await this.store.getWorkspace(input.workspaceId)))
      throw new WabridgeError('not_found', `workspace ${input.workspaceId} does not exist`);
    const token = `${API_TOKEN_PREFIX}${randomSecret()}`;
    const record: ApiToken = {
      id: newId('tok', this.now()),
      name: input.name,
      workspaceId: input.workspaceId,
      role: input.role,
      createdBy: input.createdBy,
      createdAt: this.now(),
      lastUsedAt: null,
      revokedAt: null,
    };
    await this.store.createApiToken({ ...record, tokenHash: hashSecret(token) });
    await this.store.appendAudit(
      auditEntry(actor, 'token.create', input.workspaceId, {
        token: record.id,
        name: input.name,
        role: input.role,
      }),
    );
    return { token, record };
  }

  async listApiTokens(workspaceId: string): Promise<ApiToken[]> {
    return this.store.listApiTokens(workspaceId);
  }

  /** Revokes a token of the workspace; `not_found` when it has none of that id (or it is revoked). */
  async revokeApiToken(actor: AuditActor, workspaceId: string, id: string): Promise<void> {
    if (!(await this.store.revokeApiToken(workspaceId, id, this.now())))
      throw new WabridgeError('not_found', `token ${id} does not exist`);
    await this.store.appendAudit(auditEntry(actor, 'token.revoke', workspaceId, { token: id }));
  }

  /** The principal of an `Authorization: Bearer` value, or null (unknown or revoked). */
  async resolveApiToken(token: string): Promise<Principal | null> {
    if (!token.startsWith(API_TOKEN_PREFIX)) return null;
    const record = await this.store.getApiTokenByHash(hashSecret(token));
    if (!record || record.revokedAt !== null) return null;
    const creator = await this.store.getAdminAccount(record.createdBy);
    // A token lives on its creator's access: once the account is disabled, or no longer an owner
    // or the workspace's admin, its tokens stop working.
    if (!creator || creator.disabledAt !== null) return null;
    if (!creator.owner) {
      const grants = await this.store.listAdminGrants({
        accountId: creator.id,
        workspaceId: record.workspaceId,
      });
      if (grants[0]?.role !== 'admin') return null;
    }
    const at = this.now();
    if (record.lastUsedAt === null || at - record.lastUsedAt >= TOUCH_EVERY_MS)
      await this.store.touchApiToken(record.id, at);
    return {
      kind: 'token',
      accountId: record.createdBy,
      actor: `token:${record.id}`,
      owner: false,
      grants: new Map([[record.workspaceId, record.role]]),
      tokenId: record.id,
    };
  }

  // --- Internals --------------------------------------------------------------------------------

  private async principalOf(accountId: string, kind: 'session'): Promise<Principal | null> {
    const account = await this.store.getAdminAccount(accountId);
    if (!account || account.disabledAt !== null) return null;
    const grants = await this.store.listAdminGrants({ accountId });
    return {
      kind,
      accountId,
      actor: `account:${account.email}`,
      owner: account.owner,
      grants: new Map(grants.map((g) => [g.workspaceId, g.role])),
    };
  }

  private decoyHash(): Promise<string> {
    this.decoy ??= hashPassword(randomSecret(), this.scrypt);
    return this.decoy;
  }
}
