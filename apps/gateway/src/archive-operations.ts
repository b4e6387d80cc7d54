import { createReadStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import {
  type AuditActor,
  auditEntry,
  type ContactExportResult,
  type ErasureCertificate,
  exportContact,
  type Message,
  signArchiveCheckpoint,
  verifyArchive,
  WabridgeError,
} from '@wabridge/core';
import type { Runtime } from './runtime.ts';

// The archive operations that need more than one store call, shared by the CLI, the admin API
// and the console (holds, retention and erasure are the store's and `ArchiveGovernance`'s own
// functions, called directly by all three).

const noWorkspace = (id: string) =>
  new WabridgeError('not_found', `workspace ${id} does not exist`, { status: 404 });

/**
 * Writes one contact's export (ZIP) to `out`, which must not exist: the contact's data, proofs
 * and the media wabridge has kept or can still fetch. The export records itself (audit trail and
 * log) under `actor`.
 */
export async function exportContactArchive(
  runtime: Runtime,
  input: { workspaceId: string; contact: string; out: string; actor: string },
): Promise<ContactExportResult> {
  const { workspaceId } = input;
  if (!(await runtime.store.getWorkspace(workspaceId))) throw noWorkspace(workspaceId);
  return runtime.withArchiveStore((direct) =>
    exportContact({
      store: direct,
      secrets: runtime.secrets,
      workspaceId,
      contact: input.contact,
      out: input.out,
      actor: input.actor,
      // Media wabridge has kept or can still fetch; a file WhatsApp no longer serves is left out.
      // A restricted conversation's files are included: art. 15 covers restricted data.
      media: (messageId) =>
        runtime.media.fetch(workspaceId, messageId, { restricted: 'include' }).catch(() => null),
    }),
  );
}

/** `archive verify` of a workspace's log, with its contents checked (the runtime has the keys). */
export async function verifyWorkspaceArchive(runtime: Runtime, workspaceId: string) {
  return runtime.withArchiveStore(async (direct) =>
    verifyArchive(direct.archiveReader, workspaceId, {
      keyring: await direct.archiveReader.dataKeys(workspaceId),
    }),
  );
}

/** Signs a checkpoint of the workspace's log as it is now; an admin act (`archive.checkpoint`). */
export async function signWorkspaceCheckpoint(
  runtime: Runtime,
  actor: AuditActor,
  workspaceId: string,
): Promise<{ size: number; note: string }> {
  const { note, checkpoint } = await runtime.withArchiveStore((direct) =>
    signArchiveCheckpoint(direct.archiveReader, runtime.secrets, workspaceId),
  );
  await runtime.store.appendAudit(
    auditEntry(actor, 'archive.checkpoint', workspaceId, { size: checkpoint.size }),
  );
  return { size: checkpoint.size, note };
}

export interface TranscriptLine {
  id: string;
  direction: Message['direction'];
  type: string;
  timestamp: number;
  text: string | null;
  author: string | null;
  /** Purged by retention or erased: the row stays, its content is gone. */
  contentRemoved: boolean;
}

const TRANSCRIPT_LIMIT = 10_000;

/**
 * One conversation as a compliance officer or auditor reads it (oldest first). A restricted
 * conversation (GDPR art. 18) is served no more: its lines come without text. Reading is an
 * admin act too (`archive.transcript`), as access to personal data.
 */
export async function conversationTranscript(
  runtime: Runtime,
  actor: AuditActor,
  workspaceId: string,
  conversationId: string,
) {
  const conversation = await runtime.store.getConversation(workspaceId, conversationId);
  if (!conversation)
    throw new WabridgeError('not_found', `no conversation ${conversationId} in workspace ${workspaceId}`, {
      status: 404,
    });
  const messages = await runtime.store.listMessages(workspaceId, conversationId, { limit: TRANSCRIPT_LIMIT });
  const restricted = conversation.restrictedAt !== null;
  // The store answers them in time order.
  const lines: TranscriptLine[] = messages.map((m) => ({
    id: m.id,
    direction: m.direction,
    type: m.type,
    timestamp: m.timestamp,
    text: restricted ? null : m.text,
    author: m.sender ? senderName(m.sender) : null,
    contentRemoved: m.text === null && Object.keys(m.content).length === 0,
  }));
  await runtime.store.appendAudit(
    auditEntry(actor, 'archive.transcript', workspaceId, { conversation: conversationId }),
  );
  return {
    conversation: {
      id: conversation.id,
      contactId: conversation.contactId,
      createdAt: conversation.createdAt,
      erasedAt: conversation.erasedAt,
      restrictedAt: conversation.restrictedAt,
    },
    messages: lines,
  };
}

/** The agent and where they wrote from: `Ana (slack)`. */
function senderName(sender: NonNullable<Message['sender']>): string {
  const who = sender.agentName ?? sender.agentId;
  return who ? `${who} (${sender.via})` : sender.via;
}

/** The workspace's erasures, newest first, from their audit entries (whose details are the certificate). */
export async function listErasures(runtime: Runtime, workspaceId: string, limit = 200) {
  const entries = await runtime.store.listAudit({ workspaceId, action: 'erasure', limit });
  return entries.flatMap((entry) => {
    const certificate = (entry.details as { certificate?: ErasureCertificate }).certificate;
    if (!certificate) return [];
    return [
      {
        id: certificate.id,
        outcome: certificate.outcome,
        requestedBy: certificate.requestedBy,
        requestedAt: certificate.requestedAt,
        reason: certificate.reason,
        conversations: certificate.wabridge.conversations.length,
      },
    ];
  });
}

/**
 * Writes the export into a private temporary folder of the data directory and streams it: the
 * folder is removed once the file is open (the open file stays readable until the stream ends or
 * the client goes away), so nothing of it stays on disk.
 */
export async function exportZip(runtime: Runtime, workspaceId: string, contact: string, actor: string) {
  const dir = await mkdtemp(join(runtime.env.dataDir, 'export-'));
  try {
    const path = join(dir, 'export.zip');
    const result = await exportContactArchive(runtime, { workspaceId, contact, out: path, actor });
    const file = createReadStream(path);
    await new Promise<void>((resolve, reject) => {
      file.once('open', () => resolve());
      file.once('error', reject);
    });
    return {
      stream: Readable.toWeb(file) as ReadableStream<Uint8Array>,
      filename: `${workspaceId}-${result.contactId}.zip`,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
