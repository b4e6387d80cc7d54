import type { PgMigration } from '../migrate.ts';

/**
 * The shared pace ledger (pace-ledger.ts): one row per paced lane (a Slack channel of a team, a
 * HubSpot portal, a business number), read and updated by every worker process on the database.
 * Times are the database's clock in epoch milliseconds (float8, as the in-process ledger's), so
 * the workers' clocks never meet; callers are answered durations.
 *
 * `pace_reserve` is the whole reservation in one statement (the lane's row is locked for it), the
 * same algorithm as core's MemoryPaceLedger: GCRA for a bucket (`tat`, the theoretical arrival
 * time), or the start times still inside the window for the `window` shape. About one lane in a
 * thousand reservations also drops lanes idle for a day (a customer's pair rate, a channel gone).
 *
 * UNLOGGED: a reservation writes no WAL, so its commit waits for no fsync (3.3 ms → a fraction of
 * a millisecond per call here, docs/performance.md). The price is what pacing can pay: after a
 * crash of the database server the lanes start empty (and a standby has none), and the platforms'
 * next 429s set them again.
 */
export const paceLanesSchema: PgMigration = {
  version: 10,
  name: 'shared pace lanes',
  sql: `
CREATE UNLOGGED TABLE pace_lanes (
  lane TEXT PRIMARY KEY,
  tat DOUBLE PRECISION NOT NULL,
  blocked_until DOUBLE PRECISION NOT NULL DEFAULT 0,
  last_sent DOUBLE PRECISION NOT NULL DEFAULT 0,
  starts DOUBLE PRECISION[] NOT NULL DEFAULT '{}',
  touched DOUBLE PRECISION NOT NULL
);
CREATE INDEX pace_lanes_touched ON pace_lanes (touched);

CREATE FUNCTION pace_reserve(
  p_lane TEXT, p_interval DOUBLE PRECISION, p_burst INTEGER, p_window DOUBLE PRECISION,
  p_max_wait DOUBLE PRECISION, OUT granted BOOLEAN, OUT wait_ms DOUBLE PRECISION
) LANGUAGE plpgsql AS $$
DECLARE
  t DOUBLE PRECISION := extract(epoch FROM clock_timestamp()) * 1000;
  l pace_lanes%ROWTYPE;
  kept DOUBLE PRECISION[];
  earliest DOUBLE PRECISION;
BEGIN
  INSERT INTO pace_lanes (lane, tat, touched) VALUES (p_lane, t, t) ON CONFLICT (lane) DO NOTHING;
  SELECT * INTO l FROM pace_lanes WHERE lane = p_lane FOR UPDATE;
  -- Now, once the lane is ours: a caller that queued for the row must not be answered from the
  -- moment it started waiting.
  t := extract(epoch FROM clock_timestamp()) * 1000;
  IF p_window IS NULL THEN
    -- GCRA: a call may start (burst - 1) intervals before the lane's theoretical next slot.
    earliest := greatest(l.tat - (p_burst - 1) * p_interval, t, l.blocked_until);
  ELSE
    -- The (burst + 1)-th call in a window waits for the oldest of the last burst to leave it.
    kept := ARRAY(SELECT s FROM unnest(l.starts) AS s WHERE s + p_window > t ORDER BY s);
    earliest := greatest(t, l.blocked_until, CASE WHEN cardinality(kept) >= p_burst
      THEN kept[cardinality(kept) - p_burst + 1] + p_window ELSE t END);
  END IF;
  wait_ms := earliest - t;
  granted := wait_ms <= p_max_wait;
  IF granted THEN
    IF p_window IS NULL THEN
      UPDATE pace_lanes SET tat = greatest(l.tat, earliest) + p_interval, touched = t WHERE lane = p_lane;
    ELSE
      UPDATE pace_lanes SET starts = kept || earliest, touched = t WHERE lane = p_lane;
    END IF;
  END IF;
  IF random() < 0.001 THEN
    -- SKIP LOCKED: a lane being revived right now is not idle, and waiting for it could deadlock.
    DELETE FROM pace_lanes WHERE lane IN (SELECT lane FROM pace_lanes
      WHERE touched < t - 86400000 AND lane <> p_lane LIMIT 1000 FOR UPDATE SKIP LOCKED);
  END IF;
END $$;
`,
};
