/**
 * What a page says after a change (Post/Redirect/Get): the redirect carries a code, never text, so
 * a crafted link cannot make the console say something it did not do.
 */
export const DONE_MESSAGES = {
  'workspace-created': 'Workspace created.',
  'number-added': 'Number added.',
  'number-removed': 'Number removed.',
  'connector-enabled': 'Saved and enabled.',
  'connector-saved': 'Saved.',
  'connector-disabled': 'Disabled: nothing more is delivered to it.',
  'policies-saved': 'Policies saved.',
  replayed: 'Dead letters queued again.',
  'nothing-selected': 'Nothing replayed: select at least one job, or replay all.',
  checkpoint: 'Checkpoint signed.',
  'hold-added': 'Legal hold placed.',
  'hold-released': 'Legal hold released.',
  'retention-saved': 'Retention rule saved.',
  'retention-run': 'Retention run done: the purge is in the audit trail (retention.purge).',
  erased: 'Erasure done: this is its certificate.',
  granted: 'Role granted.',
  revoked: 'Role revoked.',
} as const;

export type DoneCode = keyof typeof DONE_MESSAGES;

export function doneMessage(code: string | undefined): string | undefined {
  return code && Object.hasOwn(DONE_MESSAGES, code) ? DONE_MESSAGES[code as DoneCode] : undefined;
}
