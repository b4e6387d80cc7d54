import { createHash } from 'node:crypto';

// The layout of a contact export, shared by the writer and the offline verifier.

export const CONTACT_EXPORT_FORMAT = 'wabridge.contact-export/v1';

export interface ExportManifest {
  readonly format: typeof CONTACT_EXPORT_FORMAT;
  readonly workspace: string;
  readonly contact_id: string;
  readonly generated_at: string;
  /** The archive record of the export itself (an `archive.export` admin act). */
  readonly export_seq: number;
  /** The records exported, in log order (the export record not included). */
  readonly record_seqs: readonly number[];
  readonly checkpoint_size: number;
  readonly media: ReadonlyArray<{ readonly path: string; readonly sha256: string }>;
  /** Entities of the contact that have no archive record (stored before the archive existed). */
  readonly not_archived: readonly string[];
  /** Exported records whose content was purged (retention, erasure): record and proof, no content. */
  readonly purged_seqs: readonly number[];
  /** Conversations whose processing is restricted (GDPR art. 18), exported all the same (art. 15). */
  readonly restricted_conversations: readonly string[];
}

/** What the export record commits to: the list of exported seqs. */
export const digestSeqs = (seqs: readonly number[]): string =>
  createHash('sha256').update(seqs.join(',')).digest('hex');

/** What the export record commits to: each media file's path and SHA-256. */
export const digestMedia = (files: ReadonlyArray<{ path: string; sha256: string }>): string =>
  createHash('sha256')
    .update(files.map((f) => `${f.path} ${f.sha256}\n`).join(''))
    .digest('hex');
