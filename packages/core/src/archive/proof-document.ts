import { type Checkpoint, openCheckpoint } from './log/checkpoint.ts';
import { type Hash, leafHash, toHex } from './log/hash.ts';
import type { InclusionMemo } from './log/inclusion-memo.ts';
import { type NoteVerifier, noteVerifier } from './log/note.ts';
import { type ProofVerdict, verifyConsistency, verifyInclusion } from './log/verify.ts';
import { type CarriedContent, checkCarriedContent } from './record-content.ts';

// Proofs as self-contained JSON documents (issue 18, item 2): what `wabridge archive prove` and
// `archive consistency` print and what `archive verify-proof` checks with nothing but the log's
// public key. No database is involved in checking one: the signed checkpoint carries the tree
// size and root, the proof the sibling hashes, and the inclusion proof the record's own bytes
// (which commit to its content by a salted hash) with, when the prover could open it, the content
// and its salt, so the content is checked against the commitment too (src/archive/record-content.ts).

export const INCLUSION_PROOF_TYPE = 'wabridge.archive.inclusion-proof/v1';
export const CONSISTENCY_PROOF_TYPE = 'wabridge.archive.consistency-proof/v1';

/**
 * One record, its audit path (RFC 9162 §2.1.3) and the signed checkpoint it leads to; with its
 * content and salt when it has content and it was opened, or `purged` when it has none left.
 */
export interface InclusionProofDocument extends CarriedContent {
  readonly type: typeof INCLUSION_PROOF_TYPE;
  /** The log (workspace id, or `_global`). */
  readonly log: string;
  readonly seq: number;
  /** The record's canonical JSON, exactly the bytes the leaf hashes (UTF-8). */
  readonly record: string;
  /** The C2SP signed checkpoint (note text) the proof leads to. */
  readonly checkpoint: string;
  /** The audit path, leaf's sibling first, as hex. */
  readonly proof: readonly string[];
}

/** That the tree of one signed checkpoint is a prefix of the tree of another (RFC 9162 §2.1.4). */
export interface ConsistencyProofDocument {
  readonly type: typeof CONSISTENCY_PROOF_TYPE;
  readonly log: string;
  /** The older signed checkpoint. */
  readonly from: string;
  /** The newer signed checkpoint. */
  readonly to: string;
  readonly proof: readonly string[];
}

export type ProofDocument = InclusionProofDocument | ConsistencyProofDocument;

export type ProofDocumentVerdict =
  | { ok: true; summary: string }
  | { ok: false; reason: string; seq?: number };

export const hexProof = (proof: readonly Hash[]): string[] => proof.map(toHex);

/** Reads a hex proof; null when any element is not 64 hex digits. */
export function proofFromHex(proof: unknown): Hash[] | null {
  if (!Array.isArray(proof)) return null;
  const out: Hash[] = [];
  for (const element of proof) {
    if (typeof element !== 'string' || !/^[0-9a-f]{64}$/.test(element)) return null;
    out.push(new Uint8Array(Buffer.from(element, 'hex')));
  }
  return out;
}

/** A verifier from a key string; null with the reason when the key is not one. */
export function verifierFromKey(key: string): { verifier: NoteVerifier } | { reason: string } {
  try {
    return { verifier: noteVerifier(key.trim()) };
  } catch (error) {
    return { reason: `the key is not a verifier key: ${error instanceof Error ? error.message : error}` };
  }
}

/** Opens a checkpoint with the key; the key is named after the log's origin. */
export function openLogCheckpoint(
  note: unknown,
  verifier: NoteVerifier,
): { checkpoint: Checkpoint } | { reason: string } {
  if (typeof note !== 'string') return { reason: 'the checkpoint is missing' };
  const opened = openCheckpoint(note, { verifiers: [verifier], origin: verifier.name });
  return opened.ok
    ? { checkpoint: opened.checkpoint }
    : { reason: `the checkpoint does not verify: ${opened.reason}` };
}

/**
 * Checks one record's bytes against a verified checkpoint: that they are the leaf at `seq` (the
 * proof), and that they say they are record `seq` of `log` (so a record cannot be shown as another).
 */
export function checkRecordInclusion(
  input: { log: string; seq: number; record: string; proof: unknown },
  checkpoint: Checkpoint,
  /** For many records against this checkpoint: each proof walked until it meets the last one. */
  memo?: InclusionMemo,
): { ok: true; value: Record<string, unknown> } | { ok: false; reason: string } {
  const bytes = Buffer.from(input.record, 'utf8');
  let verdict: ProofVerdict | null;
  if (memo) {
    verdict = memo.check(input.seq, leafHash(bytes), input.proof);
  } else {
    const proof = proofFromHex(input.proof);
    verdict = proof && verifyInclusion(input.seq, checkpoint.size, leafHash(bytes), proof, checkpoint.root);
  }
  if (!verdict) return { ok: false, reason: 'its proof is not a list of 64-digit hex hashes' };
  if (!verdict.ok) return { ok: false, reason: `its inclusion proof fails: ${verdict.reason}` };
  let value: Record<string, unknown>;
  try {
    value = JSON.parse(input.record) as Record<string, unknown>;
  } catch {
    return { ok: false, reason: 'its bytes are not JSON' };
  }
  if (value.seq !== input.seq || value.workspace_id !== input.log) {
    return {
      ok: false,
      reason: `its bytes say record ${JSON.stringify(value.seq)} of ${JSON.stringify(value.workspace_id)}`,
    };
  }
  return { ok: true, value };
}

/** Verifies a proof document with the log's verifier key alone. Never throws. */
export function verifyProofDocument(document: unknown, verifierKey: string): ProofDocumentVerdict {
  const key = verifierFromKey(verifierKey);
  if ('reason' in key) return { ok: false, reason: key.reason };
  if (typeof document !== 'object' || document === null) return { ok: false, reason: 'not a proof document' };
  const doc = document as Record<string, unknown>;
  if (typeof doc.log !== 'string') return { ok: false, reason: 'the document names no log' };
  const log = doc.log;
  if (doc.type === INCLUSION_PROOF_TYPE) {
    if (!Number.isSafeInteger(doc.seq) || typeof doc.record !== 'string') {
      return { ok: false, reason: 'an inclusion proof needs a seq and the record' };
    }
    const seq = doc.seq as number;
    const opened = openLogCheckpoint(doc.checkpoint, key.verifier);
    if ('reason' in opened) return { ok: false, reason: opened.reason, seq };
    const checked = checkRecordInclusion(
      { log, seq, record: doc.record, proof: doc.proof },
      opened.checkpoint,
    );
    if (!checked.ok) return { ok: false, reason: `record ${seq}: ${checked.reason}`, seq };
    const content = checkCarriedContent(checked.value, doc as CarriedContent);
    if (!content.ok) return { ok: false, reason: `record ${seq}: ${content.reason}`, seq };
    const with_ =
      content.state === 'present'
        ? ', with the content it commits to'
        : content.state === 'absent'
          ? doc.purged === true
            ? '; its content was purged'
            : '; its content is not included'
          : '';
    return {
      ok: true,
      summary: `record ${seq} (${String(checked.value.kind)} ${String(checked.value.entity_id)}) of ${log} is in the signed tree of ${opened.checkpoint.size}${with_}`,
    };
  }
  if (doc.type === CONSISTENCY_PROOF_TYPE) {
    const from = openLogCheckpoint(doc.from, key.verifier);
    if ('reason' in from) return { ok: false, reason: `older ${from.reason}` };
    const to = openLogCheckpoint(doc.to, key.verifier);
    if ('reason' in to) return { ok: false, reason: `newer ${to.reason}` };
    const proof = proofFromHex(doc.proof);
    if (!proof) return { ok: false, reason: 'the proof is not a list of 64-digit hex hashes' };
    const a = from.checkpoint;
    const b = to.checkpoint;
    const verdict = verifyConsistency(a.size, b.size, a.root, b.root, proof);
    if (!verdict.ok)
      return {
        ok: false,
        reason: `the trees of ${a.size} and ${b.size} are not consistent: ${verdict.reason}`,
      };
    return {
      ok: true,
      summary: `the signed tree of ${b.size} extends the signed tree of ${a.size} of ${log}`,
    };
  }
  return { ok: false, reason: `unknown proof type ${JSON.stringify(doc.type)}` };
}
