import {
  type ArchiveStore,
  archiveVerifierKey,
  type KeyRotationStore,
  keyRotationStoreOf,
  noopMetrics,
  openSqliteStore,
  type PlatformEvent,
  preparePrivateDatabaseFile,
  type SqliteStore,
  type Store,
  signArchiveCheckpoint,
  type UnroutedEvent,
  verifyArchive,
  WabridgeError,
  type WorkspacePolicies,
} from '@wabridge/core';
import { hubspotConnectLink } from '../connect/hubspot.ts';
import { teamsConnectLink } from '../connect/teams.ts';
import { defaultRegistry } from '../connectors.ts';
import type { Env } from '../env.ts';
import { createLogger } from '../logger.ts';
import { createRuntime, loadMasterKeys, type Runtime } from '../runtime.ts';
import { installLink } from '../slack-install.ts';
import {
  archiveStoreOf,
  backupOnPostgres,
  openChosenStore,
  sqliteOnly,
  usesPostgres,
} from '../store-choice.ts';
import { connectorSettingsInput } from './connector-config.ts';
import { out, table } from './output.ts';
import { type CommandInput, UsageError } from './parse.ts';
import { loadConfigFile } from './serve.ts';
import { printStatus } from './status.ts';

export { UsageError } from './parse.ts';

/** Runs `run` with a runtime of this process (no worker, no HTTP), closed afterwards. */
export async function withRuntime<T>(env: Env, run: (runtime: Runtime) => Promise<T>): Promise<T> {
  const runtime = await createRuntime({
    env,
    registry: defaultRegistry(),
    // Logs go to stderr: stdout carries the command's result (a table, JSON lines to export).
    logger: createLogger(env.LOG_LEVEL === 'info' ? 'warn' : env.LOG_LEVEL, process.stderr, {
      pretty: env.devMode && process.stderr.isTTY === true,
    }),
    metrics: noopMetrics,
    worker: false,
    // One-shot commands: the development key's warning when it is made, not at every command.
    devKeyWarning: 'once',
  });
  try {
    return await run(runtime);
  } finally {
    await runtime.close();
  }
}

export const actor = () => `cli:${process.env.USER ?? 'unknown'}`;

/** A JSON option's value, or a usage error naming the option (never a stack trace). */
function jsonOption<T>(option: string, text: string): T {
  try {
    return JSON.parse(text) as T;
  } catch (error) {
    throw new UsageError(`${option} is not valid JSON: ${error instanceof Error ? error.message : error}`);
  }
}

export const str = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);

export const noWorkspace = (id: string) =>
  new WabridgeError('not_found', `workspace ${id} does not exist (wabridge workspace list shows them)`);

// --- workspace ---------------------------------------------------------------------------------

export async function workspaceCreate({ env, values, positionals }: CommandInput): Promise<void> {
  const [name = ''] = positionals;
  const json = str(values.json);
  const policies = json ? jsonOption<Partial<WorkspacePolicies>>('--json', json) : undefined;
  await withRuntime(env(), async ({ admin }) => {
    const id = str(values.id);
    const workspace = await admin.createWorkspace(actor(), {
      name,
      ...(id ? { id } : {}),
      ...(policies ? { policies } : {}),
    });
    out(`created workspace ${workspace.id}`);
  });
}

export async function workspaceList({ env }: CommandInput): Promise<void> {
  await withRuntime(env(), async ({ store }) => {
    const rows = [];
    for (const w of await store.listWorkspaces()) {
      const numbers = await store.listPhoneNumbers(w.id);
      const connectors = (await store.listConnectors(w.id))
        .filter((c) => c.enabled)
        .map((c) => c.connectorId);
      rows.push({
        id: w.id,
        name: w.name,
        numbers: numbers.map((n) => n.phoneNumberId).join(','),
        connectors: connectors.join(','),
      });
    }
    out(rows.length > 0 ? table(rows) : 'no workspaces yet (wabridge workspace create <name> --id <id>)');
  });
}

export async function workspaceShow({ env, positionals }: CommandInput): Promise<void> {
  const [id = ''] = positionals;
  await withRuntime(env(), async ({ admin, store }) => {
    const workspace = await store.getWorkspace(id);
    if (!workspace) throw noWorkspace(id);
    const connectors = await Promise.all(
      (await store.listConnectors(id)).map((c) => admin.describeConnector(id, c.connectorId)),
    );
    out(
      JSON.stringify({ ...workspace, phoneNumbers: await store.listPhoneNumbers(id), connectors }, null, 2),
    );
  });
}

export async function workspaceAddNumber({ env, values, positionals }: CommandInput): Promise<void> {
  const [workspaceId = '', phoneNumberId = ''] = positionals;
  await withRuntime(env(), async ({ admin, store }) => {
    if (!(await store.getWorkspace(workspaceId))) throw noWorkspace(workspaceId);
    await admin.addPhoneNumber(actor(), workspaceId, {
      phoneNumberId,
      displayPhoneNumber: str(values.display) ?? null,
      wabaId: str(values.waba) ?? null,
    });
    out(`number ${phoneNumberId} now routes to ${workspaceId}`);
  });
}

export async function workspaceRemoveNumber({ env, positionals }: CommandInput): Promise<void> {
  const [phoneNumberId = ''] = positionals;
  await withRuntime(env(), async ({ admin }) => {
    await admin.removePhoneNumber(actor(), phoneNumberId);
    out(`number ${phoneNumberId} removed`);
  });
}

export async function workspacePolicies({ env, values, positionals }: CommandInput): Promise<void> {
  const [workspaceId = ''] = positionals;
  const json = str(values.json);
  if (!json) throw new UsageError('wabridge workspace policies needs --json \'{"numberMasking":"last4"}\'');
  const policies = jsonOption<Partial<WorkspacePolicies>>('--json', json);
  await withRuntime(env(), async ({ admin, store }) => {
    if (!(await store.getWorkspace(workspaceId))) throw noWorkspace(workspaceId);
    const workspace = await admin.updatePolicies(actor(), workspaceId, policies);
    out(JSON.stringify(workspace.policies, null, 2));
  });
}

export async function workspaceDelete({ env, positionals }: CommandInput): Promise<void> {
  const [id = ''] = positionals;
  await withRuntime(env(), async ({ admin, store }) => {
    if (!(await store.getWorkspace(id))) throw noWorkspace(id);
    await admin.deleteWorkspace(actor(), id);
    out(`workspace ${id} deleted`);
  });
}

// --- connector ---------------------------------------------------------------------------------

export async function connectorList({ env, positionals }: CommandInput): Promise<void> {
  const [workspaceId] = positionals;
  await withRuntime(env(), async ({ store, registry }) => {
    if (workspaceId !== undefined && !(await store.getWorkspace(workspaceId))) throw noWorkspace(workspaceId);
    const rows = (await store.listConnectors(workspaceId)).map((c) => ({
      workspace: c.workspaceId,
      connector: c.connectorId,
      enabled: c.enabled,
      updated: new Date(c.updatedAt).toISOString(),
    }));
    out(
      `registered: ${
        registry
          .list()
          .map((m) => m.id)
          .join(', ') || '(none)'
      }`,
    );
    out(
      rows.length > 0
        ? table(rows)
        : 'set up: none yet (wabridge connector enable <workspace> <connector> …)',
    );
  });
}

export async function connectorShow({ env, positionals }: CommandInput): Promise<void> {
  const [workspaceId = '', connectorId = ''] = positionals;
  await withRuntime(env(), async ({ admin, store, registry }) => {
    if (!(await store.getWorkspace(workspaceId))) throw noWorkspace(workspaceId);
    registry.require(connectorId);
    const described = await admin.describeConnector(workspaceId, connectorId);
    if (!described)
      throw new WabridgeError('not_found', `${connectorId} is not set up in workspace ${workspaceId}`);
    out(JSON.stringify(described, null, 2));
  });
}

/**
 * `connector connect`: prints the link to open in a browser (it carries a signed ticket; see
 * slack-install.ts and connect/hubspot.ts).
 */
export async function connectorConnect({ env, values, positionals }: CommandInput): Promise<void> {
  const [workspaceId = '', connectorId = ''] = positionals;
  if (connectorId !== 'slack' && connectorId !== 'hubspot' && connectorId !== 'teams')
    throw new UsageError(`connector connect supports slack, hubspot and teams (got ${connectorId})`);
  const environment = env();
  if (environment.PUBLIC_URL === undefined) {
    throw new WabridgeError(
      'config_invalid',
      `connector connect needs PUBLIC_URL (where ${{ slack: 'Slack', hubspot: 'HubSpot', teams: 'Microsoft' }[connectorId]} sends the browser back)`,
    );
  }
  const channel = typeof values.channel === 'string' ? values.channel : undefined;
  if (connectorId !== 'slack' && channel !== undefined) {
    throw new UsageError('--channel is for slack only');
  }
  if (channel !== undefined && !/^[CG][A-Z0-9]{2,}$/.test(channel)) {
    throw new UsageError(`--channel: a Slack channel id like C0123ABCD (got ${channel})`);
  }
  await withRuntime(environment, async ({ store }) => {
    if (!(await store.getWorkspace(workspaceId))) throw noWorkspace(workspaceId);
  });
  if (connectorId === 'hubspot') {
    out(`Open this link in a browser to connect HubSpot to ${workspaceId} (valid for one hour):`);
    out(hubspotConnectLink(environment, workspaceId));
    return;
  }
  if (connectorId === 'teams') {
    out(
      `Open this link in a browser, sign in as the Teams service account of ${workspaceId} and pick its channel (valid for one hour):`,
    );
    out(teamsConnectLink(environment, workspaceId));
    return;
  }
  out(`Open this link in a browser to add wabridge to Slack for ${workspaceId} (valid for one hour):`);
  out(installLink(environment, workspaceId, channel ? { channel } : {}));
}

export async function connectorSet(
  enabled: boolean,
  { env, values, positionals }: CommandInput,
): Promise<void> {
  const [workspaceId = '', connectorId = ''] = positionals;
  const config = connectorSettingsInput(values);
  await withRuntime(env(), async ({ admin, store }) => {
    if (!(await store.getWorkspace(workspaceId))) throw noWorkspace(workspaceId);
    await admin.setConnector(actor(), workspaceId, connectorId, { enabled, config });
    out(`${connectorId} ${enabled ? 'enabled' : 'disabled'} for ${workspaceId}`);
  });
}

/**
 * `wabridge connector test <workspace> <connector>`: one line saying what works and what to fix,
 * exit 1 when something does not work (`--json`: the report as JSON).
 */
export async function connectorTest({ env, values, positionals }: CommandInput): Promise<void> {
  const [workspaceId = '', connectorId = ''] = positionals;
  await withRuntime(env(), async ({ host }) => {
    const report = await host.test(workspaceId, connectorId);
    if (values.json) out(JSON.stringify(report));
    else {
      const verdict = report.ok ? 'works' : 'does not work';
      const checks = report.checks.map((c) => `${c.name} ${c.ok ? 'ok' : 'FAILED'}: ${c.detail}`).join('; ');
      out(`${connectorId} in ${workspaceId} ${verdict}${report.enabled ? '' : ' (disabled)'}: ${checks}`);
    }
    if (!report.ok) process.exitCode = 1;
  });
}

// --- replay, events ----------------------------------------------------------------------------

/** `wabridge replay [--list] [--id N …] [--all] [--workspace W] [--connector C] [--unrouted]` */
export async function replayCommand({ env, values }: CommandInput): Promise<void> {
  const ids = values.all ? 'all' : ((values.id as string[] | undefined) ?? []).map(Number);
  if (ids !== 'all' && ids.some((id) => !Number.isSafeInteger(id) || id <= 0))
    throw new UsageError(
      `--id takes dead job ids (whole numbers from replay --list), got ${(values.id as string[]).join(', ')}`,
    );
  if (values.unrouted && (values.all || values.id || values.list))
    throw new UsageError('--unrouted replays kept webhook changes; it goes without --list, --all and --id');
  await withRuntime(env(), async ({ admin, store, ingestor }) => {
    const workspace = str(values.workspace);
    const connector = str(values.connector);
    const scope = {
      ...(workspace ? { workspaceId: workspace } : {}),
      ...(connector ? { connectorId: connector } : {}),
    };
    if (values.unrouted) {
      const { parseWebhookPayload } = await import('@wabridge/whatsapp');
      let routed = 0;
      const waiting = new Map<string, number>();
      // Page by page, oldest first, to the end: changes for numbers still unowned stay behind
      // (the cursor passes them) and routed ones leave the list. Ingesting is idempotent, so a
      // crash between the ingest and the mark only means the next replay ingests it again.
      for (let after: UnroutedEvent | undefined; ; ) {
        const page = await store.listUnrouted({ limit: 500, ...(after ? { after } : {}) });
        if (page.length === 0) break;
        after = page.at(-1);
        for (const event of page) {
          const owner = event.phoneNumberId ? await store.resolvePhoneNumber(event.phoneNumberId) : null;
          if (!owner) {
            const number = event.phoneNumberId ?? '(no phone_number_id)';
            waiting.set(number, (waiting.get(number) ?? 0) + 1);
            continue;
          }
          // Only a body without an `entry` array fails to parse, and this one is built here.
          const parsed = parseWebhookPayload({
            entry: [{ changes: [{ field: event.field, value: event.payload }] }],
          });
          if (!parsed.ok)
            throw new WabridgeError('internal', `unrouted change ${event.id}: ${parsed.issues.join('; ')}`);
          await ingestor.ingest(parsed.changes, event.receivedAt);
          if (await store.markUnroutedRouted(event.id, owner.workspaceId)) routed++;
        }
      }
      out(`re-ingested ${routed} unrouted change(s) whose number now has a workspace`);
      if (waiting.size > 0) {
        const left = [...waiting.values()].reduce((a, b) => a + b, 0);
        out(
          `${left} still unrouted, for numbers no workspace owns: ${[...waiting]
            .map(([number, n]) => `${number} (${n})`)
            .join(', ')}`,
        );
      }
      return;
    }
    if (values.list || (!values.all && !values.id)) {
      const dead = await store.listDeadJobs(scope);
      out(
        dead.length === 0
          ? 'dead-lettered jobs: none'
          : table(
              dead.map((d) => ({
                id: d.id,
                workspace: d.workspaceId,
                connector: d.connectorId,
                event: d.eventType,
                attempts: d.attempts,
                failed: new Date(d.failedAt).toISOString(),
                reason: d.reason.slice(0, 80),
              })),
            ),
      );
      if (!values.list && dead.length > 0) out('\nreplay with --all or --id <id> (repeatable)');
      return;
    }
    const replayed = await admin.replayDeadJobs(actor(), ids, scope);
    out(`replayed ${replayed} job(s); a running worker delivers them now`);
  });
}

/**
 * `wabridge events [--workspace W | --unassigned] [--field F] [--limit N | --all] [--json]`: what
 * Meta sent that is kept whole as a platform event (account and template updates, value-level
 * errors, unknown message types and keys), newest first. `--json` prints one event per line with
 * its payload, for an export; `--all` pages through every one.
 */
export async function eventsCommand({ env, values }: CommandInput): Promise<void> {
  const workspace = str(values.workspace);
  const field = str(values.field);
  if (workspace !== undefined && values.unassigned)
    throw new UsageError('--workspace and --unassigned exclude each other');
  if (values.all && values.limit !== undefined) throw new UsageError('--all and --limit exclude each other');
  const limit = values.limit === undefined ? 50 : Number(values.limit);
  if (!Number.isSafeInteger(limit) || limit <= 0)
    throw new UsageError(`--limit takes a positive whole number, got ${values.limit}`);
  await withRuntime(env(), async ({ store }) => {
    if (workspace !== undefined && !(await store.getWorkspace(workspace))) throw noWorkspace(workspace);
    const scope = {
      ...(workspace !== undefined ? { workspaceId: workspace } : {}),
      ...(values.unassigned ? { workspaceId: null } : {}),
      ...(field !== undefined ? { field } : {}),
    };
    const PAGE = 500;
    const listed: PlatformEvent[] = [];
    for (let before: PlatformEvent | undefined; ; ) {
      const page = await store.listPlatformEvents({
        ...scope,
        limit: values.all ? PAGE : limit,
        ...(before ? { before } : {}),
      });
      // Printed as they come with --json, so an export of many events holds one page at a time.
      if (values.json) for (const event of page) out(JSON.stringify(event));
      else listed.push(...page);
      before = page.at(-1);
      if (!values.all || page.length < PAGE) break;
    }
    if (values.json) return;
    if (listed.length === 0) {
      out('platform events: none');
      return;
    }
    out(
      table(
        listed.map((e) => ({
          received: new Date(e.receivedAt).toISOString(),
          workspace: e.workspaceId ?? '-',
          field: e.field,
          waba: e.wabaId ?? '-',
          kept: (e.parseIssues.join('; ') || 'not a message, status or consent change').slice(0, 80),
          id: e.id,
        })),
      ),
    );
  });
}

// --- config, secrets, status, migrate, backup --------------------------------------------------

export async function configCheck({ positionals }: CommandInput): Promise<void> {
  const [path = ''] = positionals;
  const file = loadConfigFile(path);
  out(`${path}: valid (${file.workspaces.length} workspace(s))`);
}

export async function configApply({ env, positionals }: CommandInput): Promise<void> {
  const [path = ''] = positionals;
  const file = loadConfigFile(path);
  await withRuntime(env(), async ({ admin }) => {
    const counts = await admin.apply(actor(), file);
    out(
      `applied ${path}: ${counts.workspaces} workspace(s), ${counts.numbers} number(s), ${counts.connectors} connector setting(s)`,
    );
  });
}

export async function secretsRotate({ env }: CommandInput): Promise<void> {
  await withRuntime(env(), async ({ admin, whatsappApps }) => {
    out(`re-encrypted ${await admin.rotateSecrets(actor())} connector secret set(s) with the current key`);
    out(
      `re-encrypted ${await whatsappApps.rotateSecrets(actor())} Meta app(s) and number token(s) with the current key`,
    );
  });
}

// --- keys ----------------------------------------------------------------------------------------

/**
 * `wabridge keys rotate [--workspace <id>]`: re-wraps every workspace data key under the current
 * master key; with --workspace, also makes that workspace a new data key and re-seals its content
 * with it, in batches of one short transaction each, so a running gateway keeps serving. On either
 * store: the SQLite file directly, or the Postgres store (DATABASE_URL) through its pool.
 */
export async function keysRotate({ env, values }: CommandInput): Promise<void> {
  const current = env();
  const workspaceId = str(values.workspace);
  if (!masterKeysIfAny(current)) {
    throw new WabridgeError('config_invalid', 'WABRIDGE_MASTER_KEY is required to rotate keys');
  }
  await withKeyRotation(current, async (store) => {
    if (workspaceId && !(await store.getWorkspace(workspaceId))) throw noWorkspace(workspaceId);
    const rewrapped = await store.rewrapDataKeys();
    out(`re-wrapped ${rewrapped} data key(s) with master key ${store.masterKeyId}`);
    const details: Record<string, unknown> = { rewrapped, masterKeyId: store.masterKeyId };
    if (workspaceId) {
      const keyId = await store.rotateDataKey(workspaceId);
      out(`new data key ${keyId} for ${workspaceId}; re-sealing its content…`);
      let resealed = 0;
      for (let batch = await store.reencryptBatch(workspaceId); batch > 0; ) {
        resealed += batch;
        process.stderr.write(`\r${resealed} value(s) re-sealed`);
        batch = await store.reencryptBatch(workspaceId);
      }
      if (resealed > 0) process.stderr.write('\n');
      out(`re-sealed ${resealed} value(s) of ${workspaceId} with data key ${keyId}`);
      Object.assign(details, { dataKeyId: keyId, resealed });
    }
    await store.appendAudit({
      actor: actor(),
      action: 'keys.rotate',
      workspaceId: workspaceId ?? null,
      details,
    });
  });
}

/**
 * A store whose data keys can be rotated, with the master keys: on SQLite a direct connection to
 * the file (the gateway's threaded store does not forward rotation), on Postgres the store.
 */
async function withKeyRotation<T>(
  env: Env,
  run: (store: Store & KeyRotationStore) => Promise<T>,
): Promise<T> {
  if (!usesPostgres(env)) return withArchiveDatabase(env, run);
  const masterKeys = masterKeysIfAny(env);
  const store = await openChosenStore(env, masterKeys ? { masterKeys } : {});
  try {
    const rotatable = keyRotationStoreOf(store);
    if (!rotatable) throw new WabridgeError('internal', 'the Postgres store cannot rotate data keys');
    return await run(rotatable);
  } finally {
    await store.close();
  }
}

// --- archive -----------------------------------------------------------------------------------

/** A direct connection to the SQLite file, for what reads and writes it directly (`keys rotate`, the archive's reads). */
export async function withArchiveDatabase<T>(env: Env, run: (store: SqliteStore) => Promise<T>): Promise<T> {
  if (usesPostgres(env)) throw sqliteOnly('this command');
  const masterKeys = masterKeysIfAny(env);
  const store = await openSqliteStore({ path: env.databasePath, ...(masterKeys ? { masterKeys } : {}) });
  try {
    return await run(store);
  } finally {
    await store.close();
  }
}

/**
 * A store whose archive can be read (verify, checkpoints, exports, the audit trail), with the master
 * keys when configured: on SQLite a direct connection to the file, on Postgres the store (a pool).
 */
export async function withArchiveReads<T>(
  env: Env,
  run: (store: Store & ArchiveStore) => Promise<T>,
): Promise<T> {
  if (!usesPostgres(env)) return withArchiveDatabase(env, run);
  const masterKeys = masterKeysIfAny(env);
  const store = await openChosenStore(env, masterKeys ? { masterKeys } : {});
  try {
    const archive = archiveStoreOf(store);
    if (!archive) throw new WabridgeError('internal', 'the Postgres store has no archive reader');
    return await run(archive);
  } finally {
    await store.close();
  }
}

/** The master keys when configured (or the development key): verifying needs none. */
export function masterKeysIfAny(env: Env): { current: Buffer; previous: Buffer[] } | undefined {
  if (!env.WABRIDGE_MASTER_KEY && !env.devMode) return undefined;
  return loadMasterKeys(env, createLogger('warn', process.stderr), 'once');
}

export async function archiveCheckpoint({ env, positionals }: CommandInput): Promise<void> {
  const [workspaceId = ''] = positionals;
  const current = env();
  await withRuntime(current, async ({ store, secrets }) => {
    if (!(await store.getWorkspace(workspaceId))) throw noWorkspace(workspaceId);
    await withArchiveReads(current, async (direct) => {
      const { note } = await signArchiveCheckpoint(direct.archiveReader, secrets, workspaceId);
      out(note.trimEnd());
    });
  });
}

export async function archivePublicKey({ env, positionals }: CommandInput): Promise<void> {
  const [workspaceId = ''] = positionals;
  const current = env();
  await withRuntime(current, async ({ store, secrets }) => {
    if (!(await store.getWorkspace(workspaceId))) throw noWorkspace(workspaceId);
    await withArchiveReads(current, async (direct) => {
      out(await archiveVerifierKey(direct.archiveReader, secrets, workspaceId));
    });
  });
}

/** `wabridge archive verify <workspace>`: needs no master key, only the database (and a key to trust). */
export async function archiveVerify({ env, values, positionals }: CommandInput): Promise<void> {
  const [workspaceId = ''] = positionals;
  const key = str(values.key);
  const report = await withArchiveReads(env(), async (direct) => {
    const reader = direct.archiveReader;
    // The global log (admin acts on no workspace, workspace deletions) has no workspace of its own.
    if (!(await reader.hasLog(workspaceId))) throw noWorkspace(workspaceId);
    // With the master key, each content is opened and checked against its record's commitment;
    // without, only its presence (a purged content is accounted for by a purge record).
    const keyring = masterKeysIfAny(env()) ? await reader.dataKeys(workspaceId) : undefined;
    return verifyArchive(reader, workspaceId, {
      ...(key ? { verifierKey: key } : {}),
      ...(keyring ? { keyring } : {}),
    });
  });
  if (values.json) out(JSON.stringify(report));
  else if (report.ok) {
    out(
      `archive of ${workspaceId} is sound: ${report.records} records, ${report.checkpoints} checkpoint(s), ` +
        `${report.verifiedSize} records covered by a signed checkpoint; ` +
        (report.contentChecked
          ? 'content checked against its commitments'
          : 'content present (not opened: no master key)'),
    );
    if (report.purged > 0) {
      out(`${report.purged} record(s) purged (metadata verified, content unavailable):`);
      for (const p of report.purges) {
        const ranges = p.records.map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`)).join(',');
        out(
          `  record ${p.seq} at ${new Date(p.at).toISOString()} by ${p.actor}: ${p.reason} (records ${ranges})`,
        );
      }
    }
  } else {
    const f = report.failure;
    const what = f?.kind ? ` (${f.kind} ${f.entityId ?? ''})` : '';
    out(`archive of ${workspaceId} FAILS at record ${f?.seq}${what}: ${f?.reason}: ${f?.message}`);
  }
  if (!report.ok) process.exitCode = 1;
}

export async function statusCommand({ env, values }: CommandInput): Promise<void> {
  await withRuntime(env(), async ({ store }) => printStatus(store, { json: values.json === true }));
}

export async function migrateCommand({ env }: CommandInput): Promise<void> {
  const current = env();
  await withRuntime(current, async ({ store }) => {
    await store.migrate();
    out(`database ready at ${usesPostgres(current) ? 'DATABASE_URL (Postgres)' : current.databasePath}`);
  });
}

/**
 * `wabridge backup <file>`: a consistent copy of the live database (SQLite's VACUUM INTO), safe
 * while the gateway and workers keep writing; copying the file itself is not (the WAL holds recent
 * commits).
 */
export async function backupCommand({ env, positionals }: CommandInput): Promise<void> {
  const [target = ''] = positionals;
  const current = env();
  if (usesPostgres(current)) throw backupOnPostgres();
  const { existsSync, rmSync } = await import('node:fs');
  const { resolve } = await import('node:path');
  const { DatabaseSync } = await import('node:sqlite');
  const path = resolve(target);
  if (existsSync(path)) throw new WabridgeError('conflict', `${path} exists; choose a new file name`);
  if (!existsSync(current.databasePath))
    throw new WabridgeError('not_found', `no database at ${current.databasePath}`);
  // A copy of every conversation: private like the database (0600). VACUUM INTO accepts an empty
  // file, so the file is made first with that mode, then filled.
  preparePrivateDatabaseFile(path);
  const db = new DatabaseSync(current.databasePath, { readOnly: true, timeout: 10_000 });
  try {
    db.prepare('VACUUM INTO ?').run(path);
  } catch (error) {
    rmSync(path, { force: true });
    throw error;
  } finally {
    db.close();
  }
  out(`backup written to ${path}`);
}
