import type { ErasureCertificate, Workspace } from '@wabridge/core';
import { type Html, html } from '../html.ts';
import { csrfField, formatTime, notice, page } from '../layout.ts';
import type { Viewer } from '../viewer.ts';
import { archiveNav } from './archive-nav.ts';
import { workspaceHeader, workspaceUrl } from './workspace-nav.ts';
import { textField } from './workspaces.ts';

type Errors = Record<string, string | undefined>;

export interface ErasuresView {
  workspace: Workspace;
  erasures: {
    id: string;
    outcome: string;
    requestedBy: string;
    requestedAt: number;
    reason: string;
    conversations: number;
  }[];
  erase?: { form: Record<string, string>; errors: Errors };
}

/** Past erasures (each links to its certificate) and the erasure form, with its warning. */
export function erasuresPage(viewer: Viewer, view: ErasuresView): Html {
  const { workspace } = view;
  const canErase = viewer.can('archive.erase', workspace.id);
  const base = workspaceUrl(workspace.id, '/archive/erasures');
  const form = view.erase?.form ?? {};
  const errors = view.erase?.errors ?? {};
  return page({
    title: `Erasure · ${workspace.name}`,
    viewer,
    section: 'workspaces',
    workspaceId: workspace.id,
    body: html`${workspaceHeader(viewer, workspace, 'archive')}
${archiveNav(viewer, workspace, 'erasure')}
${notice(errors.form, 'bad')}
${
  canErase &&
  html`<section class="card" aria-labelledby="erase-h">
<h2 id="erase-h">Erase a person's data (GDPR art. 17)</h2>
<div class="notice bad" id="erase-warning"><strong>This cannot be undone.</strong> The content of every message, status and notice of the contact's conversations (or of the one conversation) is deleted, with its media files; the contact's number and names are cleared; Slack, Teams and HubSpot are told to remove their copies. If a retention rule still obliges keeping the content, it is <strong>restricted</strong> instead (kept, shown nowhere). A legal hold refuses the erasure. Check the requester's identity first.</div>
<form method="post" action="${base}" novalidate aria-describedby="erase-warning">${csrfField(viewer)}
<div class="row">
${textField('contact', 'Contact (WhatsApp number or BSUID)', form.contact, errors.contact, 'or give a conversation instead')}
${textField('conversation', 'Conversation id', form.conversation, errors.conversation, 'cv_…')}
</div>
${textField('reason', 'Reason', form.reason, errors.reason, 'e.g. "request #12": kept in the certificate')}
<div class="field check"><input type="checkbox" id="f-confirm" name="confirm" value="yes"${errors.confirm ? html` aria-invalid="true" aria-describedby="f-confirm-error"` : ''}> <label for="f-confirm">I have checked the request and understand that this cannot be undone</label>
${errors.confirm && html`<span class="error" id="f-confirm-error">${errors.confirm}</span>`}</div>
<button type="submit" class="danger">Erase</button>
</form>
</section>`
}
<section class="card" aria-labelledby="erasures-h">
<h2 id="erasures-h">Erasures (${view.erasures.length})</h2>
${
  view.erasures.length === 0
    ? html`<p class="muted">No erasures yet.</p>`
    : html`<table data-testid="erasures"><thead><tr><th scope="col">Erasure</th><th scope="col">Outcome</th><th scope="col">Conversations</th><th scope="col">Reason</th><th scope="col">Requested</th></tr></thead>
<tbody>${view.erasures.map(
        (
          e,
        ) => html`<tr><td><a href="${base}/${encodeURIComponent(e.id)}"><code>${e.id}</code></a></td><td>${e.outcome}</td><td>${e.conversations}</td><td>${e.reason}</td>
<td class="when">${formatTime(e.requestedAt)}<br><span class="muted">${e.requestedBy}</span></td></tr>`,
      )}</tbody></table>`
}
</section>`,
  });
}

/** An erasure's certificate: what was removed where, and each connector's confirmation. */
export function certificatePage(
  viewer: Viewer,
  view: { workspace: Workspace; certificate: ErasureCertificate; done?: string | undefined },
): Html {
  const { workspace, certificate: c } = view;
  const w = c.wabridge;
  return page({
    title: `Erasure ${c.id} · ${workspace.name}`,
    viewer,
    section: 'workspaces',
    workspaceId: workspace.id,
    body: html`${workspaceHeader(viewer, workspace, 'archive')}
${archiveNav(viewer, workspace, 'erasure')}
${notice(view.done)}
<section class="card" aria-labelledby="cert-h" data-testid="certificate">
<h2 id="cert-h">Certificate <code>${c.id}</code></h2>
${
  c.outcome === 'restricted'
    ? html`<div class="notice bad" role="status"><strong>Restricted, not deleted (GDPR art. 18):</strong> ${c.restrictionGround}. The content is kept, hidden from mirrors and reads; the connectors were asked to remove their copies.</div>`
    : html`<p><strong>Erased.</strong></p>`
}
<dl class="stats">
<div><dt>Conversations</dt><dd>${w.conversations.length}</dd></div>
<div><dt>Messages</dt><dd>${w.messages}</dd></div>
<div><dt>Statuses</dt><dd>${w.statuses}</dd></div>
<div><dt>Notices</dt><dd>${w.notices}</dd></div>
<div><dt>Queued jobs removed</dt><dd>${w.jobsRemoved}</dd></div>
<div><dt>Media files deleted</dt><dd>${w.mediaFiles.length}</dd></div>
</dl>
<p>Contact <code>${c.subject.contactId}</code>; identifiers cleared: ${w.contactIdentifiersCleared ? 'yes' : 'no'}. Requested ${formatTime(c.requestedAt)} by ${c.requestedBy}: ${c.reason}</p>
<h3>Connectors</h3>
${
  c.connectors.length === 0
    ? html`<p class="muted">No connector mirrored these conversations.</p>`
    : html`<table><thead><tr><th scope="col">Connector</th><th scope="col">Conversation</th><th scope="col">State</th><th scope="col">Platform copies</th></tr></thead>
<tbody>${c.connectors.map(
        (p) => html`<tr><td>${p.connectorId}</td><td><code>${p.conversationId}</code></td>
<td>${p.state}${p.confirmedAt ? html` ${formatTime(p.confirmedAt)}` : ''}${p.error ? html`<br><span class="muted">${p.error}</span>` : ''}</td>
<td>${p.platformIds.length}</td></tr>`,
      )}</tbody></table>`
}
<p class="muted">Replay a dead connector job from the Health page (workspace admins). The certificate is part of the archive log.</p>
</section>`,
  });
}

/** Download one contact's export (ZIP with proofs). */
export function exportPage(
  viewer: Viewer,
  view: { workspace: Workspace; contact?: string; error?: string | undefined },
): Html {
  const { workspace } = view;
  return page({
    title: `Export · ${workspace.name}`,
    viewer,
    section: 'workspaces',
    workspaceId: workspace.id,
    body: html`${workspaceHeader(viewer, workspace, 'archive')}
${archiveNav(viewer, workspace, 'export')}
<section class="card" aria-labelledby="export-h">
<h2 id="export-h">Export a person's data (GDPR art. 15 and 20)</h2>
<p>A ZIP with the contact's conversations as JSON and readable transcripts, their media, and each archive record with its proof (<code>wabridge archive verify --export</code> checks it). The export is recorded in the audit trail. It holds personal data: deliver it securely.</p>
<form method="post" action="${workspaceUrl(workspace.id, '/archive/export')}" novalidate>${csrfField(viewer)}
${textField('contact', 'Contact (WhatsApp number or BSUID)', view.contact, view.error)}
<button type="submit">Download the export</button>
</form>
</section>`,
  });
}
