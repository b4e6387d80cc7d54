import type { PgMigration } from '../migrate.ts';

/**
 * External refs' two lookups each on an index no other lookup can take. Version 4 made the primary
 * key (workspace_id, connector_id, kind, entity_id) and external_refs_external (workspace_id,
 * connector_id, kind, external_id): both begin with the same three columns, which hold a handful of
 * values between them. Until the table has statistics (a new deployment, or any table autovacuum has
 * not analyzed since it grew), the planner prices getRef's four-column lookup the same on either
 * index, and on a tie it keeps the index it considered first, the newer one: getRef then walked
 * every ref of its kind (2,544 buffers a lookup, 3 ms, at 5,000 refs in bench:e2e; two lookups per
 * delivered job) instead of one entry. findRefByExternalId had the mirror risk.
 *
 * Leading with the column each lookup alone names (entity_id, external_id) leaves one index whose
 * first column the lookup's condition matches, whatever the statistics say. The unique constraint
 * covers the same four columns, so ON CONFLICT (workspace_id, connector_id, kind, entity_id) infers
 * it as before; erasure's read (workspace, connector, entity_id = ANY) seeks it by entity_id.
 * Deleting a workspace's refs (no entity named) reads the table; it is rare and deletes anyway.
 */
export const refsLookupsSchema: PgMigration = {
  version: 12,
  name: 'refs: lookups by entity and by external id on indexes of their own',
  sql: `
CREATE UNIQUE INDEX external_refs_entity ON external_refs (entity_id, workspace_id, connector_id, kind);
ALTER TABLE external_refs DROP CONSTRAINT external_refs_pkey,
  ADD CONSTRAINT external_refs_pkey PRIMARY KEY USING INDEX external_refs_entity;
DROP INDEX external_refs_external;
CREATE INDEX external_refs_external ON external_refs (external_id, workspace_id, connector_id, kind);
`,
};
