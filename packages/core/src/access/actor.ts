/**
 * Who did something, for the audit trail: a plain name (`cli:ana`, `test`) or, from the admin API,
 * the principal's name and where the request came from. Never a secret.
 */
export type AuditActor = string | { actor: string; ip?: string | null; userAgent?: string | null };

/** The `actor` column and the `from` detail of an audit entry. */
export function auditActor(actor: AuditActor): {
  actor: string;
  from?: { ip: string | null; userAgent: string | null };
} {
  if (typeof actor === 'string') return { actor };
  return {
    actor: actor.actor,
    from: { ip: actor.ip ?? null, userAgent: actor.userAgent?.slice(0, 300) ?? null },
  };
}

/** An audit entry's fields from its actor, action, workspace and details. */
export function auditEntry(
  actor: AuditActor,
  action: string,
  workspaceId: string | null,
  details: Record<string, unknown>,
): { actor: string; action: string; workspaceId: string | null; details: Record<string, unknown> } {
  const { actor: name, from } = auditActor(actor);
  return { actor: name, action, workspaceId, details: from ? { ...details, from } : details };
}
