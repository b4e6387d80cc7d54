/**
 * The scripted demo's verdict: for each system, what it should have received (in order, once each)
 * against what its emulator actually holds. Pure functions, so the checks themselves are tested.
 */

/** One thing a system holds, in the system's own order (a post, a timeline entry, a reaction…). */
export interface Received {
  /** How the summary names it, e.g. `bot: "Hi Ada, did your order…"`. */
  text: string;
}

/** One thing a system should hold; `match` recognises it among the received items. */
export interface Expected<R extends Received = Received> {
  label: string;
  match(item: R): boolean;
}

export interface ItemResult {
  label: string;
  /** How many received items match (1 is right; 0 is missing; more is duplicated). */
  count: number;
  /** Position of the first match in the received list, or -1. */
  at: number;
}

export interface TargetReport {
  target: string;
  items: ItemResult[];
  /** Received items that match nothing expected. */
  unexpected: string[];
  /** The expected items found appear in the expected order. */
  inOrder: boolean;
  missing: number;
  duplicated: number;
  ok: boolean;
}

export interface Check {
  label: string;
  ok: boolean;
  detail?: string;
}

export interface DemoReport {
  targets: TargetReport[];
  /** Other facts the scenario asserts (no send refused by WhatsApp, no dead job, consent state…). */
  checks: Check[];
  durationMs: number;
  ok: boolean;
}

/** Compares what a system received with what it should have received. */
export function checkTarget<R extends Received>(
  target: string,
  expected: readonly Expected<R>[],
  received: readonly R[],
  options: { ignore?: (item: R) => boolean } = {},
): TargetReport {
  const matched = new Set<number>();
  const items = expected.map((e) => {
    const positions: number[] = [];
    received.forEach((item, i) => {
      if (e.match(item)) {
        positions.push(i);
        matched.add(i);
      }
    });
    return { label: e.label, count: positions.length, at: positions[0] ?? -1 };
  });
  const found = items.filter((i) => i.at >= 0).map((i) => i.at);
  const inOrder = found.every((at, i) => i === 0 || at > (found[i - 1] ?? -1));
  const unexpected = received
    .filter((item, i) => !matched.has(i) && !(options.ignore?.(item) ?? false))
    .map((item) => item.text);
  const missing = items.filter((i) => i.count === 0).length;
  const duplicated = items.filter((i) => i.count > 1).length;
  return {
    target,
    items,
    unexpected,
    inOrder,
    missing,
    duplicated,
    ok: missing === 0 && duplicated === 0 && unexpected.length === 0 && inOrder,
  };
}

export function buildReport(targets: TargetReport[], checks: Check[], durationMs: number): DemoReport {
  return {
    targets,
    checks,
    durationMs,
    ok: targets.every((t) => t.ok) && checks.every((c) => c.ok),
  };
}

const pad = (text: string, width: number) => text.padEnd(width);

/** The summary printed at the end of `wabridge demo --script`. */
export function formatReport(report: DemoReport): string {
  const lines: string[] = ['', 'What each system received'];
  const header = ['target', 'expected', 'received', 'missing', 'duplicated', 'unexpected', 'in order'];
  const rows = report.targets.map((t) => [
    t.target,
    String(t.items.length),
    String(t.items.filter((i) => i.count > 0).length),
    String(t.missing),
    String(t.duplicated),
    String(t.unexpected.length),
    t.inOrder ? 'yes' : 'NO',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => `  ${cells.map((c, i) => pad(c, widths[i] ?? 0)).join('  ')}`.trimEnd();
  lines.push('', line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line));
  for (const t of report.targets) {
    lines.push('', `${t.target} ${t.ok ? '✔' : '✘'}`);
    for (const [n, item] of t.items.entries()) {
      const mark = item.count === 1 ? '✔' : item.count === 0 ? '✘ missing' : `✘ ×${item.count}`;
      lines.push(`  ${String(n + 1).padStart(2)}. ${mark === '✔' ? '✔' : mark}  ${item.label}`);
    }
    if (!t.inOrder) lines.push('  ✘ not in the expected order');
    for (const text of t.unexpected) lines.push(`   ?  unexpected: ${text}`);
  }
  if (report.checks.length > 0) {
    lines.push('', 'Checks');
    for (const c of report.checks)
      lines.push(`  ${c.ok ? '✔' : '✘'} ${c.label}${c.detail ? ` — ${c.detail}` : ''}`);
  }
  lines.push(
    '',
    report.ok
      ? `All good: every message reached every system once, in order (${(report.durationMs / 1000).toFixed(1)} s).`
      : `Something is missing, duplicated or out of order (see ✘ above).`,
  );
  return lines.join('\n');
}
