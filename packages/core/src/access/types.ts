import type { WorkspaceRole } from './roles.ts';

export interface AdminAccount {
  id: string;
  email: string;
  name: string;
  owner: boolean;
  createdAt: number;
  disabledAt: number | null;
}

/** An account with its password hash: only the sign-in code reads this. */
export interface AdminAccountRecord extends AdminAccount {
  passwordHash: string | null;
}

export interface AdminGrant {
  accountId: string;
  workspaceId: string;
  role: WorkspaceRole;
  grantedAt: number;
}

export interface AdminSessionRecord {
  idHash: string;
  accountId: string;
  createdAt: number;
  lastSeenAt: number;
  ip: string | null;
  userAgent: string | null;
}

export interface ApiToken {
  id: string;
  name: string;
  workspaceId: string;
  role: WorkspaceRole;
  /** The account that created it. */
  createdBy: string;
  createdAt: number;
  lastUsedAt: number | null;
  revokedAt: number | null;
}

export interface ApiTokenRecord extends ApiToken {
  tokenHash: string;
}
