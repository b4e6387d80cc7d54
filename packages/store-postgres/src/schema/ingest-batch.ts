import type { PgMigration } from '../migrate.ts';

/**
 * How `ingest_plain` finds and locks the contacts of a batch: one probe of the unique index per
 * customer (a LATERAL subquery), whatever the planner believes of the tables. Written as one join,
 * on tables without statistics yet (a new schema, until autovacuum's first ANALYZE), the planner
 * scanned the workspace's rows once per customer (docs/performance.md, "Ingest on Postgres").
 * `$1`/`$2`: the customers' workspaces and wa_ids; exported with those placeholders so a test can
 * EXPLAIN the statement the function runs (`FIND_PLAIN_CONTACTS_IN_FUNCTION` is the same text).
 */
export const FIND_PLAIN_CONTACTS_SQL = `SELECT c.workspace_id, c.wa_id, c.id
  FROM unnest($1::text[], $2::text[]) AS w(ws, wa)
  CROSS JOIN LATERAL (SELECT id, workspace_id, wa_id FROM contacts
    WHERE workspace_id = w.ws AND wa_id = w.wa FOR KEY SHARE) c`;

const FIND_PLAIN_CONTACTS_IN_FUNCTION = FIND_PLAIN_CONTACTS_SQL.replace('$1', 'w_ws').replace('$2', 'w_wa');

/**
 * The common webhook's batch stored by one statement (batch-ingest.ts): new inbound messages of
 * customers known by wa_id, with their contacts, conversations and jobs. The process seals the
 * bodies and builds the archive records (keys and hashing stay in TypeScript, as on SQLite); this
 * function does, on the server, what took seven statements (seven round trips, each a socket write
 * and a wake-up of the backend, and the driver's work of encoding the batch's arrays each time):
 *
 * 1. refuses the batch (SQLSTATE WBK01) when a data key it was sealed with is no longer its
 *    workspace's current one (rotated by another process since this one cached it): the caller
 *    forgets the key and stores the batch again, sealed with the new one;
 * 2. leaves out the messages stored already (a duplicate is found before its sender is resolved,
 *    which would write);
 * 3. makes the missing contacts (in (workspace, wa_id) order, so two gateways' batches wait for one
 *    another rather than deadlock), then finds them all, locked FOR KEY SHARE until commit (the
 *    erasure protocol: see contacts.ts, findContact), again while an erasure cleared one meanwhile;
 *    and gives them the batch's latest non-null profile values;
 * 4. makes the conversations missing, or whose display number changed (in key order), keeping the
 *    others as they are (read, not rewritten);
 * 5. inserts the messages (in wamid order) ON CONFLICT DO NOTHING: one another gateway stored
 *    meanwhile is a duplicate;
 * 6. queues a job per stored message and enabled connector mirroring `message.inbound` (in the
 *    batch's order, then by connector), and NOTIFYs the queue's channel once;
 * 7. locks the archive heads of the workspaces it stored messages of, and reads their edges.
 *
 * Each step is a statement of its own, so each sees what the one before it and other transactions
 * committed meanwhile (READ COMMITTED). It answers, per message stored, its place in the arrays
 * (1-based), its conversation and how many jobs it queued; then, per workspace it stored messages
 * of, a row (item NULL) with its archive log's head, locked until COMMIT, and right edge.
 */
export const ingestBatchSchema: PgMigration = {
  version: 13,
  name: 'the common webhook batch stored in one statement',
  sql: `
CREATE FUNCTION ingest_plain(
  p_now BIGINT, p_channel TEXT, p_key_ws TEXT[], p_key_ids TEXT[],
  p_ids TEXT[], p_ws TEXT[], p_wa TEXT[], p_usernames TEXT[], p_profiles TEXT[], p_contact_ids TEXT[],
  p_phones TEXT[], p_displays TEXT[], p_conversation_ids TEXT[],
  p_wamids TEXT[], p_types TEXT[], p_ts BIGINT[], p_contents BYTEA[], p_created BIGINT[],
  p_sort BIGINT[], p_run BIGINT[]
) RETURNS TABLE (item INT, conversation_id TEXT, jobs INT,
  log_id TEXT, log_size BIGINT, log_epoch TEXT, log_append_id TEXT, log_edge BYTEA[])
LANGUAGE plpgsql
-- Every row this function reads or writes is found by a key of its own (a wamid, a customer, a
-- conversation, a connector): index probes, a handful per message. On tables without statistics
-- yet (a new schema, until autovacuum's first ANALYZE) the planner guessed otherwise and scanned
-- a workspace's rows once per customer (docs/performance.md, "Ingest on Postgres"); its plans are
-- cached for the session, so a guess made early would stay.
SET enable_seqscan = off SET enable_hashjoin = off SET enable_mergejoin = off
AS $fn$
-- The answer's columns (item, conversation_id, jobs) share names with the tables': names in
-- statements are the tables' columns.
#variable_conflict use_column
DECLARE
  v_fresh BOOLEAN[];
  w_ws TEXT[];
  w_wa TEXT[];
  v_found INT;
  v_contacts JSONB;
  s_item INT[];
  s_conv TEXT[];
  v_conv_at TEXT[];
  v_target_ws TEXT[];
  v_target_ids TEXT[];
BEGIN
  IF EXISTS (SELECT 1 FROM unnest(p_key_ws, p_key_ids) AS k(ws, id) WHERE NOT EXISTS (
      SELECT 1 FROM data_keys d WHERE d.workspace_id = k.ws AND d.key_id = k.id AND d.retired_at IS NULL)) THEN
    RAISE EXCEPTION 'a data key the batch was sealed with is no longer current' USING ERRCODE = 'WBK01';
  END IF;

  SELECT array_agg(NOT EXISTS (SELECT 1 FROM messages m WHERE m.wamid = t.wamid) ORDER BY t.i)
    INTO v_fresh FROM unnest(p_wamids) WITH ORDINALITY AS t(wamid, i);
  IF v_fresh IS NULL OR NOT (true = ANY(v_fresh)) THEN
    RETURN;
  END IF;

  SELECT array_agg(w.ws ORDER BY w.ws COLLATE "C", w.wa COLLATE "C"),
         array_agg(w.wa ORDER BY w.ws COLLATE "C", w.wa COLLATE "C")
    INTO w_ws, w_wa
    FROM (SELECT DISTINCT t.ws, t.wa FROM unnest(p_ws, p_wa, v_fresh) AS t(ws, wa, fresh) WHERE t.fresh) w;
  FOR attempt IN 1..3 LOOP
    -- Another transaction making the same customer conflicts here and waits for it; the next
    -- statement sees what it committed.
    INSERT INTO contacts (id, workspace_id, wa_id, bsuid, parent_bsuid, username, profile_name, created_at, updated_at)
      SELECT n.id, n.ws, n.wa, NULL, NULL, n.username, n.profile_name, p_now, p_now FROM (
        SELECT t.ws, t.wa, min(t.id) AS id,
          (array_agg(t.username ORDER BY t.i DESC) FILTER (WHERE t.username IS NOT NULL))[1] AS username,
          (array_agg(t.profile_name ORDER BY t.i DESC) FILTER (WHERE t.profile_name IS NOT NULL))[1] AS profile_name
        FROM unnest(p_ws, p_wa, p_contact_ids, p_usernames, p_profiles, v_fresh)
          WITH ORDINALITY AS t(ws, wa, id, username, profile_name, fresh, i)
        WHERE t.fresh AND NOT EXISTS (SELECT 1 FROM contacts c WHERE c.workspace_id = t.ws AND c.wa_id = t.wa)
        GROUP BY t.ws, t.wa) n
      ORDER BY n.ws COLLATE "C", n.wa COLLATE "C"
      ON CONFLICT DO NOTHING;
    -- The contacts by (workspace, wa_id), for the steps below: probing the index again per
    -- message cost more than the rest of the statement that did.
    SELECT count(*), jsonb_object_agg(f.workspace_id || chr(31) || f.wa_id, f.id) INTO v_found, v_contacts
      FROM (${FIND_PLAIN_CONTACTS_IN_FUNCTION}) f;
    EXIT WHEN v_found = cardinality(w_wa);
    -- A contact seen by the insert and cleared by an erasure before the lock: made anew.
    IF attempt = 3 THEN
      RAISE EXCEPTION 'a contact conflicted but cannot be found';
    END IF;
  END LOOP;

  UPDATE contacts c SET username = coalesce(l.username, c.username),
      profile_name = coalesce(l.profile_name, c.profile_name), updated_at = p_now
    FROM (SELECT t.ws, t.wa,
            (array_agg(t.username ORDER BY t.i DESC) FILTER (WHERE t.username IS NOT NULL))[1] AS username,
            (array_agg(t.profile_name ORDER BY t.i DESC) FILTER (WHERE t.profile_name IS NOT NULL))[1] AS profile_name
          FROM unnest(p_ws, p_wa, p_usernames, p_profiles, v_fresh) WITH ORDINALITY AS t(ws, wa, username, profile_name, fresh, i)
          WHERE t.fresh GROUP BY t.ws, t.wa) l
    WHERE c.workspace_id = l.ws AND c.wa_id = l.wa
      AND ((l.username IS NOT NULL AND l.username IS DISTINCT FROM c.username)
        OR (l.profile_name IS NOT NULL AND l.profile_name IS DISTINCT FROM c.profile_name));

  INSERT INTO conversations AS c (id, workspace_id, contact_id, phone_number_id, display_phone_number, created_at)
    SELECT w.id, w.ws, w.contact_id, w.phone, w.display, p_now FROM (
      SELECT t.ws, v_contacts ->> (t.ws || chr(31) || t.wa) AS contact_id, t.phone, min(t.id) AS id,
        (array_agg(t.display ORDER BY t.i DESC) FILTER (WHERE t.display IS NOT NULL))[1] AS display
      FROM unnest(p_ws, p_wa, p_phones, p_displays, p_conversation_ids, v_fresh)
        WITH ORDINALITY AS t(ws, wa, phone, display, id, fresh, i)
      WHERE t.fresh GROUP BY 1, 2, 3) w
    WHERE NOT EXISTS (SELECT 1 FROM conversations x WHERE x.workspace_id = w.ws AND x.contact_id = w.contact_id
      AND x.phone_number_id = w.phone AND (w.display IS NULL OR x.display_phone_number = w.display))
    ORDER BY w.contact_id COLLATE "C", w.phone COLLATE "C"
    ON CONFLICT (workspace_id, contact_id, phone_number_id) DO UPDATE SET
      display_phone_number = coalesce(excluded.display_phone_number, c.display_phone_number);

  WITH items AS (
    SELECT t.*, cv.id AS conversation FROM unnest(p_ids, p_ws, p_wa, p_phones, p_wamids, p_types, p_ts, p_contents,
        p_created, v_fresh) WITH ORDINALITY AS t(id, ws, wa, phone, wamid, type, ts, content, created, fresh, i)
      JOIN conversations cv ON cv.workspace_id = t.ws AND cv.contact_id = v_contacts ->> (t.ws || chr(31) || t.wa)
        AND cv.phone_number_id = t.phone
      WHERE t.fresh),
  stored AS (
    INSERT INTO messages (id, workspace_id, conversation_id, direction, wamid, type, ts, text, content, state,
        sender, relates_to, created_at)
      SELECT id, ws, conversation, 'inbound', wamid, type, ts, NULL, content, NULL, NULL, NULL, created
      FROM items ORDER BY wamid COLLATE "C"
      ON CONFLICT (wamid) DO NOTHING RETURNING id, conversation_id)
  SELECT array_agg(array_position(p_ids, s.id) ORDER BY array_position(p_ids, s.id)),
      array_agg(s.conversation_id ORDER BY array_position(p_ids, s.id)) INTO s_item, s_conv
    FROM stored s;
  IF s_item IS NULL THEN
    RETURN;
  END IF;
  -- Each stored message's conversation at its place in the arrays (NULL for the others), so the
  -- steps below read the arrays side by side, never joined with one another (a nested loop over
  -- two lists is quadratic in the batch).
  v_conv_at := array_fill(NULL::TEXT, ARRAY[cardinality(p_ids)]);
  FOR k IN 1..cardinality(s_item) LOOP
    v_conv_at[s_item[k]] := s_conv[k];
  END LOOP;
  -- The connectors each workspace mirrors inbound messages to, read once for the jobs and counts.
  SELECT array_agg(cs.workspace_id ORDER BY cs.workspace_id, cs.connector_id),
      array_agg(cs.connector_id ORDER BY cs.workspace_id, cs.connector_id) INTO v_target_ws, v_target_ids
    FROM connector_settings cs
    WHERE cs.workspace_id IN (SELECT DISTINCT p_ws[s.i] FROM unnest(s_item) AS s(i))
      AND cs.enabled AND strpos(cs.events, ',message.inbound,') > 0;

  IF v_target_ids IS NOT NULL THEN
    INSERT INTO jobs (workspace_id, connector_id, conversation_id, event_type, entity_id, sort_ts, run_at, created_at)
      SELECT t.ws, g.connector_id, t.conv, 'message.inbound', t.id, t.sort_ts, t.run_at, p_now
      FROM unnest(p_ids, p_ws, p_sort, p_run, v_conv_at) WITH ORDINALITY AS t(id, ws, sort_ts, run_at, conv, i)
        JOIN unnest(v_target_ws, v_target_ids) AS g(ws, connector_id) ON g.ws = t.ws
      WHERE t.conv IS NOT NULL
      ORDER BY t.i, g.connector_id;
    PERFORM pg_notify(p_channel, '');
  END IF;

  RETURN QUERY
    SELECT t.i::INT, t.conv, (SELECT count(*)::INT FROM unnest(v_target_ws) AS g(ws) WHERE g.ws = t.ws),
      NULL::TEXT, NULL::BIGINT, NULL::TEXT, NULL::TEXT, NULL::BYTEA[]
    FROM unnest(p_ws, v_conv_at) WITH ORDINALITY AS t(ws, conv, i)
    WHERE t.conv IS NOT NULL;

  -- The head of each log the batch appends to, locked until COMMIT (made for a new log; in log
  -- order, the order flush appends in), with its right edge (the hashes of coveringNodes(0, size):
  -- at each set bit b of the size, the node (b, (size >> b) - 1)). The process builds the batch's
  -- archive records on it, and its archive_append finds the head where it was built on: with two
  -- gateways appending to one log, a head read before the lock had nearly always moved, and the
  -- append took a second round trip under the lock.
  INSERT INTO archive_log_heads (log_id, size)
    SELECT DISTINCT p_ws[s.i], 0 FROM unnest(s_item) AS s(i) ORDER BY 1
    ON CONFLICT (log_id) DO NOTHING;
  RETURN QUERY
    SELECT NULL::INT, NULL::TEXT, NULL::INT, h.log_id, h.size, h.epoch, h.append_id,
      coalesce((SELECT array_agg(n.hash ORDER BY b.level DESC) FROM generate_series(62, 0, -1) AS b(level)
        JOIN archive_log_nodes n ON n.log_id = h.log_id AND n.level = b.level AND n.idx = (h.size >> b.level) - 1
        WHERE (h.size >> b.level) & 1 = 1), '{}')
    FROM (SELECT log_id, size, epoch, append_id FROM archive_log_heads
          WHERE log_id IN (SELECT p_ws[s.i] FROM unnest(s_item) AS s(i))
          ORDER BY log_id COLLATE "C" FOR UPDATE) h;
END
$fn$;
`,
};
