import { readFileSync } from 'node:fs';
import { auditEntry, isWabridgeError, isWorkspaceRole, type Permission } from '@wabridge/core';
import { type Context, Hono } from 'hono';
import { signWorkspaceCheckpoint, verifyWorkspaceArchive } from '../../archive-operations.ts';
import { hubspotConnectLink } from '../../connect/hubspot.ts';
import { teamsConnectLink } from '../../connect/teams.ts';
import { connectorViews } from '../../connector-health.ts';
import type { Runtime } from '../../runtime.ts';
import { installLink } from '../../slack-install.ts';
import type { AdminEnv } from '../context.ts';
import { actorOf } from '../context.ts';
import { WORKSPACE_ID } from '../schemas.ts';
import { clearSessionCookie, requestOrigin, sessionCookie, setSessionCookie } from '../session.ts';
import { archivePages } from './archive-pages.ts';
import { formFields, readForm, schemaErrors } from './connector-form.ts';
import { type Html, html } from './html.ts';
import { CONSOLE_BASE, CSS_PATH, page } from './layout.ts';
import { doneMessage } from './messages.ts';
import { archivePage } from './pages/archive.ts';
import { type AuditRow, auditPage } from './pages/audit.ts';
import { connectorPage } from './pages/connector.ts';
import { healthPage } from './pages/health.ts';
import { membersPage } from './pages/members.ts';
import { policiesPage } from './pages/policies.ts';
import { signInPage } from './pages/sign-in.ts';
import { workspacePage } from './pages/workspace.ts';
import { workspaceUrl } from './pages/workspace-nav.ts';
import { workspacesPage } from './pages/workspaces.ts';
import type { SignInLinks } from './sign-in-links.ts';
import { type Viewer, viewerOf } from './viewer.ts';

export type { Viewer } from './viewer.ts';

const CSS = readFileSync(new URL('./console.css', import.meta.url), 'utf8');
const SCRIPT = readFileSync(new URL('./console.js', import.meta.url), 'utf8');
const DEAD_SHOWN = 200;
const AUDIT_SHOWN = 200;

/** Strict: no script, no inline style, forms post only here, never framed. */
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
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
type ConsoleEnv = AdminEnv;

/**
 * The console's pages under /admin (the JSON API is /admin/api). Mounted after the admin
 * middleware (../session.ts), which resolves the session into `principal` and refuses any POST of
 * a session without its CSRF token; here a page needs a session, and each act its permission.
 */
export function adminConsole(runtime: Runtime, options: { signInLinks?: SignInLinks } = {}) {
  const app = new Hono<ConsoleEnv>();
  const admin = runtime.admin;
  // Single sign-on starts at the API's redirect to the provider (../oidc.ts), which comes back to /admin.
  const sso = runtime.env.ADMIN_OIDC_ISSUER ? `${CONSOLE_BASE}/api/auth/oidc/login` : undefined;
  const signedIn = (c: Context<ConsoleEnv>): Viewer | null => {
    const principal = c.get('principal');
    const csrfToken = c.get('csrfToken');
    // The console is for people: an API token (no session, no CSRF token) does not open pages.
    return principal?.kind === 'session' && csrfToken ? viewerOf(principal, csrfToken) : null;
  };

  // Behind the middleware below, which answers every request without a viewer.
  const viewerIn = (c: Context<ConsoleEnv>): Viewer => {
    const viewer = signedIn(c);
    if (!viewer) throw new Error('console page reached without a session');
    return viewer;
  };

  app.get(
    '/assets/console.css',
    () =>
      new Response(CSS, {
        headers: { 'content-type': 'text/css; charset=utf-8', 'cache-control': 'max-age=300' },
      }),
  );

  app.get(
    '/assets/console.js',
    () =>
      new Response(SCRIPT, {
        headers: { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'max-age=300' },
      }),
  );

  /** Signs in through core's AdminAccess (throttled, audited) and sets the session cookie. */
  const startSession = async (c: Context<ConsoleEnv>, email: string, password: string) => {
    const origin = requestOrigin(c, runtime);
    // A new session on every sign-in (no fixation): the previous one of this browser ends.
    const previous = sessionCookie(c, runtime);
    const principal = previous ? await runtime.access.resolveSession(previous) : null;
    if (principal) await runtime.access.signOut({ actor: principal.actor, ...origin }, principal);
    const { sessionId } = await runtime.access.signIn({ email, password }, origin);
    setSessionCookie(c, runtime, sessionId);
  };

  app.get('/sign-in', (c) => {
    if (signedIn(c)) return c.redirect(`${CONSOLE_BASE}/workspaces`, 303);
    return send(signInPage({ next: safeNext(c.req.query('next')), sso }));
  });
  app.post('/sign-in', async (c) => {
    const form = await formOf(c);
    const email = form.email?.trim() ?? '';
    const next = safeNext(form.next);
    try {
      await startSession(c, email, form.password ?? '');
    } catch (error) {
      if (!isWabridgeError(error) || (error.code !== 'unauthorized' && error.code !== 'rate_limited'))
        throw error;
      const wait = error.code === 'rate_limited' ? Math.ceil((error.retryAfterMs ?? 1000) / 1000) : 0;
      const message =
        error.code === 'rate_limited'
          ? `Too many failed sign-ins: wait ${wait} s and try again.`
          : 'Wrong email or password.';
      const response = send(
        signInPage({ error: message, email, next, sso }),
        error.code === 'rate_limited' ? 429 : 401,
      );
      if (wait) response.headers.set('retry-after', String(wait));
      return response;
    }
    return c.redirect(next ?? `${CONSOLE_BASE}/workspaces`, 303);
  });
  // The demo's one-time link (only when the demo gave the app its SignInLinks).
  app.get('/sign-in/link/:token', async (c) => {
    const credentials = options.signInLinks?.take(c.req.param('token'));
    if (!credentials) {
      return send(
        signInPage({ error: 'This sign-in link was used already or has expired: sign in below.', sso }),
        410,
      );
    }
    await startSession(c, credentials.email, credentials.password);
    return c.redirect(`${CONSOLE_BASE}/workspaces`, 303);
  });

  // Every other page needs a session; the admin middleware has already checked a POST's CSRF token.
  app.use('*', async (c, next) => {
    if (c.req.path.startsWith(`${CONSOLE_BASE}/api/`)) return next();
    const viewer = signedIn(c);
    if (!viewer) {
      if (c.req.method !== 'GET')
        return send(messagePage(null, 'Signed out', 'Your session has ended: sign in again.'), 401);
      return c.redirect(`${CONSOLE_BASE}/sign-in?next=${encodeURIComponent(c.req.path)}`, 303);
    }
    await next();
  });

  app.post('/sign-out', async (c) => {
    const principal = c.get('principal');
    if (principal) await runtime.access.signOut(actorOf(c), principal);
    clearSessionCookie(c, runtime);
    return c.redirect(`${CONSOLE_BASE}/sign-in`, 303);
  });

  app.get('/', (c) => c.redirect(`${CONSOLE_BASE}/workspaces`, 303));

  app.get('/workspaces', async (c) => {
    const viewer = viewerIn(c);
    return send(
      workspacesPage(viewer, { ...(await workspacesData(runtime)), done: doneMessage(c.req.query('done')) }),
    );
  });

  app.post('/workspaces', async (c) => {
    const viewer = viewerIn(c);
    if (!viewer.can('global.workspace.create', null)) return forbidden(viewer);
    const form = await formOf(c);
    const name = (form.name ?? '').trim();
    const id = (form.id ?? '').trim() || slug(name);
    const errors: { id?: string; name?: string; form?: string } = {};
    if (!name) errors.name = 'Give the workspace a name.';
    else if (name.length > 200) errors.name = 'At most 200 characters.';
    if (!WORKSPACE_ID.safeParse(id).success)
      errors.id =
        'Lowercase letters, digits and dashes, 2 to 63 characters, starting with a letter or digit.';
    else if (await runtime.store.getWorkspace(id))
      errors.id = `A workspace with the id ${id} exists already.`;
    if (Object.keys(errors).length === 0) {
      try {
        await admin.createWorkspace(actorOf(c), { id, name });
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
  const workspaceOr404 = async (c: Context<ConsoleEnv>, permission: Permission) => {
    const viewer = viewerIn(c);
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
        await admin.addPhoneNumber(actorOf(c), workspace.id, {
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
    try {
      // Scoped: another workspace's number answers not_found, like a missing one.
      await admin.removePhoneNumber(actorOf(c), c.req.param('number'), workspace.id);
    } catch (error) {
      if (isWabridgeError(error) && error.code === 'not_found') return notFound(viewer);
      throw error;
    }
    runtime.routing.invalidate();
    return c.redirect(`${workspaceUrl(workspace.id)}?done=number-removed`, 303);
  });

  // --- Connectors
  const connectorOr404 = async (c: Context<ConsoleEnv>, permission: Permission) => {
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
      await admin.setConnector(actorOf(c), workspace.id, manifest.id, { enabled: false });
      runtime.routing.invalidate();
      return c.redirect(`${base}?done=connector-disabled`, 303);
    }
    if (action !== 'enable' && action !== 'save')
      return send(messagePage(viewer, 'Bad request', 'Unknown action.'), 400);
    const existing = await runtime.store.getConnector(workspace.id, manifest.id);
    const enabled = action === 'enable' ? true : (existing?.enabled ?? false);
    const { change, errors } = readForm(manifest, form);
    if (enabled) {
      // Field by field against the merged settings, as `setConnector` will check them whole; a
      // value that could not even be read keeps its own message.
      const stored = existing
        ? {
            ...existing.config,
            ...(existing.encryptedSecrets
              ? (JSON.parse(runtime.secrets.decrypt(existing.encryptedSecrets)) as object)
              : {}),
          }
        : {};
      const fromSchema = schemaErrors(manifest, { ...stored, ...change });
      for (const [key, message] of Object.entries(fromSchema)) errors[key] ??= message;
    }
    if (Object.keys(errors).length === 0) {
      try {
        await admin.setConnector(actorOf(c), workspace.id, manifest.id, {
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
    // As the API does: a test reaches the platform with the stored credentials.
    await runtime.store.appendAudit(
      auditEntry(actorOf(c), 'connector.test', workspace.id, { connectorId: manifest.id, ok: report.ok }),
    );
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
    if (form.archiveInternalNotes !== undefined) {
      if (form.archiveInternalNotes === 'true' || form.archiveInternalNotes === 'false')
        policies.archiveInternalNotes = form.archiveInternalNotes === 'true';
      else errors.archiveInternalNotes = 'Choose whether internal notes are archived.';
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
        await admin.updatePolicies(actorOf(c), workspace.id, policies);
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
    // This workspace's rows only: the queue-wide job counts (a scan of every job) are not needed.
    const [activity, settings, health, dead] = await Promise.all([
      runtime.store.workspaceActivity(workspace.id),
      runtime.store.listConnectors(workspace.id),
      runtime.store.connectorHealth(),
      runtime.store.listDeadJobs({ workspaceId: workspace.id, limit: DEAD_SHOWN }),
    ]);
    return send(
      healthPage(viewer, {
        workspace,
        activity,
        connectors: connectorViews(
          settings,
          health.filter((h) => h.workspaceId === workspace.id),
        ),
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
    await admin.replayDeadJobs(actorOf(c), body.scope === 'all' ? 'all' : ids, { workspaceId: workspace.id });
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

  app.get('/audit', async (c) => {
    const viewer = viewerIn(c);
    if (!viewer.can('global.audit.read', null)) return forbidden(viewer);
    const filter = {
      action: c.req.query('action')?.trim() || undefined,
      actor: c.req.query('actor')?.trim() || undefined,
    };
    const entries = await readAudit(runtime, null, filter, AUDIT_SHOWN + 1);
    return send(
      auditPage(viewer, {
        workspace: null,
        filter,
        entries: entries.slice(0, AUDIT_SHOWN),
        more: entries.length > AUDIT_SHOWN,
      }),
    );
  });

  // --- Members (roles in the workspace), with the same store and AdminAccess calls as the API
  const membersOf = async (workspaceId: string) => {
    const members = [];
    for (const grant of await runtime.store.listAdminGrants({ workspaceId })) {
      const account = await runtime.access.getAccount(grant.accountId);
      if (account)
        members.push({
          accountId: account.id,
          email: account.email,
          name: account.name,
          role: grant.role,
          grantedAt: grant.grantedAt,
        });
    }
    return members.sort((a, b) => a.email.localeCompare(b.email));
  };

  app.get('/workspaces/:ws/members', async (c) => {
    const found = await workspaceOr404(c, 'access.read');
    if ('response' in found) return found.response;
    const { viewer, workspace } = found;
    return send(
      membersPage(viewer, {
        workspace,
        members: await membersOf(workspace.id),
        done: doneMessage(c.req.query('done')),
      }),
    );
  });

  app.post('/workspaces/:ws/members', async (c) => {
    const found = await workspaceOr404(c, 'access.write');
    if ('response' in found) return found.response;
    const { viewer, workspace } = found;
    const form = await formOf(c);
    const email = (form.email ?? '').trim();
    const role = form.role ?? '';
    const errors: { email?: string; role?: string } = {};
    if (!isWorkspaceRole(role)) errors.role = 'Choose one of the roles.';
    const account = email ? await runtime.store.findAdminAccountByEmail(email) : null;
    if (!email) errors.email = 'The email of an existing account.';
    else if (!account) errors.email = `No account has the email ${email}: an owner creates it first.`;
    if (account && isWorkspaceRole(role) && Object.keys(errors).length === 0) {
      await runtime.access.setGrant(actorOf(c), { accountId: account.id, workspaceId: workspace.id, role });
      return c.redirect(`${workspaceUrl(workspace.id, '/members')}?done=granted`, 303);
    }
    return send(
      membersPage(viewer, {
        workspace,
        members: await membersOf(workspace.id),
        grant: { email, role, errors },
      }),
      400,
    );
  });

  app.post('/workspaces/:ws/members/:account/revoke', async (c) => {
    const found = await workspaceOr404(c, 'access.write');
    if ('response' in found) return found.response;
    const { viewer, workspace } = found;
    const accountId = c.req.param('account');
    const held = await runtime.store.listAdminGrants({ workspaceId: workspace.id, accountId });
    if (held.length === 0) return notFound(viewer);
    await runtime.access.setGrant(actorOf(c), { accountId, workspaceId: workspace.id, role: null });
    return c.redirect(`${workspaceUrl(workspace.id, '/members')}?done=revoked`, 303);
  });

  // --- Archive
  app.get('/workspaces/:ws/archive', async (c) => {
    const found = await workspaceOr404(c, 'archive.read');
    if ('response' in found) return found.response;
    const { viewer, workspace } = found;
    let verify: Parameters<typeof archivePage>[1]['verify'];
    if (c.req.query('verify') && viewer.can('archive.verify', workspace.id)) {
      verify = await verifyWorkspaceArchive(runtime, workspace.id);
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
    const { workspace } = found;
    await signWorkspaceCheckpoint(runtime, actorOf(c), workspace.id);
    return c.redirect(`${workspaceUrl(workspace.id, '/archive')}?done=checkpoint`, 303);
  });

  archivePages(app, runtime, { workspaceOr404, send, formOf, notFound, userMessage });

  app.notFound(async (c) => send(messagePage(signedIn(c), 'Not found', 'There is no such page.'), 404));
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
  runtime: Runtime,
  /** null: the global trail. */
  workspaceId: string | null,
  filter: { action?: string | undefined; actor?: string | undefined },
  limit: number,
): Promise<AuditRow[]> {
  // An action filter without a dot is a prefix too ("connector" finds connector.enable).
  const action = filter.action && !filter.action.includes('.') ? `${filter.action}.` : filter.action;
  const entries = await runtime.store.listAudit({
    workspaceId,
    ...(action ? { action } : {}),
    ...(filter.actor ? { actor: filter.actor } : {}),
    limit,
  });
  return entries.map(({ details, ...entry }) => {
    const { from, ...rest } = details as { from?: { ip?: string | null } };
    return { ...entry, from: from?.ip ?? null, details: rest };
  });
}

function connectTarget(
  runtime: Runtime,
  workspaceId: string,
  connectorId: string,
): { href: string } | { unavailable: string } {
  // Each platform's sign-in link (the same one `wabridge connector connect` prints), or what the
  // gateway needs before it can offer one.
  const links: Record<string, { link: () => string; needs: string; doc: string }> = {
    slack: {
      link: () => installLink(runtime.env, workspaceId),
      needs: '"Add to Slack" needs SLACK_CLIENT_ID, SLACK_CLIENT_SECRET and SLACK_STATE_SECRET',
      doc: 'docs/connectors/slack.md',
    },
    hubspot: {
      link: () => hubspotConnectLink(runtime.env, workspaceId),
      needs: '"Connect HubSpot" needs HUBSPOT_CLIENT_ID, HUBSPOT_CLIENT_SECRET and HUBSPOT_STATE_SECRET',
      doc: 'docs/connectors/hubspot.md',
    },
    teams: {
      link: () => teamsConnectLink(runtime.env, workspaceId),
      needs: '"Connect Teams" needs TEAMS_CLIENT_ID, TEAMS_CLIENT_SECRET and TEAMS_STATE_SECRET',
      doc: 'docs/connectors/teams.md',
    },
  };
  const target = links[connectorId];
  if (!target) {
    return {
      unavailable: 'One-click connection for this platform is not available yet: fill in the settings below.',
    };
  }
  try {
    return { href: target.link() };
  } catch {
    return {
      unavailable: `${target.needs} on the gateway (${target.doc}). Until then, fill in the settings below.`,
    };
  }
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
      key &&
      ['numberMasking', 'reorderWindowMs', 'archiveInternalNotes', 'optOutKeywords', 'templates'].includes(
        key,
      )
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

export { CSS_PATH };
