import type { WorkspaceRole } from '../../access/roles.ts';
import {
  lockedUntil,
  type ThrottleDecision,
  type ThrottleKey,
  type ThrottlePolicy,
} from '../../access/throttle.ts';
import type {
  AdminAccount,
  AdminAccountRecord,
  AdminGrant,
  AdminSessionRecord,
  ApiToken,
  ApiTokenRecord,
} from '../../access/types.ts';
import { WabridgeError } from '../../errors/index.ts';
import type { AuditEntry, AuditFilter } from '../types.ts';
import { GLOBAL_ARCHIVE_LOG } from './archive.ts';
import { archiveSeqsOf } from './archive-reads.ts';
import type { SqliteDatabase } from './database.ts';

interface AccountRow {
  id: string;
  email: string;
  name: string;
  password_hash: string | null;
  owner: number;
  created_at: number;
  disabled_at: number | null;
}

interface TokenRow {
  id: string;
  token_hash: string;
  name: string;
  workspace_id: string;
  role: string;
  created_by: string;
  created_at: number;
  last_used_at: number | null;
  revoked_at: number | null;
}

const toAccount = (r: AccountRow): AdminAccountRecord => ({
  id: r.id,
  email: r.email,
  name: r.name,
  owner: r.owner === 1,
  createdAt: r.created_at,
  disabledAt: r.disabled_at,
  passwordHash: r.password_hash,
});

const toToken = (r: TokenRow): ApiTokenRecord => ({
  id: r.id,
  tokenHash: r.token_hash,
  name: r.name,
  workspaceId: r.workspace_id,
  role: r.role as WorkspaceRole,
  createdBy: r.created_by,
  createdAt: r.created_at,
  lastUsedAt: r.last_used_at,
  revokedAt: r.revoked_at,
});

const withoutHash = <T extends { passwordHash?: unknown; tokenHash?: unknown }>(record: T) => {
  const { passwordHash: _p, tokenHash: _t, ...rest } = record;
  return rest;
};

/**
 * The SQL of admin access (accounts, grants, sessions, API tokens, login throttle, audit reads) for
 * the SQLite store, kept out of index.ts; SqliteStore's methods of the same names call these.
 * Times come from the caller (the access service's clock), not from the store.
 */
export class SqliteAccess {
  private readonly db: SqliteDatabase;

  constructor(db: SqliteDatabase) {
    this.db = db;
  }

  createAdminAccount(account: AdminAccountRecord): Promise<void> {
    return this.db.write(() => {
      const email = account.email.toLowerCase();
      if (this.db.get('SELECT 1 AS x FROM admin_accounts WHERE email = :email', { email }))
        throw new WabridgeError('conflict', `an account with email ${email} already exists`, { status: 409 });
      this.db.run(
        `INSERT INTO admin_accounts (id, email, name, password_hash, owner, created_at, disabled_at)
         VALUES (:id, :email, :name, :hash, :owner, :at, :disabled)`,
        {
          id: account.id,
          email,
          name: account.name,
          hash: account.passwordHash,
          owner: account.owner ? 1 : 0,
          at: account.createdAt,
          disabled: account.disabledAt,
        },
      );
    });
  }

  async getAdminAccount(id: string): Promise<AdminAccountRecord | null> {
    const row = this.db.get<AccountRow>('SELECT * FROM admin_accounts WHERE id = :id', { id });
    return row ? toAccount(row) : null;
  }

  async findAdminAccountByEmail(email: string): Promise<AdminAccountRecord | null> {
    const row = this.db.get<AccountRow>('SELECT * FROM admin_accounts WHERE email = :email', {
      email: email.toLowerCase(),
    });
    return row ? toAccount(row) : null;
  }

  async listAdminAccounts(): Promise<AdminAccount[]> {
    return this.db
      .all<AccountRow>('SELECT * FROM admin_accounts ORDER BY email')
      .map((r) => withoutHash(toAccount(r)));
  }

  updateAdminAccount(
    id: string,
    patch: { name?: string; passwordHash?: string; owner?: boolean; disabledAt?: number | null },
  ): Promise<void> {
    return this.db.write(() => {
      const row = this.db.get<AccountRow>('SELECT * FROM admin_accounts WHERE id = :id', { id });
      if (!row) throw new WabridgeError('not_found', `account ${id} does not exist`, { status: 404 });
      this.db.run(
        'UPDATE admin_accounts SET name = :name, password_hash = :hash, owner = :owner, disabled_at = :disabled WHERE id = :id',
        {
          id,
          name: patch.name ?? row.name,
          hash: patch.passwordHash ?? row.password_hash,
          owner: patch.owner === undefined ? row.owner : patch.owner ? 1 : 0,
          disabled: patch.disabledAt === undefined ? row.disabled_at : patch.disabledAt,
        },
      );
    });
  }

  setAdminGrant(grant: {
    accountId: string;
    workspaceId: string;
    role: WorkspaceRole | null;
    at: number;
  }): Promise<void> {
    return this.db.write(() => {
      if (grant.role === null) {
        this.db.run('DELETE FROM admin_grants WHERE account_id = :a AND workspace_id = :ws', {
          a: grant.accountId,
          ws: grant.workspaceId,
        });
        return;
      }
      this.db.run(
        `INSERT INTO admin_grants (account_id, workspace_id, role, granted_at) VALUES (:a, :ws, :role, :at)
         ON CONFLICT (account_id, workspace_id) DO UPDATE SET role = excluded.role, granted_at = excluded.granted_at`,
        { a: grant.accountId, ws: grant.workspaceId, role: grant.role, at: grant.at },
      );
    });
  }

  async listAdminGrants(filter: { accountId?: string; workspaceId?: string }): Promise<AdminGrant[]> {
    const rows = this.db.all<{ account_id: string; workspace_id: string; role: string; granted_at: number }>(
      `SELECT * FROM admin_grants
       WHERE (:a IS NULL OR account_id = :a) AND (:ws IS NULL OR workspace_id = :ws)
       ORDER BY workspace_id, account_id`,
      { a: filter.accountId ?? null, ws: filter.workspaceId ?? null },
    );
    return rows.map((r) => ({
      accountId: r.account_id,
      workspaceId: r.workspace_id,
      role: r.role as WorkspaceRole,
      grantedAt: r.granted_at,
    }));
  }

  createAdminSession(session: AdminSessionRecord): Promise<void> {
    return this.db.write(() => {
      this.db.run(
        `INSERT INTO admin_sessions (id_hash, account_id, created_at, last_seen_at, ip, user_agent)
         VALUES (:id, :a, :created, :seen, :ip, :ua)`,
        {
          id: session.idHash,
          a: session.accountId,
          created: session.createdAt,
          seen: session.lastSeenAt,
          ip: session.ip,
          ua: session.userAgent,
        },
      );
    });
  }

  async getAdminSession(idHash: string): Promise<AdminSessionRecord | null> {
    const r = this.db.get<{
      id_hash: string;
      account_id: string;
      created_at: number;
      last_seen_at: number;
      ip: string | null;
      user_agent: string | null;
    }>('SELECT * FROM admin_sessions WHERE id_hash = :id', { id: idHash });
    return r
      ? {
          idHash: r.id_hash,
          accountId: r.account_id,
          createdAt: r.created_at,
          lastSeenAt: r.last_seen_at,
          ip: r.ip,
          userAgent: r.user_agent,
        }
      : null;
  }

  touchAdminSession(idHash: string, lastSeenAt: number): Promise<void> {
    return this.db.write(() => {
      this.db.run('UPDATE admin_sessions SET last_seen_at = :at WHERE id_hash = :id AND last_seen_at < :at', {
        id: idHash,
        at: lastSeenAt,
      });
    });
  }

  deleteAdminSessions(which: { idHash: string } | { accountId: string; except?: string }): Promise<number> {
    return this.db.write(() =>
      'idHash' in which
        ? this.db.run('DELETE FROM admin_sessions WHERE id_hash = :id', { id: which.idHash }).changes
        : this.db.run('DELETE FROM admin_sessions WHERE account_id = :a AND id_hash IS NOT :except', {
            a: which.accountId,
            except: which.except ?? null,
          }).changes,
    );
  }

  createApiToken(token: ApiTokenRecord): Promise<void> {
    return this.db.write(() => {
      this.db.run(
        `INSERT INTO api_tokens (id, token_hash, name, workspace_id, role, created_by, created_at, last_used_at, revoked_at)
         VALUES (:id, :hash, :name, :ws, :role, :by, :at, NULL, NULL)`,
        {
          id: token.id,
          hash: token.tokenHash,
          name: token.name,
          ws: token.workspaceId,
          role: token.role,
          by: token.createdBy,
          at: token.createdAt,
        },
      );
    });
  }

  async getApiTokenByHash(tokenHash: string): Promise<ApiTokenRecord | null> {
    const row = this.db.get<TokenRow>('SELECT * FROM api_tokens WHERE token_hash = :h', { h: tokenHash });
    return row ? toToken(row) : null;
  }

  async listApiTokens(workspaceId: string): Promise<ApiToken[]> {
    return this.db
      .all<TokenRow>('SELECT * FROM api_tokens WHERE workspace_id = :ws ORDER BY created_at, id', {
        ws: workspaceId,
      })
      .map((r) => withoutHash(toToken(r)));
  }

  revokeApiToken(workspaceId: string, id: string, at: number): Promise<boolean> {
    return this.db.write(
      () =>
        this.db.run(
          'UPDATE api_tokens SET revoked_at = :at WHERE id = :id AND workspace_id = :ws AND revoked_at IS NULL',
          { id, ws: workspaceId, at },
        ).changes > 0,
    );
  }

  touchApiToken(id: string, at: number): Promise<void> {
    return this.db.write(() => {
      this.db.run(
        'UPDATE api_tokens SET last_used_at = :at WHERE id = :id AND (last_used_at IS NULL OR last_used_at < :at)',
        { id, at },
      );
    });
  }

  takeLoginAttempt(
    keys: readonly ThrottleKey[],
    at: number,
    policy: ThrottlePolicy,
  ): Promise<ThrottleDecision> {
    return this.db.write((): ThrottleDecision => {
      const rows = keys.map(({ key, free }) => {
        const r = this.db.get<{ failures: number; last_at: number }>(
          'SELECT failures, last_at FROM admin_login_attempts WHERE key = :key',
          { key },
        );
        const row = r ? { failures: r.failures, lastAt: r.last_at } : undefined;
        return { key, row, until: lockedUntil(row, free, at, policy) };
      });
      const until = Math.max(...rows.map((r) => r.until));
      if (until > 0) return { ok: false, retryAfterMs: until - at };
      for (const { key, row } of rows) {
        const failures = row && at - row.lastAt < policy.resetMs ? row.failures + 1 : 1;
        this.db.run(
          `INSERT INTO admin_login_attempts (key, failures, last_at) VALUES (:key, :n, :at)
           ON CONFLICT (key) DO UPDATE SET failures = excluded.failures, last_at = excluded.last_at`,
          { key, n: failures, at },
        );
      }
      return { ok: true };
    });
  }

  clearLoginAttempts(key: string): Promise<void> {
    return this.db.write(() => {
      this.db.run('DELETE FROM admin_login_attempts WHERE key = :key', { key });
    });
  }

  purgeAdminAccess(cutoffs: {
    lastSeenBefore: number;
    createdBefore: number;
    attemptsBefore: number;
  }): Promise<number> {
    return this.db.write(
      () =>
        this.db.run('DELETE FROM admin_sessions WHERE last_seen_at < :seen OR created_at < :created', {
          seen: cutoffs.lastSeenBefore,
          created: cutoffs.createdBefore,
        }).changes +
        this.db.run('DELETE FROM admin_login_attempts WHERE last_at < :before', {
          before: cutoffs.attemptsBefore,
        }).changes,
    );
  }

  async listAudit(filter: AuditFilter): Promise<AuditEntry[]> {
    const oldest = filter.order === 'oldest';
    const action = filter.action ?? null;
    // A prefix: `connector.*` or `connector.`; LIKE's own wildcards in it are literal.
    const prefix =
      action === null
        ? null
        : action.endsWith('*')
          ? action.slice(0, -1)
          : action.endsWith('.')
            ? action
            : null;
    const rows = this.db.all<{
      id: number;
      at: number;
      actor: string;
      action: string;
      workspace_id: string | null;
      details: string;
    }>(
      `SELECT id, at, actor, action, workspace_id, details FROM audit_log
       WHERE (:scoped = 0 OR workspace_id IS :ws)
         AND (:actor IS NULL OR actor = :actor)
         AND (:action IS NULL OR (:prefix IS NULL AND action = :action)
              OR (:prefix IS NOT NULL AND action LIKE :like ESCAPE '\\'))
         AND (:since IS NULL OR at >= :since)
         AND (:until IS NULL OR at < :until)
         AND (:before IS NULL OR id < :before)
         AND (:after IS NULL OR id > :after)
       ORDER BY id ${oldest ? 'ASC' : 'DESC'} LIMIT :limit`,
      {
        scoped: filter.workspaceId === undefined ? 0 : 1,
        ws: filter.workspaceId ?? null,
        actor: filter.actor ?? null,
        action,
        prefix,
        like: prefix === null ? null : `${prefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%`,
        since: filter.since ?? null,
        until: filter.until ?? null,
        before: filter.beforeId ?? null,
        after: filter.afterId ?? null,
        limit: Math.min(Math.max(filter.limit ?? 100, 1), 5000),
      },
    );
    return rows.map((r) => {
      const log = r.workspace_id ?? GLOBAL_ARCHIVE_LOG;
      const entity = `audit:${r.id}`;
      return {
        id: r.id,
        at: r.at,
        actor: r.actor,
        action: r.action,
        workspaceId: r.workspace_id,
        details: JSON.parse(r.details) as Record<string, unknown>,
        log,
        seq: archiveSeqsOf(this.db, log, [entity]).get(entity) ?? null,
      };
    });
  }
}
