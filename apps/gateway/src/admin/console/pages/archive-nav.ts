import type { Workspace } from '@wabridge/core';
import { type Html, html } from '../html.ts';
import type { Viewer } from '../viewer.ts';
import { workspaceUrl } from './workspace-nav.ts';

export type ArchiveSection = 'verify' | 'holds' | 'retention' | 'erasure' | 'export';

/** The archive's own tabs under the workspace's; a part the viewer may not use is not shown. */
export function archiveNav(viewer: Viewer, workspace: Workspace, current: ArchiveSection): Html {
  const ws = workspace.id;
  const parts: { id: ArchiveSection; label: string; path: string; show: boolean }[] = [
    { id: 'verify', label: 'Verify', path: '/archive', show: viewer.can('archive.read', ws) },
    { id: 'holds', label: 'Legal holds', path: '/archive/holds', show: viewer.can('archive.read', ws) },
    { id: 'retention', label: 'Retention', path: '/archive/retention', show: viewer.can('archive.read', ws) },
    { id: 'erasure', label: 'Erasure', path: '/archive/erasures', show: viewer.can('archive.read', ws) },
    { id: 'export', label: 'Export', path: '/archive/export', show: viewer.can('archive.export', ws) },
  ];
  return html`<nav aria-label="Archive"><ul class="tabs sub">${parts
    .filter((p) => p.show)
    .map(
      (p) =>
        html`<li><a href="${workspaceUrl(ws, p.path)}"${p.id === current ? html` aria-current="page"` : ''}>${p.label}</a></li>`,
    )}</ul></nav>`;
}
