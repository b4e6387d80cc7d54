import { readFileSync } from 'node:fs';
import {
  isGlobalPermission,
  PERMISSIONS,
  type Permission,
  ROLE_PERMISSIONS,
  WORKSPACE_ROLES,
} from '@wabridge/core';
import { describe, expect, it } from 'vitest';

/** docs/admin.md's roles table says what ROLE_PERMISSIONS does: a change to one shows in the other. */
describe('the roles table in docs/admin.md', () => {
  const doc = readFileSync(new URL('../../../../docs/admin.md', import.meta.url), 'utf8');
  const section = doc.slice(doc.indexOf('## Roles'), doc.indexOf('\n## ', doc.indexOf('## Roles') + 1));
  const rows = section
    .split('\n')
    .filter((line) => line.startsWith('| `'))
    .map((line) => {
      const cells = line.split('|').slice(1, -1);
      const permissions = [...(cells[0] ?? '').matchAll(/`([a-z]+\.[a-z]+)`/g)].map(
        (m) => m[1] as Permission,
      );
      return { permissions, marks: cells.slice(1).map((c) => c.trim() === '✓') };
    });

  it('has the columns admin, supervisor, compliance, auditor and marks exactly what each role may do', () => {
    expect(section).toContain('| permission | admin | supervisor | compliance | auditor |');
    expect(rows.length).toBeGreaterThan(5);
    for (const { permissions, marks } of rows)
      for (const permission of permissions) {
        expect(Object.keys(PERMISSIONS), permission).toContain(permission);
        WORKSPACE_ROLES.forEach((role, column) => {
          expect(marks[column], `${permission} for ${role}`).toBe(
            ROLE_PERMISSIONS[role].includes(permission),
          );
        });
      }
  });

  it('lists every permission a workspace role can hold', () => {
    const listed = new Set(rows.flatMap((r) => r.permissions));
    const held = new Set(WORKSPACE_ROLES.flatMap((role) => ROLE_PERMISSIONS[role]));
    for (const permission of held) expect(listed.has(permission), permission).toBe(true);
    for (const permission of held) expect(isGlobalPermission(permission)).toBe(false);
  });
});
