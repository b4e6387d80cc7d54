import type { HistogramName, MetricName, Metrics, Store } from '@wabridge/core';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

const COUNTERS: Record<MetricName, { help: string; labels: string[] }> = {
  webhooks_received_total: { help: 'WhatsApp webhooks received', labels: ['source'] },
  webhooks_rejected_total: { help: 'Webhooks rejected, by reason', labels: ['source', 'reason'] },
  webhooks_unrouted_total: {
    help: 'Webhook changes for numbers no workspace owns (kept, not routed)',
    labels: [],
  },
  messages_ingested_total: { help: 'New inbound messages stored', labels: [] },
  jobs_queued_total: { help: 'Delivery jobs queued', labels: [] },
  jobs_delivered_total: {
    help: 'Jobs completed, by connector and event type',
    labels: ['connector', 'event'],
  },
  jobs_skipped_total: {
    help: 'Jobs completed without a delivery (superseded status, entity gone, status not shown, connector off)',
    labels: ['connector', 'event', 'reason'],
  },
  jobs_retried_total: {
    help: 'Job attempts that failed and were rescheduled',
    labels: ['connector', 'code'],
  },
  jobs_dead_total: { help: 'Jobs moved to the dead-letter table', labels: ['connector', 'code'] },
  commands_accepted_total: {
    help: 'Commands from connectors, by outcome',
    labels: ['connector', 'type', 'outcome'],
  },
  consent_changes_total: { help: 'Consent ledger entries recorded', labels: [] },
  platform_errors_total: { help: 'Value-level errors reported by WhatsApp', labels: ['code'] },
  platform_events_total: {
    help: 'Platform events kept whole: account and template updates, unknown types and keys (wabridge events)',
    labels: [],
  },
  connector_alerts_total: {
    help: 'Conditions an operator must act on (daily quota spent, re-consent needed, channel limit)',
    labels: ['connector', 'kind'],
  },
  worker_wakeups_total: {
    help: 'Idle worker wake-ups, by reason (timer: the poll; notified: new jobs; slots: jobs finished)',
    labels: ['reason'],
  },
  worker_parked_total: {
    help: 'Deliveries that waited for their pace lane outside their worker slot (paced waits hold no slot)',
    labels: ['connector'],
  },
};

const HISTOGRAMS: Record<HistogramName, { help: string; labels: string[]; buckets: number[] }> = {
  delivery_latency_seconds: {
    help: 'Time from queueing to successful delivery',
    labels: ['connector'],
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800],
  },
  job_run_seconds: {
    help: 'Time spent running one job attempt',
    labels: ['connector'],
    buckets: [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
  },
};

/** prom-client metrics, named `wabridge_*`, plus queue depth gauges read from the store on scrape. */
export function createMetrics(store: () => Store | null): Metrics & { registry: Registry } {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'wabridge_' });
  const counters = new Map<string, Counter<string>>();
  for (const [name, def] of Object.entries(COUNTERS)) {
    counters.set(
      name,
      new Counter({
        name: `wabridge_${name}`,
        help: def.help,
        labelNames: def.labels,
        registers: [registry],
      }),
    );
  }
  const histograms = new Map<string, Histogram<string>>();
  for (const [name, def] of Object.entries(HISTOGRAMS)) {
    histograms.set(
      name,
      new Histogram({
        name: `wabridge_${name}`,
        help: def.help,
        labelNames: def.labels,
        buckets: def.buckets,
        registers: [registry],
      }),
    );
  }
  new Gauge({
    name: 'wabridge_jobs',
    help: 'Jobs by connector and state (ready, running, dead)',
    labelNames: ['connector', 'state'],
    registers: [registry],
    async collect() {
      const current = store();
      if (!current) return;
      this.reset();
      const stats = await current.jobStats();
      for (const [connector, counts] of Object.entries(stats.byConnector)) {
        for (const state of ['ready', 'running', 'dead'] as const)
          this.set({ connector, state }, counts[state]);
      }
    },
  });
  new Gauge({
    name: 'wabridge_jobs_coalesced',
    help: 'Status jobs dropped before they ran because a newer status of the same message was queued (since the store was created)',
    labelNames: ['connector'],
    registers: [registry],
    async collect() {
      const current = store();
      if (!current) return;
      this.reset();
      const stats = await current.jobStats();
      for (const [connector, counts] of Object.entries(stats.byConnector))
        this.set({ connector }, counts.coalesced);
    },
  });
  return {
    registry,
    increment(name, labels, value = 1) {
      if (value === 0) return;
      const counter = counters.get(name);
      const known = declared(labels, COUNTERS[name]?.labels);
      if (known) counter?.inc(known, value);
      else counter?.inc(value);
    },
    observe(name, value, labels) {
      const histogram = histograms.get(name);
      const known = declared(labels, HISTOGRAMS[name]?.labels);
      if (known) histogram?.observe(known, value);
      else histogram?.observe(value);
    },
  };
}

/**
 * prom-client throws on a label a metric did not declare; a metric call must never break a
 * delivery, so undeclared labels are dropped.
 */
function declared(
  labels: Record<string, string> | undefined,
  names: string[] | undefined,
): Record<string, string> | undefined {
  if (!labels || !names || names.length === 0) return undefined;
  const kept = Object.fromEntries(Object.entries(labels).filter(([key]) => names.includes(key)));
  return Object.keys(kept).length > 0 ? kept : undefined;
}
