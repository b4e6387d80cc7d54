import { describe, expect, it } from 'vitest';
import { hashPassword, verifyPassword } from './password.ts';
import {
  can,
  PERMISSIONS,
  type Permission,
  type Principal,
  ROLE_PERMISSIONS,
  WORKSPACE_ROLES,
} from './roles.ts';
import { lockedUntil } from './throttle.ts';

const CHEAP = { N: 2 ** 10, r: 8, p: 1 };
const principal = (grants: Record<string, (typeof WORKSPACE_ROLES)[number]>, owner = false): Principal => ({
  kind: 'session',
  accountId: 'acc_1',
  actor: 'account:a@example.com',
  owner,
  grants: new Map(Object.entries(grants)),
});

describe('password hashes', () => {
  it('store their salt and scrypt parameters, differ for the same password, and verify only the right one', async () => {
    const one = await hashPassword('correct horse battery', CHEAP);
    const two = await hashPassword('correct horse battery', CHEAP);
    expect(one).toMatch(/^scrypt\$1024\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
    expect(one).not.toBe(two);
    expect(await verifyPassword('correct horse battery', one)).toBe(true);
    expect(await verifyPassword('correct horse batterx', one)).toBe(false);
    expect(await verifyPassword('correct horse battery', 'bcrypt$whatever')).toBe(false);
  });
});

describe('roles', () => {
  const all = Object.keys(PERMISSIONS) as Permission[];
  it('give an owner every permission everywhere, and a role nothing outside its workspace', () => {
    for (const permission of all) expect(can(principal({}, true), permission, 'any')).toBe(true);
    for (const role of WORKSPACE_ROLES)
      for (const permission of all) expect(can(principal({ acme: role }), permission, 'other')).toBe(false);
  });
  it('never give a workspace role a global permission', () => {
    for (const role of WORKSPACE_ROLES) {
      expect(ROLE_PERMISSIONS[role].filter((p) => p.startsWith('global.'))).toEqual([]);
      expect(can(principal({ acme: role }), 'global.workspace.create')).toBe(false);
    }
  });
  it('keep the supervisor and the auditor read-only', () => {
    const changes = all.filter((p) => !/\.(read|verify)$/.test(p));
    for (const role of ['supervisor', 'auditor'] as const)
      for (const permission of changes)
        expect(can(principal({ acme: role }), permission, 'acme')).toBe(false);
    expect(can(principal({ acme: 'auditor' }), 'audit.read', 'acme')).toBe(true);
    expect(can(principal({ acme: 'supervisor' }), 'health.read', 'acme')).toBe(true);
    expect(can(principal({ acme: 'compliance' }), 'archive.erase', 'acme')).toBe(true);
    expect(can(principal({ acme: 'compliance' }), 'connector.write', 'acme')).toBe(false);
  });
});

describe('login throttle', () => {
  const policy = { baseMs: 1000, maxMs: 60_000, resetMs: 3_600_000 };
  it('waits only past the free failures, doubling per failure up to the cap, and forgets after resetMs', () => {
    expect(lockedUntil({ failures: 4, lastAt: 0 }, 5, 0, policy)).toBe(0);
    expect(lockedUntil({ failures: 5, lastAt: 0 }, 5, 0, policy)).toBe(1000);
    expect(lockedUntil({ failures: 7, lastAt: 0 }, 5, 0, policy)).toBe(4000);
    expect(lockedUntil({ failures: 7, lastAt: 0 }, 5, 4000, policy)).toBe(0);
    expect(lockedUntil({ failures: 99, lastAt: 0 }, 5, 0, policy)).toBe(60_000);
    expect(lockedUntil({ failures: 99, lastAt: 0 }, 5, 3_600_000, policy)).toBe(0);
  });
});
