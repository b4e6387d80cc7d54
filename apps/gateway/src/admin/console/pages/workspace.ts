import type { PhoneNumber, Workspace } from '@wabridge/core';
import { type Html, html } from '../html.ts';
import { csrfField, notice, page } from '../layout.ts';
import type { Viewer } from '../viewer.ts';
import { workspaceHeader, workspaceUrl } from './workspace-nav.ts';
import { textField } from './workspaces.ts';

export interface WorkspaceView {
  workspace: Workspace;
  numbers: PhoneNumber[];
  connectors: { id: string; displayName: string; enabled: boolean | null; state: string }[];
  done?: string;
  addNumber?: {
    phoneNumberId: string;
    displayPhoneNumber: string;
    errors: { phoneNumberId?: string; form?: string };
  };
}

/** A workspace's numbers (add, remove) and its connectors (each links to its settings). */
export function workspacePage(viewer: Viewer, view: WorkspaceView): Html {
  const { workspace } = view;
  const canChange = viewer.can('number.write', workspace.id);
  const canConfigure = viewer.can('connector.write', workspace.id);
  const add = view.addNumber;
  return page({
    title: workspace.name,
    viewer,
    section: 'workspaces',
    workspaceId: workspace.id,
    body: html`${workspaceHeader(viewer, workspace, 'overview')}
${notice(view.done)}
<div class="grid">
${!viewer.can('number.read', workspace.id) && !viewer.can('connector.read', workspace.id) && html`<p class="muted">Your role does not show numbers or connectors; see the other tabs.</p>`}
${
  viewer.can('number.read', workspace.id) &&
  html`<section class="card" aria-labelledby="numbers-h">
<h2 id="numbers-h">WhatsApp numbers</h2>
${
  view.numbers.length === 0
    ? html`<p class="muted">No number yet: messages to a number no workspace owns are kept until one claims it.</p>`
    : html`<table><thead><tr><th scope="col">Phone number id</th><th scope="col">Number</th>${canChange && html`<th scope="col"><span class="muted">Action</span></th>`}</tr></thead>
<tbody>${view.numbers.map(
        (n) =>
          html`<tr><td><code>${n.phoneNumberId}</code></td><td>${n.displayPhoneNumber ?? '–'}</td>${
            canChange &&
            html`<td><form class="inline" method="post" action="${workspaceUrl(workspace.id, `/numbers/${encodeURIComponent(n.phoneNumberId)}/remove`)}" data-confirm="Remove ${n.phoneNumberId} from ${workspace.name}? Messages to it are then kept unrouted until a workspace claims it.">${csrfField(viewer)}<button type="submit" class="danger" aria-label="Remove number ${n.phoneNumberId}">Remove</button></form></td>`
          }</tr>`,
      )}</tbody></table>`
}
${
  canChange &&
  html`<h3>Add a number</h3>
${notice(add?.errors.form, 'bad')}
<form method="post" action="${workspaceUrl(workspace.id, '/numbers')}" novalidate>
${csrfField(viewer)}
${textField('phoneNumberId', 'Phone number id', add?.phoneNumberId, add?.errors.phoneNumberId, "Meta's phone_number_id (digits), not the phone number")}
${textField('displayPhoneNumber', 'Display number (optional)', add?.displayPhoneNumber, undefined, 'e.g. +1 555 078 3881')}
<button type="submit">Add number</button>
</form>`
}
</section>`
}
${
  viewer.can('connector.read', workspace.id) &&
  html`<section class="card" aria-labelledby="connectors-h">
<h2 id="connectors-h">Connectors</h2>
<table><thead><tr><th scope="col">Connector</th><th scope="col">State</th><th scope="col"><span class="muted">Settings</span></th></tr></thead>
<tbody>${view.connectors.map(
    (
      c,
    ) => html`<tr><td>${c.displayName}</td><td><span class="badge ${c.enabled ? 'on' : ''}">${c.enabled === null ? 'not set up' : c.enabled ? 'enabled' : 'disabled'}</span></td>
<td><a href="${workspaceUrl(workspace.id, `/connectors/${encodeURIComponent(c.id)}`)}">${canConfigure ? 'Configure' : 'View'}<span class="skip-text"> ${c.displayName}</span></a></td></tr>`,
  )}</tbody></table>
</section>`
}
</div>`,
  });
}
