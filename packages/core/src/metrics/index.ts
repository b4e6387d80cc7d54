/**
 * The metrics core reports. The gateway implements it with prom-client; core stays free of it.
 * Names follow Prometheus conventions; label values must stay low-cardinality (no ids).
 */
export interface Metrics {
  increment(name: MetricName, labels?: Record<string, string>, value?: number): void;
  observe(name: HistogramName, value: number, labels?: Record<string, string>): void;
}

export type MetricName =
  | 'webhooks_received_total'
  | 'webhooks_rejected_total'
  | 'webhooks_unrouted_total'
  | 'messages_ingested_total'
  | 'jobs_queued_total'
  | 'jobs_delivered_total'
  /**
   * Jobs completed without a delivery (labels `connector`, `event`, `reason`): `superseded` (a
   * newer status of the message is queued, or the entity is gone), `not_shown` (a status the
   * connector does not show, see `ConnectorCapabilities.statuses`), `disabled` (connector off).
   */
  | 'jobs_skipped_total'
  | 'jobs_retried_total'
  | 'jobs_dead_total'
  | 'commands_accepted_total'
  | 'consent_changes_total'
  | 'platform_errors_total'
  /** Platform events kept (account and template updates, unknown types and keys): `wabridge events`. */
  | 'platform_events_total'
  /** Something an operator must know about a connector: labels `connector`, `kind` (e.g. `daily_quota`). */
  | 'connector_alerts_total'
  /** An idle worker woke up: label `reason` (`timer`, `slots`, `notified`, `stop`). */
  | 'worker_wakeups_total'
  /** A delivery stepped out of its worker slot to wait for its pace lane (label `connector`). */
  | 'worker_parked_total';

export type HistogramName = 'delivery_latency_seconds' | 'job_run_seconds';

export const noopMetrics: Metrics = { increment: () => {}, observe: () => {} };

/** Counts in memory; handy in tests. */
export function memoryMetrics(): Metrics & { counters: Map<string, number> } {
  const counters = new Map<string, number>();
  const key = (name: string, labels?: Record<string, string>): string =>
    labels ? `${name}${JSON.stringify(Object.entries(labels).sort())}` : name;
  return {
    counters,
    increment(name, labels, value = 1) {
      counters.set(name, (counters.get(name) ?? 0) + value);
      if (labels) counters.set(key(name, labels), (counters.get(key(name, labels)) ?? 0) + value);
    },
    observe() {},
  };
}
