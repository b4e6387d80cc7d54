import type { ConnectorCheck, Workspace } from '@wabridge/core';
import type { FieldErrors, FormField } from '../connector-form.ts';
import { type Html, html } from '../html.ts';
import { csrfField, formatTime, notice, page } from '../layout.ts';
import type { Viewer } from '../viewer.ts';
import { workspaceHeader, workspaceUrl } from './workspace-nav.ts';

export interface ConnectorView {
  workspace: Workspace;
  connector: { id: string; displayName: string };
  fields: FormField[];
  /** Stored settings, secrets masked; null when the connector is not set up. */
  stored: { enabled: boolean; config: Record<string, unknown>; updatedAt: number } | null;
  /** What was typed, after a refused save (secrets are never sent back). */
  submitted?: Record<string, string>;
  errors?: FieldErrors;
  done?: string;
  test?: { ok: boolean; checks: ConnectorCheck[] };
  /** Where "Connect" goes (an OAuth install), or why it is not available yet. */
  connect: { href: string } | { unavailable: string };
}

export function connectorPage(viewer: Viewer, view: ConnectorView): Html {
  const { workspace, connector, stored } = view;
  const canChange = viewer.can('connector.write', workspace.id);
  const canTest = viewer.can('connector.test', workspace.id);
  const base = workspaceUrl(workspace.id, `/connectors/${encodeURIComponent(connector.id)}`);
  const errors = view.errors ?? {};
  const state = stored === null ? 'not set up' : stored.enabled ? 'enabled' : 'disabled';
  const required = view.fields.filter((f) => f.required);
  const routing = view.fields.filter((f) => !f.required && f.routing);
  const more = view.fields.filter((f) => !f.required && !f.routing);
  const moreHasError = more.some((f) => errors[f.key]);
  return page({
    title: `${connector.displayName} · ${workspace.name}`,
    viewer,
    section: 'workspaces',
    workspaceId: workspace.id,
    body: html`${workspaceHeader(viewer, workspace, 'overview', `${connector.displayName} in ${workspace.name}`)}
<p>State: <span class="badge ${stored?.enabled ? 'on' : ''}" data-testid="connector-state">${state}</span>
${stored && html` <span class="muted">· changed ${formatTime(stored.updatedAt)}</span>`}</p>
${notice(view.done)}
${view.errors && Object.keys(view.errors).length > 0 && notice('Nothing was saved: fix the fields marked below.', 'bad')}
${errors._form && notice(errors._form, 'bad')}
${view.test && testResult(view.test)}
${
  canChange
    ? html`<section class="card" aria-labelledby="connect-h">
<h2 id="connect-h">Connect</h2>
${
  'href' in view.connect
    ? html`<p><a class="button" href="${view.connect.href}">Connect ${connector.displayName}</a> <span class="muted">Install the app with the platform's consent screen; the settings are stored for you.</span></p>`
    : html`<p><button type="button" disabled aria-describedby="connect-note">Connect ${connector.displayName}</button> <span class="muted" id="connect-note">${view.connect.unavailable}</span></p>`
}
${
  stored &&
  html`<div class="row">
${canTest && html`<form method="post" action="${base}/test">${csrfField(viewer)}<button type="submit" class="secondary">Test connection</button></form>`}
${
  stored.enabled &&
  html`<form method="post" action="${base}" data-confirm="Disable ${connector.displayName}? Nothing more is delivered to it until it is enabled again.">${csrfField(viewer)}<input type="hidden" name="action" value="disable"><button type="submit" class="danger">Disable</button></form>`
}
</div>`
}
</section>
<section class="card" aria-labelledby="settings-h">
<h2 id="settings-h">Settings</h2>
<form method="post" action="${base}" novalidate>
${csrfField(viewer)}
<fieldset><legend>Required</legend>${required.map((f) => field(f, view))}</fieldset>
${routing.length > 0 && html`<fieldset><legend>Routing</legend>${routing.map((f) => field(f, view))}</fieldset>`}
<details${moreHasError ? ' open' : ''}><summary>More settings (${more.length})</summary>${more.map((f) => field(f, view))}</details>
<div class="row">
<button type="submit" name="action" value="enable">Save and enable</button>
<button type="submit" name="action" value="save" class="secondary">Save${stored?.enabled ? '' : ' without enabling'}</button>
</div>
</form>
</section>`
    : html`<section class="card" aria-labelledby="settings-h"><h2 id="settings-h">Settings</h2>${
        stored
          ? html`<table><tbody>${Object.entries(stored.config).map(
              ([key, value]) =>
                html`<tr><th scope="row">${key}</th><td><code>${display(value)}</code></td></tr>`,
            )}</tbody></table>`
          : html`<p class="muted">Not set up.</p>`
      }</section>`
}`,
  });
}

function testResult(test: { ok: boolean; checks: ConnectorCheck[] }): Html {
  return html`<section class="notice${test.ok ? '' : ' bad'}" role="status" aria-labelledby="test-h" data-testid="test-result">
<h2 id="test-h">${test.ok ? 'Connection works' : 'Connection does not work'}</h2>
<ul>${test.checks.map((c) => html`<li><strong>${c.name}</strong> ${c.ok ? 'ok' : 'failed'}: ${c.detail}</li>`)}</ul>
</section>`;
}

function display(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

function field(f: FormField, view: ConnectorView): Html {
  const id = `cfg-${f.key}`;
  const name = `cfg.${f.key}`;
  const error = view.errors?.[f.key];
  const storedValue = view.stored?.config[f.key];
  const typed = view.submitted?.[name];
  const value =
    f.kind === 'secret'
      ? ''
      : typed !== undefined
        ? typed
        : storedValue === undefined
          ? ''
          : f.kind === 'json'
            ? JSON.stringify(storedValue, null, 2)
            : String(storedValue);
  const hint =
    f.kind === 'secret'
      ? storedValue !== undefined
        ? 'Stored encrypted; leave empty to keep it.'
        : 'Stored encrypted, never shown again.'
      : f.kind === 'json'
        ? 'JSON.'
        : undefined;
  const describedBy = [hint ? `${id}-hint` : '', error ? `${id}-error` : ''].filter(Boolean).join(' ');
  const attrs = html`id="${id}" name="${name}"${describedBy ? html` aria-describedby="${describedBy}"` : ''}${error ? html` aria-invalid="true"` : ''}${f.required && f.kind !== 'secret' ? html` aria-required="true"` : ''}`;
  const control =
    f.kind === 'json'
      ? html`<textarea ${attrs} rows="4">${value}</textarea>`
      : f.kind === 'enum' || f.kind === 'boolean'
        ? html`<select ${attrs}><option value="">${f.required ? 'Choose…' : f.defaultValue !== undefined ? `Default (${f.kind === 'boolean' ? (f.defaultValue === 'true' ? 'yes' : 'no') : f.defaultValue})` : 'Not set'}</option>${(
            f.kind === 'boolean' ? ['true', 'false'] : (f.options ?? [])
          ).map(
            (o) =>
              html`<option value="${o}"${o === value ? ' selected' : ''}>${f.kind === 'boolean' ? (o === 'true' ? 'Yes' : 'No') : o}</option>`,
          )}</select>`
        : html`<input type="${f.kind === 'secret' ? 'password' : 'text'}" ${attrs} value="${value}"${f.defaultValue !== undefined ? html` placeholder="${f.defaultValue}"` : ''}${f.kind === 'secret' ? html` autocomplete="off"` : ''}${f.kind === 'number' || f.kind === 'integer' ? html` inputmode="decimal"` : ''}>`;
  return html`<div class="field"><label for="${id}">${f.label} <code>${f.key}</code></label>${control}
${hint && html`<span class="hint" id="${id}-hint">${hint}</span>`}${error && html`<span class="error" id="${id}-error">${error}</span>`}</div>`;
}
