import type { PgMigration } from '../migrate.ts';

/** ConnectorStateStore's tables: a connector's own state per workspace, and named leases. */
export const connectorStateSchema: PgMigration = {
  version: 5,
  name: 'connector state and named leases',
  sql: `
CREATE TABLE connector_state (
  workspace_id TEXT NOT NULL,
  connector_id TEXT NOT NULL,
  key TEXT NOT NULL,
  value JSONB NOT NULL,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (workspace_id, connector_id, key)
);

CREATE TABLE leases (name TEXT PRIMARY KEY, holder TEXT NOT NULL, until BIGINT NOT NULL);
`,
};
