/**
 * Who may do what in the admin API and console (issue 19). One table, read by every route: a route
 * declares the permission it needs and `can` answers from here, so a role's powers are visible in
 * one place and the authorization test walks every route against every role.
 */

/** Roles granted per workspace. `owner` is not among them: it is a flag of the account (global). */
export const WORKSPACE_ROLES = ['admin', 'supervisor', 'compliance', 'auditor'] as const;
export type WorkspaceRole = (typeof WORKSPACE_ROLES)[number];

export const ROLE_LABELS: Record<WorkspaceRole | 'owner', string> = {
  owner: 'Owner',
  admin: 'Workspace admin',
  supervisor: 'Supervisor',
  compliance: 'Compliance officer',
  auditor: 'Auditor',
};

/** Everything a workspace role can be allowed to do; `global.*` needs an owner. */
export const PERMISSIONS = {
  'workspace.read': 'see the workspace, its name and policies',
  'workspace.update': 'rename the workspace, change its policies and routing',
  'workspace.delete': 'delete the workspace and everything it holds',
  'number.read': 'list its WhatsApp numbers',
  'number.write': 'add and remove WhatsApp numbers',
  'connector.read': 'see connector settings (secrets masked)',
  'connector.write': 'enable, disable and configure connectors',
  'connector.test': 'test a connector against its platform',
  'health.read': 'see connector health, the queue and dead letters',
  'deadletter.replay': 'replay dead-lettered jobs',
  'conversation.read': 'read conversations',
  'audit.read': 'read the audit trail',
  'archive.read': 'search the archive and read transcripts',
  'archive.verify': 'verify the archive log',
  'archive.hold': 'place and lift legal holds',
  'archive.erase': 'erase a contact from the archive',
  'archive.export': 'export from the archive',
  'access.read': 'see who holds which role and the API tokens',
  'access.write': 'grant and revoke roles, create and revoke API tokens',
  'global.workspace.create': 'create workspaces',
  'global.account.write': 'create accounts and owners',
  'global.account.read': 'list every account',
  'global.audit.read': 'read the global audit trail (acts on no workspace)',
} as const;
export type Permission = keyof typeof PERMISSIONS;

const READ_ONLY_AUDIT = ['workspace.read', 'audit.read', 'archive.read', 'archive.verify'] as const;

/** The permissions of each workspace role. An owner has every permission on every workspace. */
export const ROLE_PERMISSIONS: Record<WorkspaceRole, readonly Permission[]> = {
  admin: [
    'workspace.read',
    'workspace.update',
    'number.read',
    'number.write',
    'connector.read',
    'connector.write',
    'connector.test',
    'health.read',
    'deadletter.replay',
    'conversation.read',
    'audit.read',
    'access.read',
    'access.write',
  ],
  supervisor: ['workspace.read', 'health.read', 'conversation.read'],
  compliance: [...READ_ONLY_AUDIT, 'conversation.read', 'archive.hold', 'archive.erase', 'archive.export'],
  auditor: [...READ_ONLY_AUDIT],
};

export function isWorkspaceRole(value: unknown): value is WorkspaceRole {
  return typeof value === 'string' && (WORKSPACE_ROLES as readonly string[]).includes(value);
}

export function isGlobalPermission(permission: Permission): boolean {
  return permission.startsWith('global.');
}

/**
 * Who is asking: an account signed in with a session, or an API token. A token acts with exactly
 * one role in exactly one workspace, whatever its creator may do.
 */
export interface Principal {
  kind: 'session' | 'token';
  /** The account (a session's, or the token's creator). */
  accountId: string;
  /** How the audit trail names them: `account:ana@example.com`, `token:tok_…`. */
  actor: string;
  owner: boolean;
  /** Role per workspace id. */
  grants: ReadonlyMap<string, WorkspaceRole>;
  /** Set for sessions (the session's id hash), to log it out. */
  sessionIdHash?: string;
  tokenId?: string;
}

/**
 * Whether `principal` may do `permission` in `workspaceId` (global permissions take none).
 *
 * @example can(principal, 'connector.write', 'acme')
 */
export function can(principal: Principal, permission: Permission, workspaceId?: string): boolean {
  if (principal.owner) return true;
  if (isGlobalPermission(permission) || workspaceId === undefined) return false;
  const role = principal.grants.get(workspaceId);
  return role !== undefined && ROLE_PERMISSIONS[role].includes(permission);
}

/** The workspaces `principal` can see at all (`null`: every one, for an owner). */
export function visibleWorkspaces(principal: Principal): Set<string> | null {
  return principal.owner ? null : new Set(principal.grants.keys());
}
