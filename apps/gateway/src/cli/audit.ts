import { type AuditEntry, type AuditQuery, csvLine, listAudit } from '@wabridge/core';
import { str, withArchiveReads } from './admin.ts';
import { out, table } from './output.ts';
import { type CommandInput, UsageError } from './parse.ts';

// `wabridge audit <workspace | --all>`: the audit trail, each entry with the archive record that
// proves it (issue 18, item 8). Pages through the store; JSON is one entry per line.

function time(values: CommandInput['values'], name: string): number | undefined {
  const text = str(values[name]);
  if (text === undefined) return undefined;
  const at = /^\d+$/.test(text) ? Number(text) : Date.parse(text);
  if (Number.isNaN(at)) {
    throw new UsageError(
      `--${name} must be a date (2026-01-31 or 2026-01-31T12:00:00Z) or milliseconds, got "${text}"`,
    );
  }
  return at;
}

const CSV_COLUMNS = ['id', 'at', 'actor', 'action', 'workspace', 'log', 'seq', 'details'];
const csvOf = (e: AuditEntry) =>
  csvLine([
    e.id,
    new Date(e.at).toISOString(),
    e.actor,
    e.action,
    e.workspaceId,
    e.log,
    e.seq,
    JSON.stringify(e.details),
  ]);

export async function auditCommand({ env, values, positionals }: CommandInput): Promise<void> {
  const [workspaceId] = positionals;
  if (values.all && workspaceId) throw new UsageError('give a workspace or --all, not both');
  if (!values.all && !workspaceId) throw new UsageError('give a workspace (or _global), or --all');
  if (values.json && values.csv) throw new UsageError('choose --json or --csv');
  const since = time(values, 'since');
  const until = time(values, 'until');
  const actor = str(values.actor);
  const action = str(values.action);
  const query: AuditQuery = {
    scope: workspaceId ? { workspaceId } : { all: true },
    ...(since === undefined ? {} : { since }),
    ...(until === undefined ? {} : { until }),
    ...(actor ? { actor } : {}),
    ...(action ? { action } : {}),
  };
  await withArchiveReads(env(), async (store) => {
    if (values.csv) process.stdout.write(csvLine(CSV_COLUMNS));
    const rows: Record<string, unknown>[] = [];
    let after: number | null = 0;
    while (after !== null) {
      const page = await listAudit(store, { ...query, after, limit: 1000 });
      for (const e of page.entries) {
        if (values.json) out(JSON.stringify(e));
        else if (values.csv) process.stdout.write(csvOf(e));
        else {
          rows.push({
            id: e.id,
            at: new Date(e.at).toISOString(),
            actor: e.actor,
            action: e.action,
            log: e.log,
            seq: e.seq ?? '-',
            details: JSON.stringify(e.details).slice(0, 80),
          });
        }
      }
      after = page.next;
    }
    if (!values.json && !values.csv) {
      out(table(rows));
      if (rows.length > 0) {
        out(
          '\nEach entry is the archive record <log> <seq>; prove one with: wabridge archive prove <log> --seq <seq>',
        );
      }
    }
  });
}
