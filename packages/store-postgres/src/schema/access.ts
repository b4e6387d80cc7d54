import type { PgMigration } from '../migrate.ts';

/**
 * AccessStore's tables (issue 19): admin accounts, their grants per workspace, browser sessions,
 * API tokens, the login throttle; and the audit trail of admin acts. Session ids and tokens are
 * SHA-256 hashes only. No foreign keys to workspaces: grants and tokens are deleted with their
 * workspace by deleteWorkspace, as in SQLite.
 */
export const accessSchema: PgMigration = {
  version: 2,
  name: 'access: admin accounts, grants, sessions, API tokens, audit log',
  sql: `
CREATE TABLE admin_accounts (
  id TEXT PRIMARY KEY,
  email TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL,
  password_hash TEXT,
  owner BOOLEAN NOT NULL DEFAULT FALSE,
  created_at BIGINT NOT NULL,
  disabled_at BIGINT
);
CREATE TABLE admin_grants (
  account_id TEXT NOT NULL,
  workspace_id TEXT NOT NULL,
  role TEXT NOT NULL,
  granted_at BIGINT NOT NULL,
  PRIMARY KEY (account_id, workspace_id)
);
CREATE INDEX admin_grants_workspace ON admin_grants (workspace_id);
CREATE TABLE admin_sessions (
  id_hash TEXT PRIMARY KEY,
  account_id TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  last_seen_at BIGINT NOT NULL,
  ip TEXT,
  user_agent TEXT
);
CREATE INDEX admin_sessions_account ON admin_sessions (account_id);
CREATE TABLE api_tokens (
  id TEXT PRIMARY KEY,
  token_hash TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL,
  workspace_id TEXT NOT NULL,
  role TEXT NOT NULL,
  created_by TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  last_used_at BIGINT,
  revoked_at BIGINT
);
CREATE INDEX api_tokens_workspace ON api_tokens (workspace_id);
CREATE TABLE admin_login_attempts (
  key TEXT PRIMARY KEY,
  failures INTEGER NOT NULL,
  last_at BIGINT NOT NULL
);

CREATE TABLE audit_log (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at BIGINT NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  workspace_id TEXT,
  details JSONB NOT NULL
);
`,
};
