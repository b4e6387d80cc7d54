import type { PgMigration } from '../migrate.ts';

/** RefStore's table: what a connector created for an entity, found by entity or by external id. */
export const refsSchema: PgMigration = {
  version: 4,
  name: 'refs: external refs',
  sql: `
CREATE TABLE external_refs (
  workspace_id TEXT NOT NULL,
  connector_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  entity_id TEXT NOT NULL,
  external_id TEXT NOT NULL,
  data JSONB NOT NULL,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (workspace_id, connector_id, kind, entity_id)
);
CREATE INDEX external_refs_external ON external_refs (workspace_id, connector_id, kind, external_id);
`,
};
