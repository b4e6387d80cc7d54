import {
  type AuditActor,
  can,
  isGlobalPermission,
  type Permission,
  type Principal,
  type RequestOrigin,
  WabridgeError,
} from '@wabridge/core';
import type { Context } from 'hono';
import type { Runtime } from '../runtime.ts';

/** What the admin middleware puts on every request under /admin (see README.md beside this file). */
export interface AdminVariables {
  /** Who is signed in (session cookie) or calling (API token); null when neither. */
  principal: Principal | null;
  /** The CSRF token of the session (null without a session): for forms and the console's fetches. */
  csrfToken: string | null;
  /** Client IP and user agent, for throttling and the audit trail. */
  origin: RequestOrigin;
}

export type AdminEnv = { Variables: AdminVariables };
export type AdminContext = Context<AdminEnv>;

/** The principal, or 401. */
export function requirePrincipal(c: AdminContext): Principal {
  const principal = c.get('principal');
  if (!principal)
    throw new WabridgeError('unauthorized', 'sign in first (or send an API token)', { status: 401 });
  return principal;
}

/**
 * The one answer for a workspace that does not exist and for one the caller may not see: the
 * same status and body, so probing ids tells nothing.
 */
export function workspaceNotFound(workspaceId: string): WabridgeError {
  return new WabridgeError('not_found', `workspace ${workspaceId} does not exist`, { status: 404 });
}

/**
 * Checks that the caller may do `permission` (in `workspaceId` for workspace permissions):
 * 401 without a principal; 404 for a workspace that is missing or not theirs; 403 when they see the
 * workspace but their role does not allow the act. Returns the principal.
 *
 * @example const principal = await authorize(c, runtime, 'connector.write', workspaceId)
 */
export async function authorize(
  c: AdminContext,
  runtime: Runtime,
  permission: Permission,
  workspaceId?: string,
): Promise<Principal> {
  const principal = requirePrincipal(c);
  if (isGlobalPermission(permission) || workspaceId === undefined) {
    if (!can(principal, permission)) throw forbidden(permission);
    return principal;
  }
  const visible = principal.owner || principal.grants.has(workspaceId);
  if (!visible || !(await runtime.store.getWorkspace(workspaceId))) throw workspaceNotFound(workspaceId);
  if (!can(principal, permission, workspaceId)) throw forbidden(permission);
  return principal;
}

function forbidden(permission: Permission): WabridgeError {
  return new WabridgeError('forbidden', `your role does not allow this (${permission})`, { status: 403 });
}

/** How the audit trail names the caller of this request, with where it came from. */
export function actorOf(c: AdminContext): AuditActor {
  const principal = requirePrincipal(c);
  return { actor: principal.actor, ...c.get('origin') };
}
