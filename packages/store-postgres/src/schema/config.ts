import type { PgMigration } from '../migrate.ts';

/**
 * ConfigStore's tables: workspaces, their numbers and connector settings, Meta apps and per-number
 * credentials, and the config version routing caches compare (`meta`). Translated from the SQLite
 * schema (packages/core/src/store/sqlite/schema.ts) as it stands after all its migrations: times
 * are epoch milliseconds in BIGINT, JSON is JSONB, flags are BOOLEAN.
 */
export const configSchema: PgMigration = {
  version: 1,
  name: 'config: workspaces, numbers, connector settings, Meta apps',
  sql: `
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT INTO meta (key, value) VALUES ('config_version', '0');

CREATE TABLE workspaces (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  policies JSONB NOT NULL,
  created_at BIGINT NOT NULL
);

CREATE TABLE phone_numbers (
  phone_number_id TEXT PRIMARY KEY,
  workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
  display_phone_number TEXT,
  waba_id TEXT
);
CREATE INDEX phone_numbers_workspace ON phone_numbers (workspace_id);

CREATE TABLE connector_settings (
  workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
  connector_id TEXT NOT NULL,
  enabled BOOLEAN NOT NULL,
  -- Comma-wrapped list of event types the connector mirrors (',message.inbound,consent.changed,'),
  -- so fan-out is one INSERT ... SELECT without asking the registry.
  events TEXT NOT NULL,
  config JSONB NOT NULL,
  secrets TEXT,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (workspace_id, connector_id)
);

-- Meta apps besides the environment's default one, and each number's own credentials (issue 20):
-- SecretBox ciphertexts only.
CREATE TABLE whatsapp_apps (
  app_id TEXT PRIMARY KEY,
  name TEXT,
  secrets_enc TEXT NOT NULL,
  verify_token_enc TEXT,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE TABLE whatsapp_number_credentials (
  phone_number_id TEXT PRIMARY KEY,
  workspace_id TEXT NOT NULL,
  app_id TEXT NOT NULL,
  waba_id TEXT NOT NULL,
  access_token_enc TEXT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE INDEX whatsapp_number_credentials_workspace ON whatsapp_number_credentials (workspace_id);
CREATE INDEX whatsapp_number_credentials_app ON whatsapp_number_credentials (app_id);
`,
};
