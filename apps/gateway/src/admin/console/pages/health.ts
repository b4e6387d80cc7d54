import type { DeadJob, Workspace, WorkspaceActivity } from '@wabridge/core';
import type { ConnectorView as ConnectorHealthView } from '../../../connector-health.ts';
import { type Html, html } from '../html.ts';
import { csrfField, formatTime, notice, page } from '../layout.ts';
import type { Viewer } from '../viewer.ts';
import { workspaceHeader, workspaceUrl } from './workspace-nav.ts';

export interface HealthView {
  workspace: Workspace;
  activity: WorkspaceActivity;
  connectors: ConnectorHealthView[];
  dead: DeadJob[];
  done?: string;
}

/** Counts, each connector's last success and error, and dead letters with Replay. */
export function healthPage(viewer: Viewer, view: HealthView): Html {
  const { workspace, activity } = view;
  const canReplay = viewer.can('deadletter.replay', workspace.id);
  const replayUrl = workspaceUrl(workspace.id, '/dead-jobs/replay');
  return page({
    title: `Health · ${workspace.name}`,
    viewer,
    section: 'workspaces',
    workspaceId: workspace.id,
    body: html`${workspaceHeader(viewer, workspace, 'health')}
${notice(view.done)}
<section class="card" aria-labelledby="activity-h">
<h2 id="activity-h">Activity</h2>
<dl class="stats" data-testid="activity">
<div><dt>Conversations</dt><dd data-testid="conversations">${activity.conversations}</dd></div>
<div><dt>Messages received</dt><dd data-testid="inbound">${activity.inbound}</dd></div>
<div><dt>Messages sent</dt><dd data-testid="outbound">${activity.outbound}</dd></div>
<div><dt>Last customer message</dt><dd class="small">${formatTime(activity.lastInboundAt)}</dd></div>
</dl>
</section>
<section class="card" aria-labelledby="connectors-h">
<h2 id="connectors-h">Connectors</h2>
${
  view.connectors.length === 0
    ? html`<p class="muted">Nothing delivered yet.</p>`
    : html`<table><thead><tr><th scope="col">Connector</th><th scope="col">State</th><th scope="col">Last success</th><th scope="col">Last error</th><th scope="col">Retrying</th><th scope="col">Dead</th></tr></thead><tbody>${view.connectors.map(
        (
          c,
        ) => html`<tr data-testid="health-${c.connector}"><td>${c.connector}</td><td><span class="badge ${c.state}">${c.state}</span></td>
<td>${formatTime(c.lastSuccessAt)}</td><td>${c.lastErrorAt ? html`${formatTime(c.lastErrorAt)}<br><span class="muted">${c.lastError}</span>` : '–'}</td>
<td>${c.retrying}</td><td>${c.dead}</td></tr>`,
      )}</tbody></table>`
}
</section>
<section class="card" aria-labelledby="dead-h">
<h2 id="dead-h">Dead letters (${view.dead.length})</h2>
${
  view.dead.length === 0
    ? html`<p class="muted">None: every delivery either worked or is still being retried.</p>`
    : wrapReplay(
        canReplay,
        replayUrl,
        viewer,
        html`<table><thead><tr>${canReplay && html`<th scope="col"><span class="skip-text">Select</span></th>`}<th scope="col">Job</th><th scope="col">Connector</th><th scope="col">Event</th><th scope="col">Attempts</th><th scope="col">Failed</th><th scope="col">Reason</th></tr></thead>
<tbody>${view.dead.map(
          (
            d,
          ) => html`<tr>${canReplay && html`<td><input type="checkbox" name="id" value="${d.id}" aria-label="Select job ${d.id}"></td>`}
<td>${d.id}</td><td>${d.connectorId}</td><td>${d.eventType}</td><td>${d.attempts}</td><td>${formatTime(d.failedAt)}</td><td>${d.reason}</td></tr>`,
        )}</tbody></table>`,
        view.dead.length,
      )
}
</section>`,
  });
}

function wrapReplay(canReplay: boolean, action: string, viewer: Viewer, table: Html, count: number): Html {
  if (!canReplay) return table;
  return html`<form method="post" action="${action}">${csrfField(viewer)}${table}
<div class="row"><button type="submit" name="scope" value="selected">Replay selected</button><button type="submit" name="scope" value="all" class="secondary">Replay all ${count}</button></div></form>`;
}
