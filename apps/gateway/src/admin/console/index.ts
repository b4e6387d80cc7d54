import { readFileSync } from 'node:fs';
import { isWabridgeError, openSqliteStore, signArchiveCheckpoint, verifyArchive } from '@wabridge/core';
import { type Context, Hono } from 'hono';
import { healthReport } from '../../connector-health.ts';
import type { Runtime } from '../../runtime.ts';
import { installLink } from '../../slack-install.ts';
import { formFields, readForm, schemaErrors } from './connector-form.ts';
import { type Html, html } from './html.ts';
import { CONSOLE_BASE, CSS_PATH, page } from './layout.ts';
import { doneMessage } from './messages.ts';
import { archivePage } from './pages/archive.ts';
import { auditPage } from './pages/audit.ts';
import { connectorPage } from './pages/connector.ts';
import { healthPage } from './pages/health.ts';
import { policiesPage } from './pages/policies.ts';
import { signInPage } from './pages/sign-in.ts';
import { workspacePage } from './pages/workspace.ts';
import { workspaceUrl } from './pages/workspace-nav.ts';
import { workspacesPage } from './pages/workspaces.ts';
import type { ConsolePermission, Viewer } from './viewer.ts';

export type { Viewer } from './viewer.ts';

/**
 * What the console needs from the auth layer (../README.md): who is asking, whether a form's
 * CSRF token is theirs, and signing in and out. The console never decides who someone is.
 */
export interface ConsoleAuth {
  /** The signed-in viewer of this request, or null. */
  viewer(c: Context): Promise<Viewer | null>;
  /** The audit actor of this request (name, address). */
  actor(c: Context, viewer: Viewer): string;
  /** True when `token` is the CSRF token bound to this request's session (or pre-session cookie). */
  checkCsrf(c: Context, token: string | undefined): Promise<boolean>;
  /** A CSRF token for the sign-in form (before there is a session): sets its cookie. */
  signInCsrf(c: Context): string;
  /** Checks the credentials; on success sets the session cookie. */
  signIn(c: Context, email: string, password: string): Promise<{ ok: true } | { ok: false; error: string }>;
  signOut(c: Context): Promise<void>;
}

const CSS = readFileSync(new URL('./console.css', import.meta.url), 'utf8');
const WORKSPACE_ID = /^[a-z0-9][a-z0-9-]{1,62}$/;
const DEAD_SHOWN = 200;
const AUDIT_SHOWN = 200;

/** Strict: no script, no inline style, forms post only here, never framed. */
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'same-origin',
  'cache-control': 'no-store',
};

function send(body: Html, status = 200): Response {
  return new Response(body.value, {
    status,
    headers: { 'content-type': 'text/html; charset=utf-8', ...SECURITY_HEADERS },
  });
}

/** The console's pages under /admin (except /admin/api, the JSON API). */
export function adminConsole(runtime: Runtime, auth: ConsoleAuth) {
  const app = new Hono<{ Variables: { viewer: Viewer } }>();
  const admin = runtime.admin;

  app.get(
    '/assets/console.css',
    () =>
      new Response(CSS, {
        headers: { 'content-type': 'text/css; charset=utf-8', 'cache-control': 'max-age=300' },
      }),
  );

  app.get('/sign-in', async (c) => {
    if (await auth.viewer(c)) return c.redirect(`${CONSOLE_BASE}/workspaces`, 303);
    return send(signInPage({ csrfToken: auth.signInCsrf(c), next: safeNext(c.req.query('next')) }));
  });
  app.post('/sign-in', async (c) => {
    const form = await formOf(c);
    const email = form.email?.trim() ?? '';
    const next = safeNext(form.next);
    if (!(await auth.checkCsrf(c, form._csrf))) return refusedCsrf();
    const result = await auth.signIn(c, email, form.password ?? '');
    if (!result.ok) {
      return send(signInPage({ error: result.error, email, next, csrfToken: auth.signInCsrf(c) }), 401);
    }
    return c.redirect(next ?? `${CONSOLE_BASE}/workspaces`, 303);
  });

  // Every other page needs a viewer; every POST a valid CSRF token.
  app.use('*', async (c, next) => {
    const viewer = await auth.viewer(c);
    if (!viewer) {
      if (c.req.method !== 'GET')
        return send(messagePage(null, 'Signed out', 'Your session has ended: sign in again.'), 401);
      return c.redirect(`${CONSOLE_BASE}/sign-in?next=${encodeURIComponent(c.req.path)}`, 303);
    }
    if (c.req.method === 'POST') {
      const form = await formOf(c);
      if (!(await auth.checkCsrf(c, form._csrf))) return refusedCsrf();
    }
    c.set('viewer', viewer);
    await next();
  });

  app.post('/sign-out', async (c) => {
    await auth.signOut(c);
    return c.redirect(`${CONSOLE_BASE}/sign-in`, 303);
  });

  app.get('/', (c) => c.redirect(`${CONSOLE_BASE}/workspaces`, 303));

  app.get('/workspaces', async (c) => {
    const viewer = c.get('viewer');
    return send(
      workspacesPage(viewer, { ...(await workspacesData(runtime)), done: doneMessage(c.req.query('done')) }),
    );
  });

  app.post('/workspaces', async (c) => {
    const viewer = c.get('viewer');
    if (!viewer.can('global.workspace.create', null)) return forbidden(viewer);
    const form = await formOf(c);
    const name = (form.name ?? '').trim();
    const id = (form.id ?? '').trim() || slug(name);
    const errors: { id?: string; name?: string; form?: string } = {};
    if (!name) errors.name = 'Give the workspace a name.';
    else if (name.length > 200) errors.name = 'At most 200 characters.';
    if (!WORKSPACE_ID.test(id))
      errors.id =
        'Lowercase letters, digits and dashes, 2 to 63 characters, starting with a letter or digit.';
    else if (await runtime.store.getWorkspace(id))
      errors.id = `A workspace with the id ${id} exists already.`;
    if (Object.keys(errors).length === 0) {
      try {
        await admin.createWorkspace(auth.actor(c, viewer), { id, name });
        return c.redirect(`${workspaceUrl(id)}?done=workspace-created`, 303);
      } catch (error) {
        errors.form = userMessage(error);
      }
    }
    return send(
      workspacesPage(viewer, {
        ...(await workspacesData(runtime)),
        create: { id: form.id ?? '', name, errors },
      }),
      400,
    );
  });

  // --- One workspace: a workspace the viewer has no role in answers exactly like a missing one.
  const workspaceOr404 = async (
    c: Context<{ Variables: { viewer: Viewer } }>,
    permission: ConsolePermission,
  ) => {
    const viewer = c.get('viewer');
    const id = c.req.param('ws') ?? '';
    const workspace = viewer.can('workspace.read', id) ? await runtime.store.getWorkspace(id) : null;
    if (!workspace) return { response: notFound(viewer) } as const;
    if (!viewer.can(permission, id)) return { response: forbidden(viewer) } as const;
    return { viewer, workspace } as const;
  };

  app.get('/workspaces/:ws', async (c) => {
    const found = await workspaceOr404(c, 'workspace.read');
    if ('response' in found) return found.response;
    const { viewer, workspace } = found;
    return send(
      workspacePage(viewer, {
        ...(await overviewData(runtime, workspace.id)),
        workspace,
        done: doneMessage(c.req.query('done')),
      }),
    );
  });

  app.post('/workspaces/:ws/numbers', async (c) => {
    const found = await workspaceOr404(c, 'number.write');
    if ('response' in found) return found.response;
    const { viewer, workspace } = found;
    const form = await formOf(c);
    const phoneNumberId = (form.phoneNumberId ?? '').trim();
    const displayPhoneNumber = (form.displayPhoneNumber ?? '').trim();
    const errors: { phoneNumberId?: string; form?: string } = {};
    if (!/^\d{1,32}$/.test(phoneNumberId)) {
      errors.phoneNumberId =
        "Digits only: Meta's phone_number_id from WhatsApp Manager (API Setup), not the phone number.";
    } else {
      const owner = await runtime.store.resolvePhoneNumber(phoneNumberId);
      if (owner)
        errors.phoneNumberId =
          owner.workspaceId === workspace.id
            ? 'This workspace has this number already.'
            : 'Another workspace owns this number.';
    }
    if (Object.keys(errors).length === 0) {
      try {
        await admin.addPhoneNumber(auth.actor(c, viewer), workspace.id, {
          phoneNumberId,
          displayPhoneNumber: displayPhoneNumber || null,
        });
        runtime.routing.invalidate();
        return c.redirect(`${workspaceUrl(workspace.id)}?done=number-added`, 303);
      } catch (error) {
        errors.form = userMessage(error);
      }
    }
    return send(
      workspacePage(viewer, {
        ...(await overviewData(runtime, workspace.id)),
        workspace,
        addNumber: { phoneNumberId, displayPhoneNumber, errors },
      }),
      400,
    );
  });

  app.post('/workspaces/:ws/numbers/:number/remove', async (c) => {
    const found = await workspaceOr404(c, 'number.write');
    if ('response' in found) return found.response;
    const { viewer, workspace } = found;
    const owner = await runtime.store.resolvePhoneNumber(c.req.param('number'));
    if (!owner || owner.workspaceId !== workspace.id) return notFound(viewer);
    await admin.removePhoneNumber(auth.actor(c, viewer), owner.phoneNumberId);
    runtime.routing.invalidate();
    return c.redirect(`${workspaceUrl(workspace.id)}?done=number-removed`, 303);
  });

  // --- Connectors
  const connectorOr404 = async (
    c: Context<{ Variables: { viewer: Viewer } }>,
    permission: ConsolePermission,
  ) => {
    const found = await workspaceOr404(c, permission);
    if ('response' in found) return { response: found.response } as const;
    const manifest = runtime.registry.get(c.req.param('connector') ?? '');
    if (!manifest) return { response: notFound(found.viewer) } as const;
    return { ...found, manifest } as const;
  };

  const renderConnector = async (
    viewer: Viewer,
    workspace: NonNullable<Awaited<ReturnType<Runtime['store']['getWorkspace']>>>,
    manifest: NonNullable<ReturnType<Runtime['registry']['get']>>,
    extra: Partial<Parameters<typeof connectorPage>[1]> = {},
  ) => {
    const described = await admin.describeConnector(workspace.id, manifest.id);
    return connectorPage(viewer, {
      workspace,
      connector: { id: manifest.id, displayName: manifest.displayName },
      fields: formFields(manifest),
      stored: described,
      connect: connectTarget(runtime, workspace.id, manifest.id),
      ...extra,
    });
  };

  app.get('/workspaces/:ws/connectors/:connector', async (c) => {
    const found = await connectorOr404(c, 'connector.read');
    if ('response' in found) return found.response;
    return send(
      await renderConnector(found.viewer, found.workspace, found.manifest, {
        done: doneMessage(c.req.query('done')),
      }),
    );
  });

  app.post('/workspaces/:ws/connectors/:connector', async (c) => {
    const found = await connectorOr404(c, 'connector.write');
    if ('response' in found) return found.response;
    const { viewer, workspace, manifest } = found;
    const form = await formOf(c);
    const action = form.action;
    const base = workspaceUrl(workspace.id, `/connectors/${encodeURIComponent(manifest.id)}`);
    if (action === 'disable') {
      await admin.setConnector(auth.actor(c, viewer), workspace.id, manifest.id, { enabled: false });
      runtime.routing.invalidate();
      return c.redirect(`${base}?done=connector-disabled`, 303);
    }
    if (action !== 'enable' && action !== 'save')
      return send(messagePage(viewer, 'Bad request', 'Unknown action.'), 400);
    const existing = await runtime.store.getConnector(workspace.id, manifest.id);
    const enabled = action === 'enable' ? true : (existing?.enabled ?? false);
    const { change, errors } = readForm(manifest, form);
    if (Object.keys(errors).length === 0 && enabled) {
      // Field by field against the merged settings, as `setConnector` will check them whole.
      const stored = existing
        ? {
            ...existing.config,
            ...(existing.encryptedSecrets
              ? (JSON.parse(runtime.secrets.decrypt(existing.encryptedSecrets)) as object)
              : {}),
          }
        : {};
      Object.assign(errors, schemaErrors(manifest, { ...stored, ...change }));
    }
    if (Object.keys(errors).length === 0) {
      try {
        await admin.setConnector(auth.actor(c, viewer), workspace.id, manifest.id, {
          enabled,
          config: change,
        });
        runtime.routing.invalidate();
        return c.redirect(`${base}?done=${enabled ? 'connector-enabled' : 'connector-saved'}`, 303);
      } catch (error) {
        if (!isWabridgeError(error) || (error.code !== 'config_invalid' && error.code !== 'bad_request'))
          throw error;
        errors._form = error.message;
      }
    }
    const submitted = Object.fromEntries(
      Object.entries(form).filter(([k]) => !manifest.secretFields.includes(k.slice(4))),
    );
    return send(await renderConnector(viewer, workspace, manifest, { errors, submitted }), 400);
  });

  app.post('/workspaces/:ws/connectors/:connector/test', async (c) => {
    const found = await connectorOr404(c, 'connector.test');
    if ('response' in found) return found.response;
    const { viewer, workspace, manifest } = found;
    if (!(await runtime.store.getConnector(workspace.id, manifest.id))) return notFound(viewer);
    const report = await runtime.host.test(workspace.id, manifest.id, { timeoutMs: 15_000 });
    return send(await renderConnector(viewer, workspace, manifest, { test: report }));
  });

  // --- Routing and policies
  app.get('/workspaces/:ws/policies', async (c) => {
    const found = await workspaceOr404(c, 'workspace.read');
    if ('response' in found) return found.response;
    return send(
      policiesPage(found.viewer, {
        workspace: found.workspace,
        routing: await routingData(runtime, found.workspace.id),
        done: doneMessage(c.req.query('done')),
      }),
    );
  });

  app.post('/workspaces/:ws/policies', async (c) => {
    const found = await workspaceOr404(c, 'workspace.update');
    if ('response' in found) return found.response;
    const { viewer, workspace } = found;
    const form = await formOf(c);
    const errors: Record<string, string> = {};
    const policies: Record<string, unknown> = {};
    if (form.numberMasking !== undefined) policies.numberMasking = form.numberMasking;
    if (form.reorderWindowMs !== undefined) {
      const n = Number(form.reorderWindowMs.trim());
      if (form.reorderWindowMs.trim() === '' || !Number.isInteger(n))
        errors.reorderWindowMs = 'A whole number of milliseconds (0 to 60000).';
      else policies.reorderWindowMs = n;
    }
    for (const key of ['optOutKeywords', 'templates'] as const) {
      if (form[key] === undefined) continue;
      try {
        policies[key] = JSON.parse(form[key]);
      } catch (error) {
        errors[key] = `Not valid JSON: ${(error as Error).message}`;
      }
    }
    if (Object.keys(errors).length === 0) {
      try {
        await admin.updatePolicies(auth.actor(c, viewer), workspace.id, policies);
        runtime.routing.invalidate();
        return c.redirect(`${workspaceUrl(workspace.id, '/policies')}?done=policies-saved`, 303);
      } catch (error) {
        if (!isWabridgeError(error) || error.code !== 'config_invalid') throw error;
        Object.assign(errors, policyErrors(error.message));
      }
    }
    return send(
      policiesPage(viewer, {
        workspace,
        routing: await routingData(runtime, workspace.id),
        errors,
        submitted: form,
      }),
      400,
    );
  });

  // --- Health and dead letters
  app.get('/workspaces/:ws/health', async (c) => {
    const found = await workspaceOr404(c, 'health.read');
    if ('response' in found) return found.response;
    const { viewer, workspace } = found;
    const [activity, report, dead] = await Promise.all([
      runtime.store.workspaceActivity(workspace.id),
      healthReport(runtime.store),
      runtime.store.listDeadJobs({ workspaceId: workspace.id, limit: DEAD_SHOWN }),
    ]);
    return send(
      healthPage(viewer, {
        workspace,
        activity,
        connectors: report.connectors.filter((v) => v.workspace === workspace.id),
        dead,
        done: doneMessage(c.req.query('done')),
      }),
    );
  });

  app.post('/workspaces/:ws/dead-jobs/replay', async (c) => {
    const found = await workspaceOr404(c, 'deadletter.replay');
    if ('response' in found) return found.response;
    const { viewer, workspace } = found;
    const body = await c.req.parseBody({ all: true });
    const health = workspaceUrl(workspace.id, '/health');
    const raw = body.id;
    const ids = (Array.isArray(raw) ? raw : raw === undefined ? [] : [raw]).map((v) => Number(v));
    if (ids.some((id) => !Number.isSafeInteger(id) || id <= 0))
      return send(messagePage(viewer, 'Bad request', 'Job ids are whole numbers.'), 400);
    if (body.scope !== 'all' && ids.length === 0) return c.redirect(`${health}?done=nothing-selected`, 303);
    // Scoped to the workspace: an id of another workspace's job replays nothing.
    const replayed = await runtime.store.replayDeadJobs(body.scope === 'all' ? 'all' : ids, {
      workspaceId: workspace.id,
    });
    await runtime.store.appendAudit({
      actor: auth.actor(c, viewer),
      action: 'deadletter.replay',
      workspaceId: workspace.id,
      details: {
        scope: body.scope === 'all' ? 'all' : 'selected',
        ids: body.scope === 'all' ? [] : ids,
        replayed,
      },
    });
    runtime.worker?.notify();
    return c.redirect(`${health}?done=replayed`, 303);
  });

  // --- Audit trail
  app.get('/workspaces/:ws/audit', async (c) => {
    const found = await workspaceOr404(c, 'audit.read');
    if ('response' in found) return found.response;
    const { viewer, workspace } = found;
    const filter = {
      action: c.req.query('action')?.trim() || undefined,
      actor: c.req.query('actor')?.trim() || undefined,
    };
    const entries = await readAudit(runtime, workspace.id, filter, AUDIT_SHOWN + 1);
    return send(
      auditPage(viewer, {
        workspace,
        filter,
        entries: entries.slice(0, AUDIT_SHOWN),
        more: entries.length > AUDIT_SHOWN,
      }),
    );
  });

  // --- Archive
  app.get('/workspaces/:ws/archive', async (c) => {
    const found = await workspaceOr404(c, 'archive.read');
    if ('response' in found) return found.response;
    const { viewer, workspace } = found;
    let verify: Parameters<typeof archivePage>[1]['verify'];
    if (c.req.query('verify') && viewer.can('archive.verify', workspace.id)) {
      verify = await withArchiveDatabase(runtime, (db) => verifyArchive(db, workspace.id));
    }
    return send(
      archivePage(viewer, {
        workspace,
        ...(verify ? { verify } : {}),
        done: doneMessage(c.req.query('done')),
      }),
    );
  });

  app.post('/workspaces/:ws/archive/checkpoint', async (c) => {
    const found = await workspaceOr404(c, 'workspace.update');
    if ('response' in found) return found.response;
    const { viewer, workspace } = found;
    await withArchiveDatabase(runtime, (db) => signArchiveCheckpoint(db, runtime.secrets, workspace.id));
    await runtime.store.appendAudit({
      actor: auth.actor(c, viewer),
      action: 'archive.checkpoint',
      workspaceId: workspace.id,
      details: {},
    });
    return c.redirect(`${workspaceUrl(workspace.id, '/archive')}?done=checkpoint`, 303);
  });

  app.notFound(async (c) =>
    send(messagePage(await auth.viewer(c), 'Not found', 'There is no such page.'), 404),
  );
  return app;
}

// --- data for the pages -------------------------------------------------------------------------

async function workspacesData(runtime: Runtime) {
  const [workspaces, numbers, connectors] = await Promise.all([
    runtime.store.listWorkspaces(),
    runtime.store.listPhoneNumbers(),
    runtime.store.listConnectors(),
  ]);
  workspaces.sort((a, b) => a.name.localeCompare(b.name));
  return { workspaces, numbers, connectors };
}

async function overviewData(runtime: Runtime, workspaceId: string) {
  const [numbers, settings] = await Promise.all([
    runtime.store.listPhoneNumbers(workspaceId),
    runtime.store.listConnectors(workspaceId),
  ]);
  const byId = new Map(settings.map((s) => [s.connectorId, s]));
  const connectors = runtime.registry.list().map((m) => {
    const setting = byId.get(m.id);
    return {
      id: m.id,
      displayName: m.displayName,
      enabled: setting ? setting.enabled : null,
      state: setting ? (setting.enabled ? 'enabled' : 'disabled') : 'not set up',
    };
  });
  return { numbers, connectors };
}

async function routingData(runtime: Runtime, workspaceId: string) {
  const settings = await runtime.store.listConnectors(workspaceId);
  return settings
    .filter((s) => s.enabled)
    .map((s) => {
      const manifest = runtime.registry.get(s.connectorId);
      const config = s.config;
      const target =
        typeof config.defaultChannel === 'string'
          ? config.defaultChannel
          : typeof config.channelId === 'string'
            ? `${String(config.teamId ?? '')} / ${config.channelId}`
            : '(every conversation)';
      return {
        connectorId: s.connectorId,
        displayName: manifest?.displayName ?? s.connectorId,
        target,
        routes: Array.isArray(config.routes) ? config.routes : [],
      };
    });
}

async function readAudit(
  _runtime: Runtime,
  _workspaceId: string,
  _filter: { action?: string | undefined; actor?: string | undefined },
  _limit: number,
): Promise<Parameters<typeof auditPage>[1]['entries']> {
  // Wired to the store's audit reader with the auth foundation (listAudit).
  return [];
}

/** The archive functions work on a connection of their own (as `wabridge archive …` does). */
async function withArchiveDatabase<T>(
  runtime: Runtime,
  run: (db: Awaited<ReturnType<typeof openSqliteStore>>['db']) => Promise<T>,
): Promise<T> {
  const store = await openSqliteStore({ path: runtime.env.databasePath });
  try {
    return await run(store.db);
  } finally {
    await store.close();
  }
}

function connectTarget(
  runtime: Runtime,
  workspaceId: string,
  connectorId: string,
): { href: string } | { unavailable: string } {
  if (connectorId === 'slack') {
    try {
      return { href: installLink(runtime.env, workspaceId) };
    } catch {
      return {
        unavailable:
          '"Add to Slack" needs SLACK_CLIENT_ID, SLACK_CLIENT_SECRET and SLACK_STATE_SECRET on the gateway (docs/connectors/slack.md). Until then, fill in the settings below.',
      };
    }
  }
  return {
    unavailable: 'One-click connection for this platform is not available yet: fill in the settings below.',
  };
}

// --- small helpers ------------------------------------------------------------------------------

async function formOf(c: Context): Promise<Record<string, string>> {
  const body = await c.req.parseBody();
  const form: Record<string, string> = {};
  for (const [key, value] of Object.entries(body)) if (typeof value === 'string') form[key] = value;
  return form;
}

/** Only a path of the console itself: never an open redirect. */
function safeNext(next: string | undefined): string | undefined {
  return next?.startsWith(`${CONSOLE_BASE}/`) && !next.startsWith('//') && !next.includes('\\')
    ? next
    : undefined;
}

function slug(name: string): string {
  return name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 63);
}

function userMessage(error: unknown): string {
  if (isWabridgeError(error) && (error.status ?? 500) < 500) return error.message;
  throw error;
}

/** `policies: reorderWindowMs: …; templates[0].name: …` → one error per top-level key. */
function policyErrors(message: string): Record<string, string> {
  const errors: Record<string, string> = {};
  for (const part of message.replace(/^policies: /, '').split('; ')) {
    const key = /^([A-Za-z]+)/.exec(part)?.[1];
    const field =
      key && ['numberMasking', 'reorderWindowMs', 'optOutKeywords', 'templates'].includes(key)
        ? key
        : '_form';
    errors[field] = errors[field] ? `${errors[field]}; ${part}` : part;
  }
  return errors;
}

function messagePage(viewer: Viewer | null, title: string, text: string): Html {
  return page({
    title,
    viewer,
    body: html`<h1>${title}</h1><p>${text}</p><p><a href="${CONSOLE_BASE}/workspaces">Back to the workspaces</a></p>`,
  });
}

function notFound(viewer: Viewer | null): Response {
  return send(messagePage(viewer, 'Not found', 'There is no such page.'), 404);
}

function forbidden(viewer: Viewer): Response {
  return send(messagePage(viewer, 'Not allowed', 'Your role does not allow this.'), 403);
}

function refusedCsrf(): Response {
  return send(
    messagePage(
      null,
      'Form expired',
      'This form is stale or came from another site: go back, reload the page and try again.',
    ),
    403,
  );
}

export { CSS_PATH };
