import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import {
  type ArchiveStore,
  type DiscoveryFileFormat,
  exportDiscovery,
  proveArchiveConsistency,
  proveArchiveRecord,
  verifyContactExport,
  verifyDiscoveryExport,
  verifyProofDocument,
  WabridgeError,
} from '@wabridge/core';
import { exportContactArchive } from '../archive-operations.ts';
import {
  actor,
  archiveVerify,
  masterKeysIfAny,
  noWorkspace,
  str,
  withArchiveReads,
  withRuntime,
} from './admin.ts';
import { err, out } from './output.ts';
import { type CommandInput, UsageError } from './parse.ts';

// `wabridge archive prove | consistency | verify-proof | verify --export`, `wabridge export` and
// `wabridge ediscovery`: proofs and exports of the archive (issue 18, items 2 and 7).

/** A whole number option, or a usage error naming it. */
function count(values: CommandInput['values'], name: string, required: boolean): number | undefined {
  const text = str(values[name]);
  if (text === undefined) {
    if (required) throw new UsageError(`--${name} is required`);
    return undefined;
  }
  if (!/^\d+$/.test(text)) throw new UsageError(`--${name} must be a whole number, got "${text}"`);
  return Number(text);
}

/** The workspace's log, or the global log, exists. */
async function knownLog(direct: ArchiveStore, log: string): Promise<void> {
  if (!(await direct.archiveReader.hasLog(log))) throw noWorkspace(log);
}

export async function archiveProve({ env, values, positionals }: CommandInput): Promise<void> {
  const [log = ''] = positionals;
  const seq = count(values, 'seq', true) as number;
  const size = count(values, 'size', false);
  const document = await withArchiveReads(env(), async (direct) => {
    await knownLog(direct, log);
    // With the master key the record's content is opened and carried, so the proof shows it too.
    return proveArchiveRecord(direct.archiveReader, log, seq, {
      ...(size === undefined ? {} : { size }),
      withContent: masterKeysIfAny(env()) !== undefined,
    });
  });
  out(JSON.stringify(document, null, 2));
}

export async function archiveConsistency({ env, values, positionals }: CommandInput): Promise<void> {
  const [log = ''] = positionals;
  const from = count(values, 'from', true) as number;
  const to = count(values, 'to', true) as number;
  const document = await withArchiveReads(env(), async (direct) => {
    await knownLog(direct, log);
    return proveArchiveConsistency(direct.archiveReader, log, from, to);
  });
  out(JSON.stringify(document, null, 2));
}

/** Reads a file, or standard input for `-`. */
async function readInput(path: string): Promise<string> {
  if (path !== '-') return readFile(resolve(path), 'utf8');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** `archive verify-proof <file|->`: no database, only the key. */
export async function archiveVerifyProof({ values, positionals }: CommandInput): Promise<void> {
  const [path = ''] = positionals;
  const key = str(values.key);
  if (!key) throw new UsageError('--key is required: the verifier key, from wabridge archive public-key');
  let document: unknown;
  try {
    document = JSON.parse(await readInput(path));
  } catch (error) {
    throw new WabridgeError(
      'bad_request',
      `${path} is not a proof document (JSON): ${error instanceof Error ? error.message : error}`,
    );
  }
  const verdict = verifyProofDocument(document, key);
  if (verdict.ok) out(`proof verifies: ${verdict.summary}`);
  else {
    out(`proof FAILS: ${verdict.reason}`);
    process.exitCode = 1;
  }
}

/** `archive verify <workspace>` checks the store; `archive verify --export <path>` an export, offline. */
export async function archiveVerifyCommand(input: CommandInput): Promise<void> {
  const file = str(input.values.export);
  if (file === undefined) {
    if (input.positionals.length === 0)
      throw new UsageError('give a workspace, or --export <file.zip | folder>');
    return archiveVerify(input);
  }
  if (input.positionals.length > 0) throw new UsageError('give a workspace or --export, not both');
  return archiveVerifyExport(file, input.values);
}

/** `archive verify --export <file.zip | folder>`: a contact export or an eDiscovery folder, offline. */
export async function archiveVerifyExport(path: string, values: CommandInput['values']): Promise<void> {
  const key = str(values.key);
  const { statSync } = await import('node:fs');
  const file = resolve(path);
  const isFolder = (() => {
    try {
      return statSync(file).isDirectory();
    } catch {
      return false;
    }
  })();
  // A folder is an eDiscovery export, a file a contact export.
  const verify = isFolder ? verifyDiscoveryExport : verifyContactExport;
  const report = await verify(file, key ? { verifierKey: key } : {});
  if (values.json) out(JSON.stringify(report));
  else if (report.ok) {
    out(
      `export of ${report.contactId ?? 'messages'} (workspace ${report.workspace}) is sound: ${report.records} records proved against the signed checkpoint of ${report.checkpointSize}` +
        (report.purged > 0 ? `; ${report.purged} of them purged (record and proof, no content)` : ''),
    );
  } else {
    const f = report.failure;
    const where =
      f?.seq === null || f?.seq === undefined
        ? ''
        : ` at record ${f.seq}${f.kind ? ` (${f.kind} ${f.entityId ?? ''})` : ''}`;
    out(`export FAILS${where}: ${f?.reason}: ${f?.message}`);
    process.exitCode = 1;
  }
  if (report.keySource === 'export') {
    err(
      'note: checked with the key inside the export; give --key <verifier key> obtained from the operator to prove its origin',
    );
  }
}

/** `wabridge export <workspace> --contact <number|BSUID> --out file.zip`. */
export async function exportCommand({ env, values, positionals }: CommandInput): Promise<void> {
  const [workspaceId = ''] = positionals;
  const contact = str(values.contact);
  const target = str(values.out);
  if (!contact) throw new UsageError('--contact is required: the contact’s number or BSUID');
  if (!target) throw new UsageError('--out is required: the ZIP file to write');
  const path = resolve(target);
  const { existsSync } = await import('node:fs');
  if (existsSync(path)) throw new WabridgeError('conflict', `${path} exists; choose a new file name`);
  const current = env();
  await withRuntime(current, async (runtime) => {
    if (!(await runtime.store.getWorkspace(workspaceId))) throw noWorkspace(workspaceId);
    // The same function as the admin API's download (archive-operations.ts).
    const result = await exportContactArchive(runtime, { workspaceId, contact, out: path, actor: actor() });
    out(
      `wrote ${result.path}: ${result.conversations} conversation(s), ${result.records} records, ${result.mediaFiles} media file(s); ` +
        `the export is record ${result.exportSeq}; verify with: wabridge archive verify --export ${target} --key "$(wabridge archive public-key ${workspaceId})"`,
    );
  });
}

function time(values: CommandInput['values'], name: string): number | undefined {
  const text = str(values[name]);
  if (text === undefined) return undefined;
  const at = Date.parse(text);
  if (Number.isNaN(at))
    throw new UsageError(`--${name} must be a date (2026-01-31 or 2026-01-31T12:00:00Z), got "${text}"`);
  return at;
}

const FORMATS: readonly DiscoveryFileFormat[] = ['jsonl', 'csv', 'html'];

/** `wabridge ediscovery <workspace> --out <folder> [--from --to --contact --keyword --format]`. */
export async function ediscoveryCommand({ env, values, positionals }: CommandInput): Promise<void> {
  const [workspaceId = ''] = positionals;
  const target = str(values.out);
  if (!target)
    throw new UsageError('--out is required: the folder to write (rerun with the same folder to continue)');
  const formats = (str(values.format) ?? 'jsonl,csv,html').split(',').map((f) => f.trim());
  const unknown = formats.filter((f) => !FORMATS.includes(f as DiscoveryFileFormat));
  if (unknown.length > 0)
    throw new UsageError(`--format takes jsonl, csv and html, not ${unknown.join(', ')}`);
  const from = time(values, 'from');
  const to = time(values, 'to');
  const contact = str(values.contact);
  const keyword = str(values.keyword);
  const filter = {
    ...(from === undefined ? {} : { from }),
    ...(to === undefined ? {} : { to }),
    ...(contact ? { contact } : {}),
    ...(keyword ? { keyword } : {}),
  };
  const tty = process.stderr.isTTY === true;
  const current = env();
  await withRuntime(current, async ({ store, secrets }) => {
    if (!(await store.getWorkspace(workspaceId))) throw noWorkspace(workspaceId);
    await withArchiveReads(current, async (direct) => {
      const result = await exportDiscovery({
        store: direct,
        secrets,
        workspaceId,
        filter,
        dir: resolve(target),
        formats: formats as DiscoveryFileFormat[],
        actor: actor(),
        ...(tty
          ? {
              onProgress: ({ scanned, matched, total }) => {
                const done = total === 0 ? 1 : scanned / total;
                const bar = '#'.repeat(Math.round(done * 30)).padEnd(30, '.');
                process.stderr.write(
                  `\r[${bar}] ${Math.floor(done * 100)}% ${scanned}/${total} records, ${matched} matched`,
                );
              },
            }
          : {}),
      });
      if (tty) process.stderr.write('\n');
      out(
        `${result.complete ? 'wrote' : 'stopped'} ${target}: ${result.matched} messages of ${result.total} records; ` +
          `the export is record ${result.exportSeq}; verify with: wabridge archive verify --export ${target} --key "$(wabridge archive public-key ${workspaceId})"`,
      );
    });
  });
}
