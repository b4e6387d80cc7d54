import type { Workspace } from '@wabridge/core';
import { type Html, html } from '../html.ts';
import { csrfField, notice, page } from '../layout.ts';
import type { Viewer } from '../viewer.ts';
import { archiveNav } from './archive-nav.ts';
import { workspaceHeader, workspaceUrl } from './workspace-nav.ts';

export interface ArchiveView {
  workspace: Workspace;
  /** `wabridge archive verify`'s report, when asked for. */
  verify?: {
    ok: boolean;
    records: number;
    storedSize: number;
    checkpoints: number;
    verifiedSize: number;
    failure: { seq: number; reason: string; message: string } | null;
  };
  done?: string;
}

/** The compliance archive as it exists today: verify it, and sign a checkpoint. */
export function archivePage(viewer: Viewer, view: ArchiveView): Html {
  const { workspace, verify } = view;
  const base = workspaceUrl(workspace.id, '/archive');
  return page({
    title: `Archive · ${workspace.name}`,
    viewer,
    section: 'workspaces',
    workspaceId: workspace.id,
    body: html`${workspaceHeader(viewer, workspace, 'archive')}
${archiveNav(viewer, workspace, 'verify')}
${notice(view.done)}
<section class="card" aria-labelledby="verify-h">
<h2 id="verify-h">Verify</h2>
<p>Re-reads every record of this workspace's tamper-evident log, recomputes the tree and checks every signed checkpoint.</p>
<form method="get" action="${base}"><input type="hidden" name="verify" value="1"><button type="submit" class="secondary">Verify the archive</button></form>
${
  verify &&
  html`<div class="notice${verify.ok ? '' : ' bad'}" role="status" data-testid="verify-result">
${
  verify.ok
    ? html`<strong>Sound.</strong> ${verify.records} records, ${verify.checkpoints} checkpoint(s), ${verify.verifiedSize} records covered by a signed checkpoint.`
    : html`<strong>Fails at record ${verify.failure?.seq ?? 0}:</strong> ${verify.failure?.reason}: ${verify.failure?.message}`
}</div>`
}
</section>
${
  viewer.can('workspace.update', workspace.id) &&
  html`<section class="card" aria-labelledby="checkpoint-h">
<h2 id="checkpoint-h">Checkpoint</h2>
<p>Signs the log as it is now, so later changes to earlier records can be proved.</p>
<form method="post" action="${base}/checkpoint">${csrfField(viewer)}<button type="submit">Sign a checkpoint</button></form>
</section>`
}`,
  });
}
