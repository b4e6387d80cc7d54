import { ROLE_LABELS, WORKSPACE_ROLES, type Workspace, type WorkspaceRole } from '@wabridge/core';
import { type Html, html } from '../html.ts';
import { csrfField, formatTime, notice, page } from '../layout.ts';
import type { Viewer } from '../viewer.ts';
import { workspaceHeader, workspaceUrl } from './workspace-nav.ts';
import { textField } from './workspaces.ts';

export interface MembersView {
  workspace: Workspace;
  members: { accountId: string; email: string; name: string; role: WorkspaceRole; grantedAt: number }[];
  done?: string | undefined;
  grant?: { email: string; role: string; errors: { email?: string; role?: string } };
}

/** Who holds which role in the workspace; admins grant (by email) and revoke. */
export function membersPage(viewer: Viewer, view: MembersView): Html {
  const { workspace } = view;
  const canChange = viewer.can('access.write', workspace.id);
  const grant = view.grant;
  return page({
    title: `Members · ${workspace.name}`,
    viewer,
    section: 'workspaces',
    workspaceId: workspace.id,
    body: html`${workspaceHeader(viewer, workspace, 'members')}
${notice(view.done)}
<section class="card" aria-labelledby="members-h">
<h2 id="members-h">Members (${view.members.length})</h2>
<p class="muted">Owners may do everything everywhere and are not listed.</p>
${
  view.members.length === 0
    ? html`<p class="muted">Nobody has a role here yet.</p>`
    : html`<table><thead><tr><th scope="col">Email</th><th scope="col">Name</th><th scope="col">Role</th><th scope="col">Since</th>${canChange && html`<th scope="col"><span class="muted">Action</span></th>`}</tr></thead>
<tbody>${view.members.map(
        (m) =>
          html`<tr><td>${m.email}</td><td>${m.name}</td><td>${ROLE_LABELS[m.role]}</td><td>${formatTime(m.grantedAt)}</td>${
            canChange &&
            html`<td><form class="inline" method="post" action="${workspaceUrl(workspace.id, `/members/${encodeURIComponent(m.accountId)}/revoke`)}" data-confirm="Revoke ${m.email}'s role in ${workspace.name}?">${csrfField(viewer)}<button type="submit" class="danger" aria-label="Revoke ${m.email}">Revoke</button></form></td>`
          }</tr>`,
      )}</tbody></table>`
}
</section>
${
  canChange &&
  html`<section class="card" aria-labelledby="grant-h">
<h2 id="grant-h">Give someone a role</h2>
<p class="muted">The account must exist (owners create accounts: <code>wabridge admin create-account</code>). A new role replaces the previous one.</p>
<form method="post" action="${workspaceUrl(workspace.id, '/members')}" novalidate>
${csrfField(viewer)}
<div class="row">
${textField('email', 'Email', grant?.email, grant?.errors.email)}
<div class="field"><label for="f-role">Role</label>
<select id="f-role" name="role"${grant?.errors.role ? html` aria-invalid="true" aria-describedby="f-role-error"` : ''}>${WORKSPACE_ROLES.map(
    (r) => html`<option value="${r}"${grant?.role === r ? html` selected` : ''}>${ROLE_LABELS[r]}</option>`,
  )}</select>${grant?.errors.role && html`<span class="error" id="f-role-error">${grant.errors.role}</span>`}</div>
<button type="submit">Grant role</button>
</div>
</form>
</section>`
}`,
  });
}
