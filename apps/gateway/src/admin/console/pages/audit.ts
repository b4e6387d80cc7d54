import type { Workspace } from '@wabridge/core';
import { type Html, html } from '../html.ts';
import { CONSOLE_BASE, formatTime, page } from '../layout.ts';
import type { Viewer } from '../viewer.ts';
import { workspaceHeader, workspaceUrl } from './workspace-nav.ts';

export interface AuditRow {
  at: number;
  actor: string;
  action: string;
  /** Where the act came from (an IP address), when known. */
  from?: string | null;
  details: Record<string, unknown>;
}

export interface AuditView {
  /** The workspace whose trail this is; null for the global trail (owners: sign-ins, accounts). */
  workspace: Workspace | null;
  entries: AuditRow[];
  filter: { action?: string; actor?: string };
  /** Set when there are more entries than shown. */
  more: boolean;
}

/**
 * A workspace's audit trail, or the global one (acts on no workspace), newest first, filterable by
 * action and actor (a GET form).
 */
export function auditPage(viewer: Viewer, view: AuditView): Html {
  const { workspace, filter } = view;
  const action = workspace ? workspaceUrl(workspace.id, '/audit') : `${CONSOLE_BASE}/audit`;
  return page({
    title: workspace ? `Audit trail · ${workspace.name}` : 'Global audit trail',
    viewer,
    section: workspace ? 'workspaces' : 'audit',
    ...(workspace ? { workspaceId: workspace.id } : {}),
    body: html`${
      workspace
        ? workspaceHeader(viewer, workspace, 'audit')
        : html`<h1>Global audit trail</h1><p class="muted">Acts on no workspace: sign-ins, accounts and roles, deleted workspaces. Each workspace's own trail is on its Audit trail tab.</p>`
    }
<section class="card" aria-labelledby="filter-h">
<h2 id="filter-h">Filter</h2>
<form method="get" action="${action}" role="search">
<div class="row">
<div class="field"><label for="a-action">Action starts with</label><input type="text" id="a-action" name="action" value="${filter.action ?? ''}" placeholder="connector."></div>
<div class="field"><label for="a-actor">Actor</label><input type="text" id="a-actor" name="actor" value="${filter.actor ?? ''}"></div>
<button type="submit" class="secondary">Filter</button>
</div>
</form>
</section>
<section class="card" aria-labelledby="entries-h">
<h2 id="entries-h">${view.entries.length}${view.more ? '+' : ''} entr${view.entries.length === 1 ? 'y' : 'ies'}</h2>
${
  view.entries.length === 0
    ? html`<p class="muted">Nothing recorded${filter.action || filter.actor ? ' that matches' : ''}.</p>`
    : html`<table><thead><tr><th scope="col">When (UTC)</th><th scope="col">Who</th><th scope="col">What</th><th scope="col">From</th><th scope="col">Details</th></tr></thead>
<tbody data-testid="audit-rows">${view.entries.map(
        (e) =>
          html`<tr><td class="when">${formatTime(e.at)}</td><td>${e.actor}</td><td><code>${e.action}</code></td><td>${e.from ?? '–'}</td><td class="details"><code>${JSON.stringify(e.details)}</code></td></tr>`,
      )}</tbody></table>`
}
</section>`,
  });
}
