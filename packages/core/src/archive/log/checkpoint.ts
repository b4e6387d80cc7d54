import { WabridgeError } from '../../errors/index.ts';
import { type Hash, isHash } from './hash.ts';
import type { TreeHead } from './merkle-log.ts';
import { type NoteSigner, type NoteVerifier, openNote, signNote, strictBase64 } from './note.ts';

// Checkpoints as C2SP tlog-checkpoint specifies them (https://c2sp.org/tlog-checkpoint): a signed
// note whose text is the log's origin, the tree size in decimal and the root hash in base64, one
// per line, then optional extension lines:
//
//   wabridge.example.com/archive/acme
//   8
//   XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=
//
//   — wabridge.example.com/archive/acme R1v6ViKWyb8hi/GkeZ0G7gN+exFYP/TZyR9jWDNBXFS0Fx6JGaOaj…
//
// The origin names the log (one per workspace): a checkpoint of one workspace's log never passes
// for another's, even under the same key.

export interface Checkpoint extends TreeHead {
  /** The log's identity, e.g. `wabridge.example.com/archive/acme`. */
  readonly origin: string;
  /** Opaque extension lines; the spec advises against them, so wabridge writes none. */
  readonly extensions?: readonly string[];
}

/** The note text of a checkpoint (before signing). */
export function formatCheckpoint(checkpoint: Checkpoint): string {
  const { origin, size, root, extensions = [] } = checkpoint;
  if (origin.length === 0 || /[\n\r]/.test(origin)) {
    throw new WabridgeError('bad_request', 'a checkpoint origin must be one non-empty line');
  }
  if (!Number.isSafeInteger(size) || size < 0)
    throw new WabridgeError('bad_request', `bad tree size ${size}`);
  if (!isHash(root)) throw new WabridgeError('bad_request', 'a checkpoint root must be a 32-byte hash');
  if (extensions.some((line) => line.length === 0 || line.includes('\n'))) {
    throw new WabridgeError('bad_request', 'checkpoint extension lines must be non-empty single lines');
  }
  const lines = [origin, String(size), Buffer.from(root).toString('base64'), ...extensions];
  return `${lines.join('\n')}\n`;
}

/** Reads a checkpoint's note text; throws a `bad_request` when it is not one. */
export function parseCheckpoint(text: string): Checkpoint {
  const parsed = readCheckpoint(text);
  if (typeof parsed === 'string') throw new WabridgeError('bad_request', `malformed checkpoint: ${parsed}`);
  return parsed;
}

/** Formats and signs a checkpoint: the text to publish, store beside exports and give to auditors. */
export function signCheckpoint(checkpoint: Checkpoint, signer: NoteSigner): string {
  return signNote(formatCheckpoint(checkpoint), [signer]);
}

export type CheckpointVerdict = { ok: true; checkpoint: Checkpoint } | { ok: false; reason: string };

/**
 * Verifies a signed checkpoint: signed by one of `verifiers`, well-formed, and for `origin`.
 * Nothing throws: a bad checkpoint is an answer, with the reason.
 */
export function openCheckpoint(
  note: string | Uint8Array,
  options: { verifiers: readonly NoteVerifier[]; origin: string },
): CheckpointVerdict {
  const opened = openNote(note, options.verifiers);
  if (!opened.ok) return opened;
  const checkpoint = readCheckpoint(opened.text);
  if (typeof checkpoint === 'string') return { ok: false, reason: `malformed checkpoint: ${checkpoint}` };
  if (checkpoint.origin !== options.origin) {
    return {
      ok: false,
      reason: `the checkpoint is for ${JSON.stringify(checkpoint.origin)}, not ${JSON.stringify(options.origin)}`,
    };
  }
  return { ok: true, checkpoint };
}

// The checkpoint, or why the text is not one.
function readCheckpoint(text: string): Checkpoint | string {
  if (!text.endsWith('\n')) return 'the text must end with a newline';
  const lines = text.slice(0, -1).split('\n');
  const [origin, sizeLine, rootLine, ...extensions] = lines;
  if (origin === undefined || sizeLine === undefined || rootLine === undefined) {
    return 'it needs an origin, a tree size and a root hash';
  }
  if (origin.length === 0) return 'the origin is empty';
  if (!/^(0|[1-9][0-9]*)$/.test(sizeLine) || !Number.isSafeInteger(Number(sizeLine))) {
    return 'the tree size must be a decimal number without leading zeros';
  }
  const root = strictBase64(rootLine);
  if (root?.byteLength !== 32) return 'the root hash must be 32 bytes in base64';
  if (extensions.some((line) => line.length === 0)) return 'extension lines must not be empty';
  return {
    origin,
    size: Number(sizeLine),
    root: root as Hash,
    ...(extensions.length > 0 ? { extensions } : {}),
  };
}
