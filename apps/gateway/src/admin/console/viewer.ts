/**
 * Who is looking at a console page, as the pages need it: the actor named in the audit trail, what
 * they may do where, and the CSRF token their forms carry. Built from the session by the auth
 * layer (../README.md); the pages never decide permissions themselves, they ask `can`.
 */
export type ConsolePermission =
  | 'global.workspace.create'
  | 'workspace.read'
  | 'workspace.update'
  | 'number.read'
  | 'number.write'
  | 'connector.read'
  | 'connector.write'
  | 'connector.test'
  | 'health.read'
  | 'deadletter.replay'
  | 'audit.read'
  | 'archive.read'
  | 'archive.verify';

export interface Viewer {
  /** Shown in the top bar (an email or a name). */
  label: string;
  /** `null` asks about the deployment (creating workspaces), not one workspace. */
  can(permission: ConsolePermission, workspaceId: string | null): boolean;
  /** The viewer's role in a workspace, for the top bar (`owner`, `auditor` …), or null. */
  roleIn(workspaceId: string): string | null;
  /** Sent back as the `_csrf` field of every form that changes something. */
  csrfToken: string;
}
