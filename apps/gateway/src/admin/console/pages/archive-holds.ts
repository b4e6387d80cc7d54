import type { HoldScope, LegalHold, RetentionRule, RetentionRunResult, Workspace } from '@wabridge/core';
import { RETENTION_KINDS } from '@wabridge/core';
import { type Html, html } from '../html.ts';
import { csrfField, formatTime, notice, page } from '../layout.ts';
import type { Viewer } from '../viewer.ts';
import { archiveNav } from './archive-nav.ts';
import { workspaceHeader, workspaceUrl } from './workspace-nav.ts';
import { textField } from './workspaces.ts';

type Errors = Record<string, string | undefined>;

export interface HoldsView {
  workspace: Workspace;
  holds: LegalHold[];
  done?: string | undefined;
  /** The add form as posted, with what is wrong. */
  add?: { form: Record<string, string>; errors: Errors };
}

export function scopeText(scope: HoldScope): string {
  switch (scope.kind) {
    case 'workspace':
      return 'the whole workspace';
    case 'contact':
      return `contact ${scope.contactId}`;
    case 'conversation':
      return `conversation ${scope.conversationId}`;
    case 'range':
      return `messages from ${formatTime(scope.from)} to ${formatTime(scope.to)} (UTC)`;
  }
}

/** Legal holds: the list (active and released), a form to place one, and Release. */
export function holdsPage(viewer: Viewer, view: HoldsView): Html {
  const { workspace } = view;
  const canHold = viewer.can('archive.hold', workspace.id);
  const base = workspaceUrl(workspace.id, '/archive/holds');
  const form = view.add?.form ?? {};
  const errors = view.add?.errors ?? {};
  const scope = form.scope ?? 'contact';
  return page({
    title: `Legal holds · ${workspace.name}`,
    viewer,
    section: 'workspaces',
    workspaceId: workspace.id,
    body: html`${workspaceHeader(viewer, workspace, 'archive')}
${archiveNav(viewer, workspace, 'holds')}
${notice(view.done)}${notice(errors.form, 'bad')}
<section class="card" aria-labelledby="holds-h">
<h2 id="holds-h">Legal holds (${view.holds.filter((h) => !h.released).length} active)</h2>
<p class="muted">While a hold is active, retention skips what it covers and an erasure that touches it is refused.</p>
${
  view.holds.length === 0
    ? html`<p class="muted">No legal holds.</p>`
    : html`<table data-testid="holds"><thead><tr><th scope="col">Hold</th><th scope="col">Covers</th><th scope="col">Reason</th><th scope="col">Set</th><th scope="col">State</th></tr></thead>
<tbody>${view.holds.map(
        (h) => html`<tr><td><code>${h.id}</code></td><td>${scopeText(h.scope)}</td><td>${h.reason}</td>
<td class="when">${formatTime(h.createdAt)}<br><span class="muted">${h.createdBy}</span></td>
<td>${
          h.released
            ? html`Released ${formatTime(h.released.at)} by ${h.released.by}: ${h.released.reason}`
            : canHold
              ? html`<span class="badge on">active</span>
<form method="post" action="${base}/${encodeURIComponent(h.id)}/release" data-confirm="Release legal hold ${h.id}?">${csrfField(viewer)}
<div class="field"><label for="r-${h.id}">Why release it</label><input type="text" id="r-${h.id}" name="reason" required></div>
<button type="submit" class="danger">Release</button></form>`
              : html`<span class="badge on">active</span>`
        }</td></tr>`,
      )}</tbody></table>`
}
</section>
${
  canHold &&
  html`<section class="card" aria-labelledby="add-h">
<h2 id="add-h">Place a legal hold</h2>
<form method="post" action="${base}" novalidate>${csrfField(viewer)}
<fieldset><legend>What it covers</legend>
${(
  [
    ['contact', 'A contact (WhatsApp number or BSUID)'],
    ['conversation', 'A conversation'],
    ['range', 'Messages in a date range'],
    ['workspace', 'The whole workspace'],
  ] as const
).map(
  ([value, label]) =>
    html`<div><input type="radio" id="scope-${value}" name="scope" value="${value}"${scope === value ? html` checked` : ''}> <label for="scope-${value}">${label}</label></div>`,
)}
${errors.scope && html`<span class="error" role="alert">${errors.scope}</span>`}
</fieldset>
<div class="row">
${textField('contact', 'Contact', form.contact, errors.contact, '+15550001111 or a BSUID')}
${textField('conversation', 'Conversation id', form.conversation, errors.conversation, 'cv_…')}
</div>
<div class="row">
${textField('from', 'From (UTC day)', form.from, errors.from, undefined, 'date')}
${textField('to', 'To (UTC day, included)', form.to, errors.to, undefined, 'date')}
</div>
${textField('reason', 'Reason', form.reason, errors.reason, 'Kept with the record, e.g. "SEC inquiry 2026-17"')}
<button type="submit">Place the hold</button>
</form>
</section>`
}`,
  });
}

export interface RetentionView {
  workspace: Workspace;
  rules: RetentionRule[];
  /** A dry run's answer, when asked for. */
  dryRun?: RetentionRunResult;
  done?: string | undefined;
  set?: { kind: string; form: Record<string, string>; errors: Errors };
}

/** Retention rules per record kind, Save, a dry run, and Run now. */
export function retentionPage(viewer: Viewer, view: RetentionView): Html {
  const { workspace } = view;
  const canSet = viewer.can('archive.erase', workspace.id);
  const base = workspaceUrl(workspace.id, '/archive/retention');
  return page({
    title: `Retention · ${workspace.name}`,
    viewer,
    section: 'workspaces',
    workspaceId: workspace.id,
    body: html`${workspaceHeader(viewer, workspace, 'archive')}
${archiveNav(viewer, workspace, 'retention')}
${notice(view.done)}${notice(view.set?.errors.form, 'bad')}
<section class="card" aria-labelledby="rules-h">
<h2 id="rules-h">Rules</h2>
<p class="muted"><strong>Keep days</strong> is an obligation: content younger than that is never purged, and erasing it gives a restriction. <strong>Days after the last message</strong> purges a conversation's content once it has been quiet that long. Without a rule, content is kept until erased.</p>
${RETENTION_KINDS.map((kind) => {
  const rule = view.rules.find((r) => r.kind === kind);
  const posted = view.set?.kind === kind ? view.set : undefined;
  const value = (field: 'keepDays' | 'afterLastMessageDays') =>
    posted ? posted.form[field] : rule?.[field] === null || !rule ? '' : String(rule[field]);
  return html`<h3>${kind}</h3>
<p data-testid="rule-${kind}">${rule ? html`${ruleText(rule)} <span class="muted">(set ${formatTime(rule.updatedAt)} by ${rule.updatedBy})</span>` : 'No rule: kept until erased.'}</p>
${
  canSet &&
  html`<form method="post" action="${base}/${kind}" novalidate>${csrfField(viewer)}<div class="row">
${daysField(kind, 'keepDays', 'Keep days', value('keepDays'), posted?.errors.keepDays, 'e.g. 2190 (six years); empty: none')}
${daysField(kind, 'afterLastMessageDays', 'Days after the last message', value('afterLastMessageDays'), posted?.errors.afterLastMessageDays, 'empty: no such limit')}
<button type="submit">Save ${kind} rule</button></div></form>`
}`;
})}
</section>
<section class="card" aria-labelledby="run-h">
<h2 id="run-h">Purge</h2>
<p>A run purges the content of what the rules let go and no legal hold covers; the worker runs it every hour. The dry run changes nothing.</p>
<div class="row"><form method="get" action="${base}"><input type="hidden" name="dry-run" value="1"><button type="submit" class="secondary">Dry run</button></form>
${
  canSet &&
  html`<form method="post" action="${base}/run" data-confirm="Purge now what the rules let go? This cannot be undone.">${csrfField(viewer)}<button type="submit" class="danger">Run now</button></form>`
}</div>
${
  view.dryRun &&
  html`<div class="notice" role="status" data-testid="dry-run">${
    view.dryRun.kinds.length === 0
      ? 'No rule: nothing would be purged.'
      : view.dryRun.kinds.map(
          (k) =>
            html`<p><strong>${k.kind}</strong> (${k.rule}): ${k.purged} would be purged now${k.held > 0 ? html`, ${k.held} kept under a legal hold` : ''}.</p>`,
        )
  }</div>`
}
</section>`,
  });
}

/** A number of days of one kind's form (two kinds on one page: ids carry the kind). */
function daysField(
  kind: string,
  name: string,
  label: string,
  value: string | undefined,
  error: string | undefined,
  hint: string,
): Html {
  const id = `f-${kind}-${name}`;
  return html`<div class="field"><label for="${id}">${label}</label>
<input type="number" min="1" id="${id}" name="${name}" value="${value ?? ''}" aria-describedby="${id}-hint${error ? html` ${id}-error` : ''}"${error ? html` aria-invalid="true"` : ''}>
<span class="hint" id="${id}-hint">${hint}</span>${error && html`<span class="error" id="${id}-error">${error}</span>`}</div>`;
}

export function ruleText(rule: RetentionRule): string {
  const parts: string[] = [];
  if (rule.keepDays !== null) parts.push(`keep ${rule.keepDays} days`);
  if (rule.afterLastMessageDays !== null)
    parts.push(`delete ${rule.afterLastMessageDays} days after the conversation's last message`);
  return parts.join(', then ');
}
