import {
  type AccessStore,
  type AdminAccount,
  type AdminAccountRecord,
  type AdminGrant,
  type AdminSessionRecord,
  type ApiToken,
  type ApiTokenRecord,
  lockedUntil,
  type ThrottleDecision,
  type ThrottleKey,
  type ThrottlePolicy,
  WabridgeError,
  type WorkspaceRole,
} from '@wabridge/core';
import { PgConfig } from './config.ts';

interface AccountRow {
  id: string;
  email: string;
  name: string;
  password_hash: string | null;
  owner: boolean;
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

interface SessionRow {
  id_hash: string;
  account_id: string;
  created_at: number;
  last_seen_at: number;
  ip: string | null;
  user_agent: string | null;
}

const toAccount = (r: AccountRow): AdminAccountRecord => ({
  id: r.id,
  email: r.email,
  name: r.name,
  owner: r.owner,
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
 * The advisory lock class of the login throttle (first key of pg_advisory_xact_lock(int, int));
 * the second is the throttle key's hash. See takeLoginAttempt.
 */
const THROTTLE_LOCK_CLASS = 0x7762_7468;

/**
 * Admin access (AccessStore): accounts, grants, sessions, API tokens, the login throttle. Times
 * come from the caller (the access service's clock), not from the store.
 */
export abstract class PgAccess extends PgConfig implements AccessStore {
  async createAdminAccount(account: AdminAccountRecord): Promise<void> {
    const email = account.email.toLowerCase();
    // The unique email decides between two creators: no read before the write.
    const created = await this.db.run(
      `INSERT INTO admin_accounts (id, email, name, password_hash, owner, created_at, disabled_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (email) DO NOTHING`,
      [
        account.id,
        email,
        account.name,
        account.passwordHash,
        account.owner,
        account.createdAt,
        account.disabledAt,
      ],
    );
    if (created === 0) {
      throw new WabridgeError('conflict', `an account with email ${email} already exists`, { status: 409 });
    }
  }

  async getAdminAccount(id: string): Promise<AdminAccountRecord | null> {
    const row = await this.db.get<AccountRow>('SELECT * FROM admin_accounts WHERE id = $1', [id]);
    return row ? toAccount(row) : null;
  }

  async findAdminAccountByEmail(email: string): Promise<AdminAccountRecord | null> {
    const row = await this.db.get<AccountRow>('SELECT * FROM admin_accounts WHERE email = $1', [
      email.toLowerCase(),
    ]);
    return row ? toAccount(row) : null;
  }

  async listAdminAccounts(): Promise<AdminAccount[]> {
    return (await this.db.all<AccountRow>('SELECT * FROM admin_accounts ORDER BY email')).map((r) =>
      withoutHash(toAccount(r)),
    );
  }

  async updateAdminAccount(
    id: string,
    patch: { name?: string; passwordHash?: string; owner?: boolean; disabledAt?: number | null },
  ): Promise<void> {
    // One statement: each field keeps its stored value unless the patch names it, so concurrent
    // patches of different fields both stay (no read-modify-write).
    const updated = await this.db.run(
      `UPDATE admin_accounts SET name = COALESCE($2, name), password_hash = COALESCE($3, password_hash),
         owner = COALESCE($4, owner), disabled_at = CASE WHEN $5 THEN $6::bigint ELSE disabled_at END
       WHERE id = $1`,
      [
        id,
        patch.name ?? null,
        patch.passwordHash ?? null,
        patch.owner ?? null,
        patch.disabledAt !== undefined,
        patch.disabledAt ?? null,
      ],
    );
    if (updated === 0) throw new WabridgeError('not_found', `account ${id} does not exist`, { status: 404 });
  }

  async setAdminGrant(grant: {
    accountId: string;
    workspaceId: string;
    role: WorkspaceRole | null;
    at: number;
  }): Promise<void> {
    if (grant.role === null) {
      await this.db.run('DELETE FROM admin_grants WHERE account_id = $1 AND workspace_id = $2', [
        grant.accountId,
        grant.workspaceId,
      ]);
      return;
    }
    await this.db.run(
      `INSERT INTO admin_grants (account_id, workspace_id, role, granted_at) VALUES ($1, $2, $3, $4)
       ON CONFLICT (account_id, workspace_id) DO UPDATE SET role = excluded.role, granted_at = excluded.granted_at`,
      [grant.accountId, grant.workspaceId, grant.role, grant.at],
    );
  }

  async listAdminGrants(filter: { accountId?: string; workspaceId?: string }): Promise<AdminGrant[]> {
    const rows = await this.db.all<{
      account_id: string;
      workspace_id: string;
      role: string;
      granted_at: number;
    }>(
      `SELECT * FROM admin_grants
       WHERE ($1::text IS NULL OR account_id = $1) AND ($2::text IS NULL OR workspace_id = $2)
       ORDER BY workspace_id, account_id`,
      [filter.accountId ?? null, filter.workspaceId ?? null],
    );
    return rows.map((r) => ({
      accountId: r.account_id,
      workspaceId: r.workspace_id,
      role: r.role as WorkspaceRole,
      grantedAt: r.granted_at,
    }));
  }

  async createAdminSession(session: AdminSessionRecord): Promise<void> {
    await this.db.run(
      `INSERT INTO admin_sessions (id_hash, account_id, created_at, last_seen_at, ip, user_agent)
       VALUES ($1, $2, $3, $4, $5, $6)`,
      [
        session.idHash,
        session.accountId,
        session.createdAt,
        session.lastSeenAt,
        session.ip,
        session.userAgent,
      ],
    );
  }

  async getAdminSession(idHash: string): Promise<AdminSessionRecord | null> {
    const r = await this.db.get<SessionRow>('SELECT * FROM admin_sessions WHERE id_hash = $1', [idHash]);
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

  async touchAdminSession(idHash: string, lastSeenAt: number): Promise<void> {
    await this.db.run(
      'UPDATE admin_sessions SET last_seen_at = $2 WHERE id_hash = $1 AND last_seen_at < $2',
      [idHash, lastSeenAt],
    );
  }

  deleteAdminSessions(which: { idHash: string } | { accountId: string; except?: string }): Promise<number> {
    return 'idHash' in which
      ? this.db.run('DELETE FROM admin_sessions WHERE id_hash = $1', [which.idHash])
      : this.db.run('DELETE FROM admin_sessions WHERE account_id = $1 AND id_hash IS DISTINCT FROM $2', [
          which.accountId,
          which.except ?? null,
        ]);
  }

  async createApiToken(token: ApiTokenRecord): Promise<void> {
    await this.db.run(
      `INSERT INTO api_tokens (id, token_hash, name, workspace_id, role, created_by, created_at, last_used_at, revoked_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, NULL)`,
      [
        token.id,
        token.tokenHash,
        token.name,
        token.workspaceId,
        token.role,
        token.createdBy,
        token.createdAt,
      ],
    );
  }

  async getApiTokenByHash(tokenHash: string): Promise<ApiTokenRecord | null> {
    const row = await this.db.get<TokenRow>('SELECT * FROM api_tokens WHERE token_hash = $1', [tokenHash]);
    return row ? toToken(row) : null;
  }

  async listApiTokens(workspaceId: string): Promise<ApiToken[]> {
    return (
      await this.db.all<TokenRow>(
        'SELECT * FROM api_tokens WHERE workspace_id = $1 ORDER BY created_at, id',
        [workspaceId],
      )
    ).map((r) => withoutHash(toToken(r)));
  }

  async revokeApiToken(workspaceId: string, id: string, at: number): Promise<boolean> {
    return (
      (await this.db.run(
        'UPDATE api_tokens SET revoked_at = $3 WHERE id = $1 AND workspace_id = $2 AND revoked_at IS NULL',
        [id, workspaceId, at],
      )) > 0
    );
  }

  async touchApiToken(id: string, at: number): Promise<void> {
    await this.db.run(
      'UPDATE api_tokens SET last_used_at = $2 WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $2)',
      [id, at],
    );
  }

  /**
   * The keys are locked first (transaction-scoped advisory locks, in sorted order so two attempts
   * never wait on each other crosswise): a row that does not exist yet cannot be locked FOR
   * UPDATE, and without a lock two parallel guesses would both read the same count and write one
   * more, where the throttle must count each (a burst of guesses counts whole).
   */
  takeLoginAttempt(
    keys: readonly ThrottleKey[],
    at: number,
    policy: ThrottlePolicy,
  ): Promise<ThrottleDecision> {
    return this.db.transaction(async (tx): Promise<ThrottleDecision> => {
      const names = [...new Set(keys.map((k) => k.key))].sort();
      for (const key of names) {
        await tx.run('SELECT pg_advisory_xact_lock($1, hashtext($2))', [THROTTLE_LOCK_CLASS, key]);
      }
      const stored = new Map(
        (
          await tx.all<{ key: string; failures: number; last_at: number }>(
            'SELECT key, failures, last_at FROM admin_login_attempts WHERE key = ANY($1::text[])',
            [names],
          )
        ).map((r) => [r.key, { failures: r.failures, lastAt: r.last_at }]),
      );
      const rows = keys.map(({ key, free }) => {
        const row = stored.get(key);
        return { key, row, until: lockedUntil(row, free, at, policy) };
      });
      const until = Math.max(...rows.map((r) => r.until));
      if (until > 0) return { ok: false, retryAfterMs: until - at };
      for (const { key, row } of rows) {
        const failures = row && at - row.lastAt < policy.resetMs ? row.failures + 1 : 1;
        await tx.run(
          `INSERT INTO admin_login_attempts (key, failures, last_at) VALUES ($1, $2, $3)
           ON CONFLICT (key) DO UPDATE SET failures = excluded.failures, last_at = excluded.last_at`,
          [key, failures, at],
        );
      }
      return { ok: true };
    });
  }

  async clearLoginAttempts(key: string): Promise<void> {
    await this.db.run('DELETE FROM admin_login_attempts WHERE key = $1', [key]);
  }

  purgeAdminAccess(cutoffs: {
    lastSeenBefore: number;
    createdBefore: number;
    attemptsBefore: number;
  }): Promise<number> {
    return this.db.transaction(
      async (tx) =>
        (await tx.run('DELETE FROM admin_sessions WHERE last_seen_at < $1 OR created_at < $2', [
          cutoffs.lastSeenBefore,
          cutoffs.createdBefore,
        ])) + (await tx.run('DELETE FROM admin_login_attempts WHERE last_at < $1', [cutoffs.attemptsBefore])),
    );
  }
}
