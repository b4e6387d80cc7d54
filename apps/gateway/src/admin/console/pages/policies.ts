import type { Workspace } from '@wabridge/core';
import type { FieldErrors } from '../connector-form.ts';
import { type Html, html } from '../html.ts';
import { csrfField, notice, page } from '../layout.ts';
import type { Viewer } from '../viewer.ts';
import { workspaceHeader, workspaceUrl } from './workspace-nav.ts';

export interface PoliciesView {
  workspace: Workspace;
  /** Each enabled connector's routing rules (edited on the connector's page). */
  routing: { connectorId: string; displayName: string; target: string; routes: unknown[] }[];
  submitted?: Record<string, string>;
  errors?: FieldErrors;
  done?: string;
}

const MASKING = [
  ['none', 'Whole number'],
  ['partial', 'Middle digits hidden'],
  ['last4', 'Last 4 digits only'],
] as const;

/** Whether notes in mirrored threads are archived (policy `archiveInternalNotes`); never sent either way. */
const NOTES = [
  ['false', 'Not archived (they stay in Slack or Teams only)'],
  ['true', 'Kept in the archive, marked internal'],
] as const;

/** Where conversations go (per connector) and the workspace's policies (masking, opt-out, templates). */
export function policiesPage(viewer: Viewer, view: PoliciesView): Html {
  const { workspace } = view;
  const canChange = viewer.can('workspace.update', workspace.id);
  const p = workspace.policies;
  const errors = view.errors ?? {};
  const typed = (key: string, stored: string) => view.submitted?.[key] ?? stored;
  return page({
    title: `Routing and policies · ${workspace.name}`,
    viewer,
    section: 'workspaces',
    workspaceId: workspace.id,
    body: html`${workspaceHeader(viewer, workspace, 'policies')}
${notice(view.done)}
${Object.keys(errors).length > 0 && notice('Nothing was saved: fix the fields marked below.', 'bad')}
${errors._form && notice(errors._form, 'bad')}
<section class="card" aria-labelledby="routing-h">
<h2 id="routing-h">Routing</h2>
${
  view.routing.length === 0
    ? html`<p class="muted">No connector is enabled.</p>`
    : html`<table><thead><tr><th scope="col">Connector</th><th scope="col">Default destination</th><th scope="col">Rules (first match wins)</th></tr></thead><tbody>${view.routing.map(
        (
          r,
        ) => html`<tr><td><a href="${workspaceUrl(workspace.id, `/connectors/${encodeURIComponent(r.connectorId)}`)}">${r.displayName}</a></td>
<td><code>${r.target}</code></td><td class="details">${r.routes.length === 0 ? html`<span class="muted">none</span>` : html`<code>${JSON.stringify(r.routes)}</code>`}</td></tr>`,
      )}</tbody></table>`
}
</section>
<section class="card" aria-labelledby="policies-h">
<h2 id="policies-h">Policies</h2>
${
  canChange
    ? html`<form method="post" action="${workspaceUrl(workspace.id, '/policies')}" novalidate>
${csrfField(viewer)}
${fieldWrap(
  'numberMasking',
  'Customer numbers in mirrors',
  errors,
  html`<select id="p-numberMasking" name="numberMasking"${described('numberMasking', errors)}>${MASKING.map(
    ([value, label]) =>
      html`<option value="${value}"${typed('numberMasking', p.numberMasking) === value ? ' selected' : ''}>${label}</option>`,
  )}</select>`,
)}
${fieldWrap('reorderWindowMs', 'Reorder window (ms)', errors, html`<input type="text" inputmode="numeric" id="p-reorderWindowMs" name="reorderWindowMs" value="${typed('reorderWindowMs', String(p.reorderWindowMs))}"${described('reorderWindowMs', errors)}>`)}
${fieldWrap(
  'archiveInternalNotes',
  "Agents' internal notes",
  errors,
  html`<select id="p-archiveInternalNotes" name="archiveInternalNotes"${described('archiveInternalNotes', errors)}>${NOTES.map(
    ([value, label]) =>
      html`<option value="${value}"${typed('archiveInternalNotes', String(p.archiveInternalNotes)) === value ? ' selected' : ''}>${label}</option>`,
  )}</select>`,
)}
${fieldWrap('optOutKeywords', 'Opt-out keywords (JSON, by language)', errors, html`<textarea id="p-optOutKeywords" name="optOutKeywords" rows="6"${described('optOutKeywords', errors)}>${typed('optOutKeywords', JSON.stringify(p.optOutKeywords, null, 2))}</textarea>`)}
${fieldWrap('templates', 'Templates agents may send (JSON)', errors, html`<textarea id="p-templates" name="templates" rows="4"${described('templates', errors)}>${typed('templates', JSON.stringify(p.templates, null, 2))}</textarea>`)}
<button type="submit">Save policies</button>
</form>`
    : html`<table><tbody>
<tr><th scope="row">Customer numbers in mirrors</th><td>${MASKING.find(([v]) => v === p.numberMasking)?.[1] ?? p.numberMasking}</td></tr>
<tr><th scope="row">Reorder window</th><td>${p.reorderWindowMs} ms</td></tr>
<tr><th scope="row">Agents' internal notes</th><td>${NOTES.find(([v]) => v === String(p.archiveInternalNotes))?.[1]}</td></tr>
<tr><th scope="row">Opt-out keywords</th><td>${Object.entries(p.optOutKeywords).map(([lang, k]) => html`<div><code>${lang}</code> stop: ${k.stop.join(', ')} · start: ${k.start.join(', ')}</div>`)}</td></tr>
<tr><th scope="row">Templates</th><td>${p.templates.length === 0 ? 'none' : p.templates.map((t) => html`<code>${t.name}</code> `)}</td></tr>
</tbody></table>`
}
</section>`,
  });
}

function described(key: string, errors: FieldErrors): Html {
  return errors[key] ? html` aria-invalid="true" aria-describedby="p-${key}-error"` : html``;
}

function fieldWrap(key: string, label: string, errors: FieldErrors, control: Html): Html {
  return html`<div class="field"><label for="p-${key}">${label}</label>${control}${errors[key] && html`<span class="error" id="p-${key}-error">${errors[key]}</span>`}</div>`;
}
