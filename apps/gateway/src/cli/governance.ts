import {
  type ErasureCertificate,
  type HoldScope,
  type LegalHold,
  RETENTION_KINDS,
  type RetentionRule,
  WabridgeError,
} from '@wabridge/core';
import { withRuntime } from './admin.ts';
import { out, table } from './output.ts';
import { type CommandInput, UsageError } from './parse.ts';

// `wabridge hold`, `wabridge retention` and `wabridge erase` (issue 18, items 4-6).

const DAY_MS = 86_400_000;
const actor = () => `cli:${process.env.USER ?? 'unknown'}`;
const str = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);
const iso = (ms: number) => new Date(ms).toISOString();

/** A date (`2026-03-31`, the whole day) or a time (`2026-03-31T12:00:00Z`) as epoch ms. */
function parseTime(option: string, text: string, end: boolean): number {
  const dateOnly = /^\d{4}-\d{2}-\d{2}$/.test(text);
  const ms = Date.parse(dateOnly ? `${text}T00:00:00Z` : text);
  if (!Number.isFinite(ms) || !/^\d{4}-\d{2}-\d{2}/.test(text))
    throw new UsageError(
      `${option} must be a date (2026-03-31) or an ISO time (2026-03-31T12:00:00Z), not "${text}"`,
    );
  return dateOnly && end ? ms + DAY_MS - 1 : ms;
}

function parseDays(option: string, text: string | undefined): number | null {
  if (text === undefined) return null;
  if (!/^\d+$/.test(text)) throw new UsageError(`${option} must be a whole number of days, not "${text}"`);
  return Number(text);
}

/** The one scope the options name; two, or none, is a usage error. */
function holdScope(values: CommandInput['values']): HoldScope {
  const scopes: HoldScope[] = [];
  const contact = str(values.contact);
  const conversation = str(values.conversation);
  const from = str(values.from);
  const to = str(values.to);
  if (values.workspace === true) scopes.push({ kind: 'workspace' });
  if (contact) scopes.push({ kind: 'contact', contactId: contact });
  if (conversation) scopes.push({ kind: 'conversation', conversationId: conversation });
  if (from || to) {
    if (!from || !to) throw new UsageError('a date range hold needs both --from and --to');
    scopes.push({ kind: 'range', from: parseTime('--from', from, false), to: parseTime('--to', to, true) });
  }
  if (scopes.length !== 1)
    throw new UsageError(
      'name exactly one scope: --contact <number|BSUID>, --conversation <id>, --from <date> --to <date>, or --workspace',
    );
  return scopes[0] as HoldScope;
}

function requireReason(values: CommandInput['values']): string {
  const reason = str(values.reason);
  if (!reason?.trim()) throw new UsageError('--reason is required: say why (it is kept with the record)');
  return reason;
}

function scopeText(scope: HoldScope): string {
  switch (scope.kind) {
    case 'workspace':
      return 'workspace';
    case 'contact':
      return `contact ${scope.contactId}`;
    case 'conversation':
      return `conversation ${scope.conversationId}`;
    case 'range':
      return `${iso(scope.from)} .. ${iso(scope.to)}`;
  }
}

const holdRow = (h: LegalHold) => ({
  id: h.id,
  scope: scopeText(h.scope),
  reason: h.reason,
  set: `${iso(h.createdAt)} by ${h.createdBy}`,
  released: h.released ? `${iso(h.released.at)} by ${h.released.by}: ${h.released.reason}` : 'active',
});

export async function holdAdd({ env, values, positionals }: CommandInput): Promise<void> {
  const [workspaceId = ''] = positionals;
  const scope = holdScope(values);
  const reason = requireReason(values);
  await withRuntime(env(), async ({ store }) => {
    const hold = await store.addHold({ workspaceId, scope, reason, actor: actor() });
    out(`legal hold ${hold.id} set on ${scopeText(hold.scope)} in ${workspaceId}: ${hold.reason}`);
  });
}

export async function holdList({ env, values, positionals }: CommandInput): Promise<void> {
  const [workspaceId = ''] = positionals;
  await withRuntime(env(), async ({ store }) => {
    if (!(await store.getWorkspace(workspaceId)))
      throw new WabridgeError('not_found', `workspace ${workspaceId} does not exist`);
    const holds = await store.listHolds(workspaceId);
    if (values.json) for (const hold of holds) out(JSON.stringify(hold));
    else out(holds.length > 0 ? table(holds.map(holdRow)) : `no legal holds in ${workspaceId}`);
  });
}

export async function holdRelease({ env, values, positionals }: CommandInput): Promise<void> {
  const [workspaceId = '', holdId = ''] = positionals;
  const reason = requireReason(values);
  await withRuntime(env(), async ({ store }) => {
    const hold = await store.releaseHold({ workspaceId, holdId, actor: actor(), reason });
    out(`legal hold ${hold.id} on ${scopeText(hold.scope)} released: ${reason}`);
  });
}

function ruleText(rule: RetentionRule): string {
  const parts: string[] = [];
  if (rule.keepDays !== null) parts.push(`keep ${rule.keepDays} days`);
  if (rule.afterLastMessageDays !== null)
    parts.push(`delete ${rule.afterLastMessageDays} days after the conversation's last message`);
  return parts.join(', then ');
}

export async function retentionSet({ env, values, positionals }: CommandInput): Promise<void> {
  const [workspaceId = '', kind = ''] = positionals;
  const keepDays = parseDays('--keep-days', str(values['keep-days']));
  const afterLastMessageDays = parseDays('--after-last-message-days', str(values['after-last-message-days']));
  if (values.remove === true && (keepDays !== null || afterLastMessageDays !== null))
    throw new UsageError('--remove takes no periods');
  if (values.remove !== true && keepDays === null && afterLastMessageDays === null)
    throw new UsageError('give --keep-days <n>, --after-last-message-days <n> (or both), or --remove');
  await withRuntime(env(), async ({ store }) => {
    const rule = await store.setRetention({
      workspaceId,
      kind,
      keepDays,
      afterLastMessageDays,
      actor: actor(),
    });
    out(
      rule
        ? `${workspaceId} ${kind}: ${ruleText(rule)}`
        : `${workspaceId} ${kind}: no rule (kept until erased)`,
    );
  });
}

export async function retentionShow({ env, values, positionals }: CommandInput): Promise<void> {
  const [workspaceId = ''] = positionals;
  await withRuntime(env(), async ({ store }) => {
    if (!(await store.getWorkspace(workspaceId)))
      throw new WabridgeError('not_found', `workspace ${workspaceId} does not exist`);
    const rules = await store.listRetention(workspaceId);
    if (values.json) {
      out(JSON.stringify(rules));
      return;
    }
    out(
      table(
        RETENTION_KINDS.map((kind) => {
          const rule = rules.find((r) => r.kind === kind);
          return {
            kind,
            rule: rule ? ruleText(rule) : 'none (kept until erased)',
            set: rule ? `${iso(rule.updatedAt)} by ${rule.updatedBy}` : '',
          };
        }),
      ),
    );
  });
}

export async function retentionRun({ env, values, positionals }: CommandInput): Promise<void> {
  const [workspaceId = ''] = positionals;
  const current = env();
  // WABRIDGE_TEST_NOW is refused outside NODE_ENV=test (env.ts): a real run is at the real time.
  const now = current.WABRIDGE_TEST_NOW ? Date.parse(current.WABRIDGE_TEST_NOW) : Date.now();
  const dryRun = values['dry-run'] === true;
  await withRuntime(current, async ({ governance }) => {
    const result = await governance.runRetention({ workspaceId, now, dryRun, actor: actor() });
    if (values.json) {
      out(JSON.stringify(result));
      return;
    }
    if (result.kinds.length === 0) {
      out(`${workspaceId} has no retention rule: nothing to purge (wabridge retention set)`);
      return;
    }
    const verb = dryRun ? 'would purge' : 'purged';
    for (const k of result.kinds)
      out(
        `${k.kind} (${k.rule}): ${verb} ${k.purged}${k.held > 0 ? `, ${k.held} kept under a legal hold` : ''}`,
      );
    if (!dryRun && result.mediaFiles.length > 0) out(`media files deleted: ${result.mediaFiles.length}`);
  });
}

function printCertificate(certificate: ErasureCertificate): void {
  const w = certificate.wabridge;
  if (certificate.outcome === 'restricted') {
    out(
      `erasure ${certificate.id}: RESTRICTED, not deleted (GDPR art. 18): ${certificate.restrictionGround}. ` +
        'The content is kept, hidden from mirrors and reads; the connectors were asked to remove their copies.',
    );
  } else {
    out(
      `erasure ${certificate.id}: deleted ${w.messages} message(s), ${w.statuses} status(es), ${w.notices} notice(s) ` +
        `in ${w.conversations.length} conversation(s); ${w.jobsRemoved} queued job(s) removed; ${w.mediaFiles.length} media file(s) deleted`,
    );
  }
  for (const part of certificate.connectors) {
    out(
      `  ${part.connectorId} ${part.conversationId}: ${part.state}${part.confirmedAt ? ` at ${iso(part.confirmedAt)}` : ''}` +
        `${part.error ? ` (${part.error})` : ''}; ${part.platformIds.length} platform id(s)`,
    );
  }
}

export async function erase({ env, values, positionals }: CommandInput): Promise<void> {
  const [workspaceId = ''] = positionals;
  const contact = str(values.contact);
  const conversation = str(values.conversation);
  if ((contact ? 1 : 0) + (conversation ? 1 : 0) !== 1)
    throw new UsageError('name who to erase: --contact <number|BSUID> or --conversation <id> (one of them)');
  const reason = str(values.reason) ?? 'erasure request (GDPR art. 17)';
  await withRuntime(env(), async ({ governance }) => {
    const certificate = await governance.erase({
      workspaceId,
      subject: contact
        ? { kind: 'contact', identifier: contact }
        : { kind: 'conversation', conversationId: conversation ?? '' },
      actor: actor(),
      reason,
    });
    if (values.json) out(JSON.stringify(certificate));
    else {
      printCertificate(certificate);
      out(`status and certificate: wabridge erase status ${workspaceId} ${certificate.id}`);
    }
  });
}

export async function eraseStatus({ env, values, positionals }: CommandInput): Promise<void> {
  const [workspaceId = '', erasureId = ''] = positionals;
  await withRuntime(env(), async ({ store }) => {
    const certificate = await store.getErasure(workspaceId, erasureId);
    if (!certificate)
      throw new WabridgeError('not_found', `no erasure ${erasureId} in workspace ${workspaceId}`);
    if (values.summary) printCertificate(certificate);
    else out(JSON.stringify(certificate, null, 2));
  });
}
