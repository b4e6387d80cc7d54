import {
  type HoldScope,
  isWabridgeError,
  type Permission,
  RETENTION_KINDS,
  type Workspace,
} from '@wabridge/core';
import type { Context, Hono } from 'hono';
import { exportZip, listErasures } from '../../archive-operations.ts';
import type { Runtime } from '../../runtime.ts';
import type { AdminEnv } from '../context.ts';
import { actorOf, requirePrincipal } from '../context.ts';
import type { Html } from './html.ts';
import { doneMessage } from './messages.ts';
import { certificatePage, erasuresPage, exportPage } from './pages/archive-erasure.ts';
import { holdsPage, retentionPage } from './pages/archive-holds.ts';
import { workspaceUrl } from './pages/workspace-nav.ts';
import type { Viewer } from './viewer.ts';

/** What the console's index gives these pages (its own helpers, so both answer alike). */
export interface ConsoleHelpers {
  workspaceOr404(
    c: Context<AdminEnv>,
    permission: Permission,
  ): Promise<{ response: Response } | { viewer: Viewer; workspace: Workspace }>;
  send(body: Html, status?: number): Response;
  formOf(c: Context): Promise<Record<string, string>>;
  notFound(viewer: Viewer): Response;
  /** The message of a refusal a person can act on (4xx); anything else is thrown on. */
  userMessage(error: unknown): string;
}

const DAY_MS = 86_400_000;

/**
 * The archive's pages beside Verify: legal holds, retention, erasure (with its certificate) and
 * a contact's export. Every act calls the function the admin API and the CLI call.
 */
export function archivePages(app: Hono<AdminEnv>, runtime: Runtime, h: ConsoleHelpers): void {
  const { store, governance } = runtime;
  const url = (ws: string, rest: string) => workspaceUrl(ws, `/archive${rest}`);
  const statusOf = (error: unknown) => (isWabridgeError(error) ? (error.status ?? 400) : 400);

  // --- Legal holds
  app.get('/workspaces/:ws/archive/holds', async (c) => {
    const found = await h.workspaceOr404(c, 'archive.read');
    if ('response' in found) return found.response;
    const { viewer, workspace } = found;
    const holds = await store.listHolds(workspace.id);
    return h.send(holdsPage(viewer, { workspace, holds, done: doneMessage(c.req.query('done')) }));
  });

  app.post('/workspaces/:ws/archive/holds', async (c) => {
    const found = await h.workspaceOr404(c, 'archive.hold');
    if ('response' in found) return found.response;
    const { viewer, workspace } = found;
    const form = await h.formOf(c);
    const errors: Record<string, string> = {};
    const scope = holdScopeOf(form, errors);
    const reason = (form.reason ?? '').trim();
    if (!reason) errors.reason = 'Say why: the reason is kept with the record.';
    if (scope && Object.keys(errors).length === 0) {
      try {
        await store.addHold({ workspaceId: workspace.id, scope, reason, actor: actorOf(c) });
        return c.redirect(`${url(workspace.id, '/holds')}?done=hold-added`, 303);
      } catch (error) {
        errors.form = h.userMessage(error);
      }
    }
    const holds = await store.listHolds(workspace.id);
    return h.send(holdsPage(viewer, { workspace, holds, add: { form, errors } }), 400);
  });

  app.post('/workspaces/:ws/archive/holds/:hold/release', async (c) => {
    const found = await h.workspaceOr404(c, 'archive.hold');
    if ('response' in found) return found.response;
    const { viewer, workspace } = found;
    const form = await h.formOf(c);
    const errors: Record<string, string> = {};
    const reason = (form.reason ?? '').trim();
    if (!reason) errors.form = 'Say why the hold is released: the reason is kept with the record.';
    else {
      try {
        await store.releaseHold({
          workspaceId: workspace.id,
          holdId: c.req.param('hold'),
          actor: actorOf(c),
          reason,
        });
        return c.redirect(`${url(workspace.id, '/holds')}?done=hold-released`, 303);
      } catch (error) {
        if (isWabridgeError(error) && error.code === 'not_found') return h.notFound(viewer);
        errors.form = h.userMessage(error);
      }
    }
    const holds = await store.listHolds(workspace.id);
    return h.send(holdsPage(viewer, { workspace, holds, add: { form: {}, errors } }), 400);
  });

  // --- Retention
  app.get('/workspaces/:ws/archive/retention', async (c) => {
    const found = await h.workspaceOr404(c, 'archive.read');
    if ('response' in found) return found.response;
    const { viewer, workspace } = found;
    const rules = await store.listRetention(workspace.id);
    const dryRun = c.req.query('dry-run')
      ? await governance.runRetention({
          workspaceId: workspace.id,
          now: runtime.now(),
          dryRun: true,
          actor: actorOf(c),
        })
      : undefined;
    return h.send(
      retentionPage(viewer, {
        workspace,
        rules,
        ...(dryRun ? { dryRun } : {}),
        done: doneMessage(c.req.query('done')),
      }),
    );
  });

  app.post('/workspaces/:ws/archive/retention/run', async (c) => {
    const found = await h.workspaceOr404(c, 'archive.erase');
    if ('response' in found) return found.response;
    await governance.runRetention({
      workspaceId: found.workspace.id,
      now: runtime.now(),
      dryRun: false,
      actor: actorOf(c),
    });
    return c.redirect(`${url(found.workspace.id, '/retention')}?done=retention-run`, 303);
  });

  app.post('/workspaces/:ws/archive/retention/:kind', async (c) => {
    const found = await h.workspaceOr404(c, 'archive.erase');
    if ('response' in found) return found.response;
    const { viewer, workspace } = found;
    const kind = c.req.param('kind');
    if (!(RETENTION_KINDS as readonly string[]).includes(kind)) return h.notFound(viewer);
    const form = await h.formOf(c);
    const errors: Record<string, string> = {};
    const days = (field: 'keepDays' | 'afterLastMessageDays') => {
      const text = (form[field] ?? '').trim();
      if (text === '') return null;
      if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > 36_500) {
        errors[field] = 'A whole number of days from 1 to 36500, or empty.';
        return null;
      }
      return Number(text);
    };
    const keepDays = days('keepDays');
    const afterLastMessageDays = days('afterLastMessageDays');
    if (Object.keys(errors).length === 0) {
      try {
        await store.setRetention({
          workspaceId: workspace.id,
          kind,
          keepDays,
          afterLastMessageDays,
          actor: actorOf(c),
        });
        return c.redirect(`${url(workspace.id, '/retention')}?done=retention-saved`, 303);
      } catch (error) {
        errors.form = h.userMessage(error);
      }
    }
    const rules = await store.listRetention(workspace.id);
    return h.send(retentionPage(viewer, { workspace, rules, set: { kind, form, errors } }), 400);
  });

  // --- Erasure
  app.get('/workspaces/:ws/archive/erasures', async (c) => {
    const found = await h.workspaceOr404(c, 'archive.read');
    if ('response' in found) return found.response;
    const { viewer, workspace } = found;
    return h.send(erasuresPage(viewer, { workspace, erasures: await listErasures(runtime, workspace.id) }));
  });

  app.post('/workspaces/:ws/archive/erasures', async (c) => {
    const found = await h.workspaceOr404(c, 'archive.erase');
    if ('response' in found) return found.response;
    const { viewer, workspace } = found;
    const form = await h.formOf(c);
    const errors: Record<string, string> = {};
    const contact = (form.contact ?? '').trim();
    const conversation = (form.conversation ?? '').trim();
    const reason = (form.reason ?? '').trim();
    if ((contact ? 1 : 0) + (conversation ? 1 : 0) !== 1)
      errors.contact = 'Name who to erase: a contact or a conversation (one of them).';
    if (!reason) errors.reason = 'Say why: the reason is kept in the certificate.';
    if (form.confirm !== 'yes')
      errors.confirm = 'Confirm that you have checked the request: nothing was erased.';
    let status = 400;
    if (Object.keys(errors).length === 0) {
      try {
        const certificate = await governance.erase({
          workspaceId: workspace.id,
          subject: contact
            ? { kind: 'contact', identifier: contact }
            : { kind: 'conversation', conversationId: conversation },
          actor: actorOf(c),
          reason,
        });
        runtime.worker?.notify();
        return c.redirect(
          `${url(workspace.id, `/erasures/${encodeURIComponent(certificate.id)}`)}?done=erased`,
          303,
        );
      } catch (error) {
        errors.form = h.userMessage(error);
        status = statusOf(error);
      }
    }
    const erasures = await listErasures(runtime, workspace.id);
    return h.send(erasuresPage(viewer, { workspace, erasures, erase: { form, errors } }), status);
  });

  app.get('/workspaces/:ws/archive/erasures/:erasure', async (c) => {
    const found = await h.workspaceOr404(c, 'archive.read');
    if ('response' in found) return found.response;
    const { viewer, workspace } = found;
    const certificate = await store.getErasure(workspace.id, c.req.param('erasure'));
    if (!certificate) return h.notFound(viewer);
    return h.send(
      certificatePage(viewer, { workspace, certificate, done: doneMessage(c.req.query('done')) }),
    );
  });

  // --- Export
  app.get('/workspaces/:ws/archive/export', async (c) => {
    const found = await h.workspaceOr404(c, 'archive.export');
    if ('response' in found) return found.response;
    return h.send(exportPage(found.viewer, { workspace: found.workspace }));
  });

  app.post('/workspaces/:ws/archive/export', async (c) => {
    const found = await h.workspaceOr404(c, 'archive.export');
    if ('response' in found) return found.response;
    const { viewer, workspace } = found;
    const contact = ((await h.formOf(c)).contact ?? '').trim();
    let error = 'The contact’s WhatsApp number or BSUID.';
    let status = 400;
    if (contact) {
      try {
        const body = await exportZip(runtime, workspace.id, contact, requirePrincipal(c).actor);
        return new Response(body.stream, {
          headers: {
            'content-type': 'application/zip',
            'content-disposition': `attachment; filename="${body.filename}"`,
            'cache-control': 'no-store',
          },
        });
      } catch (caught) {
        error = h.userMessage(caught);
        status = statusOf(caught);
      }
    }
    return h.send(exportPage(viewer, { workspace, contact, error }), status);
  });
}

/** The one scope the form names, or null with what is wrong in `errors`. */
function holdScopeOf(form: Record<string, string>, errors: Record<string, string>): HoldScope | null {
  switch (form.scope) {
    case 'workspace':
      return { kind: 'workspace' };
    case 'contact': {
      const contactId = (form.contact ?? '').trim();
      if (!contactId) errors.contact = 'The contact’s WhatsApp number or BSUID.';
      return contactId ? { kind: 'contact', contactId } : null;
    }
    case 'conversation': {
      const conversationId = (form.conversation ?? '').trim();
      if (!conversationId) errors.conversation = 'The conversation id (cv_…).';
      return conversationId ? { kind: 'conversation', conversationId } : null;
    }
    case 'range': {
      const from = day(form.from);
      const to = day(form.to);
      if (from === null) errors.from = 'A day (YYYY-MM-DD).';
      if (to === null) errors.to = 'A day (YYYY-MM-DD).';
      if (from === null || to === null) return null;
      if (to < from) {
        errors.to = 'The range must end on or after its first day.';
        return null;
      }
      // Whole UTC days, both included (as `wabridge hold add --from --to`).
      return { kind: 'range', from, to: to + DAY_MS - 1 };
    }
    default:
      errors.scope = 'Choose what the hold covers.';
      return null;
  }
}

function day(text: string | undefined): number | null {
  if (!text || !/^\d{4}-\d{2}-\d{2}$/.test(text)) return null;
  const ms = Date.parse(`${text}T00:00:00Z`);
  return Number.isFinite(ms) ? ms : null;
}
