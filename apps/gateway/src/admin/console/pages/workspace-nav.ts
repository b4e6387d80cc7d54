import { type Html, html } from '../html.ts';
import { CONSOLE_BASE } from '../layout.ts';
import type { Viewer } from '../viewer.ts';

export type WorkspaceTab =
  | 'overview'
  | 'connectors'
  | 'policies'
  | 'health'
  | 'audit'
  | 'archive'
  | 'members';

export const workspaceUrl = (workspaceId: string, rest = '') =>
  `${CONSOLE_BASE}/workspaces/${encodeURIComponent(workspaceId)}${rest}`;

/** The workspace's heading and tabs; a tab the viewer cannot read is not shown. */
export function workspaceHeader(
  viewer: Viewer,
  workspace: { id: string; name: string },
  current: WorkspaceTab,
  title?: string,
): Html {
  const tabs: { id: WorkspaceTab; label: string; path: string; show: boolean }[] = [
    {
      id: 'overview',
      label: 'Numbers and connectors',
      path: '',
      show: viewer.can('number.read', workspace.id) || viewer.can('connector.read', workspace.id),
    },
    {
      id: 'policies',
      label: 'Routing and policies',
      path: '/policies',
      show: viewer.can('workspace.read', workspace.id),
    },
    { id: 'health', label: 'Health', path: '/health', show: viewer.can('health.read', workspace.id) },
    { id: 'audit', label: 'Audit trail', path: '/audit', show: viewer.can('audit.read', workspace.id) },
    { id: 'archive', label: 'Archive', path: '/archive', show: viewer.can('archive.read', workspace.id) },
    { id: 'members', label: 'Members', path: '/members', show: viewer.can('access.read', workspace.id) },
  ];
  return html`<p class="crumbs"><a href="${CONSOLE_BASE}/workspaces">Workspaces</a> › ${workspace.name} <code>${workspace.id}</code></p>
<h1>${title ?? workspace.name}</h1>
<nav aria-label="Workspace"><ul class="tabs">${tabs
    .filter((t) => t.show)
    .map(
      (t) =>
        html`<li><a href="${workspaceUrl(workspace.id, t.path)}"${t.id === current ? html` aria-current="page"` : ''}>${t.label}</a></li>`,
    )}</ul></nav>`;
}
