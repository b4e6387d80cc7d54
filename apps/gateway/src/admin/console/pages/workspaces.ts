import type { ConnectorSetting, PhoneNumber, Workspace } from '@wabridge/core';
import { type Html, html } from '../html.ts';
import { CONSOLE_BASE, csrfField, notice, page } from '../layout.ts';
import type { Viewer } from '../viewer.ts';
import { workspaceUrl } from './workspace-nav.ts';

export interface WorkspacesView {
  workspaces: Workspace[];
  numbers: PhoneNumber[];
  connectors: ConnectorSetting[];
  done?: string;
  /** The create form as typed, with what is wrong (after a refused POST). */
  create?: { id: string; name: string; errors: { id?: string; name?: string; form?: string } };
}

/** The workspaces the viewer has a role in, and (owners) a form to create one. */
export function workspacesPage(viewer: Viewer, view: WorkspacesView): Html {
  const numbers = countBy(view.numbers, (n) => n.workspaceId);
  const enabled = countBy(
    view.connectors.filter((c) => c.enabled),
    (c) => c.workspaceId,
  );
  const visible = view.workspaces.filter((w) => viewer.can('workspace.read', w.id));
  const create = view.create;
  const errors = create?.errors ?? {};
  return page({
    title: 'Workspaces',
    viewer,
    section: 'workspaces',
    body: html`<h1>Workspaces</h1>
${notice(view.done)}
<section class="card" aria-labelledby="list-h">
<h2 id="list-h">${visible.length} workspace${visible.length === 1 ? '' : 's'}</h2>
${
  visible.length === 0
    ? html`<p class="muted">No workspace yet.</p>`
    : html`<table>
<thead><tr><th scope="col">Name</th><th scope="col">Id</th><th scope="col">Numbers</th><th scope="col">Connectors on</th><th scope="col">Your role</th></tr></thead>
<tbody>${visible.map(
        (w) => html`<tr><td><a href="${workspaceUrl(w.id)}">${w.name}</a></td><td><code>${w.id}</code></td>
<td>${numbers.get(w.id) ?? 0}</td><td>${enabled.get(w.id) ?? 0}</td><td>${viewer.roleIn(w.id) ?? '–'}</td></tr>`,
      )}</tbody></table>`
}
</section>
${
  viewer.can('global.workspace.create', null) &&
  html`<section class="card" aria-labelledby="create-h">
<h2 id="create-h">Create a workspace</h2>
${notice(errors.form, 'bad')}
<form method="post" action="${CONSOLE_BASE}/workspaces" novalidate>
${csrfField(viewer)}
<div class="row">
${textField('name', 'Name', create?.name, errors.name, 'Shown to admins, e.g. Acme Support')}
${textField('id', 'Id', create?.id, errors.id, 'Lowercase letters, digits and dashes; made from the name when empty')}
<button type="submit">Create workspace</button>
</div>
</form>
</section>`
}`,
  });
}

export function textField(
  name: string,
  label: string,
  value: string | undefined,
  error: string | undefined,
  hint?: string,
  type = 'text',
): Html {
  const id = `f-${name}`;
  const described = [hint ? `${id}-hint` : '', error ? `${id}-error` : ''].filter(Boolean).join(' ');
  return html`<div class="field"><label for="${id}">${label}</label>
<input type="${type}" id="${id}" name="${name}" value="${value ?? ''}"${described ? html` aria-describedby="${described}"` : ''}${error ? html` aria-invalid="true"` : ''}>
${hint && html`<span class="hint" id="${id}-hint">${hint}</span>`}${error && html`<span class="error" id="${id}-error">${error}</span>`}</div>`;
}

function countBy<T>(items: readonly T[], key: (item: T) => string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(key(item), (counts.get(key(item)) ?? 0) + 1);
  return counts;
}
