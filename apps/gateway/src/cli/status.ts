import type { Store } from '@wabridge/core';
import { type ConnectorView, healthReport } from '../connector-health.ts';
import { out, table } from './output.ts';

/**
 * `wabridge status [--json]`: the queue, then each connector of each workspace with when it last
 * delivered and last failed (and why, with what to do), then what is kept unrouted.
 */
export async function printStatus(store: Store, options: { json: boolean; now?: number }): Promise<void> {
  const report = await healthReport(store);
  if (options.json) {
    out(JSON.stringify(report, null, 2));
    return;
  }
  const now = options.now ?? Date.now();
  const { jobs } = report;
  out(`jobs: ${jobs.ready} ready, ${jobs.running} running, ${jobs.dead} dead`);
  const byConnector = Object.entries(jobs.byConnector);
  if (byConnector.length > 0) out(indent(table(byConnector.map(([connector, s]) => ({ connector, ...s })))));
  out('');
  if (report.connectors.length === 0) {
    out('connectors: none set up (wabridge connector enable <workspace> <connector> --config-file <file>)');
  } else {
    out('connectors:');
    const width = Math.max(...report.connectors.map((c) => `${c.workspace}/${c.connector}`.length));
    for (const view of report.connectors) {
      out(
        `  ${`${view.workspace}/${view.connector}`.padEnd(width)}  ${view.state.padEnd(8)}  ${summary(view, now)}`,
      );
      if (view.lastError && view.state === 'failing') out(`  ${' '.repeat(width)}  ${view.lastError}`);
    }
  }
  if (report.unrouted > 0)
    out(`\n${report.unrouted} unrouted webhook change(s) kept: see wabridge replay --unrouted`);
}

function summary(view: ConnectorView, now: number): string {
  const parts = [
    `last success ${view.lastSuccessAt ? ago(view.lastSuccessAt, now) : 'never'}`,
    ...(view.lastErrorAt ? [`last error ${ago(view.lastErrorAt, now)}`] : []),
    ...(view.retrying > 0 ? [`${view.retrying} retrying`] : []),
    ...(view.dead > 0 ? [`${view.dead} dead (wabridge replay --list --workspace ${view.workspace})`] : []),
  ];
  return parts.join(', ');
}

function ago(iso: string, now: number): string {
  const seconds = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 48 * 3600) return `${Math.round(seconds / 3600)} h ago`;
  return `${Math.round(seconds / 86_400)} days ago`;
}

const indent = (text: string) =>
  text
    .split('\n')
    .map((line) => `  ${line}`)
    .join('\n');
