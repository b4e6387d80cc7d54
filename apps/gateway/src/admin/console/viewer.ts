import { can, type Permission, type Principal, ROLE_LABELS } from '@wabridge/core';

/**
 * Who is looking at a console page, as the pages need it: what they may do where, and the CSRF
 * token their forms carry. Made from the principal the admin middleware resolved (../README.md);
 * the pages never decide permissions themselves, they ask `can` (core's one table of roles).
 */
export interface Viewer {
  /** Shown in the top bar (the account's email). */
  label: string;
  /** `null` asks about the deployment (creating workspaces), not one workspace. */
  can(permission: Permission, workspaceId: string | null): boolean;
  /** The viewer's role in a workspace, for the top bar ("Owner", "Auditor" …), or null. */
  roleIn(workspaceId: string): string | null;
  /** Sent back as the `_csrf` field of every form that changes something. */
  csrfToken: string;
}

export function viewerOf(principal: Principal, csrfToken: string): Viewer {
  return {
    label: principal.actor.replace(/^account:/, ''),
    can: (permission, workspaceId) =>
      workspaceId === null ? can(principal, permission) : can(principal, permission, workspaceId),
    roleIn: (workspaceId) => {
      if (principal.owner) return ROLE_LABELS.owner;
      const role = principal.grants.get(workspaceId);
      return role ? ROLE_LABELS[role] : null;
    },
    csrfToken,
  };
}
