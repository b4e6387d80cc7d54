import { parseArgs } from 'node:util';
import { noopMetrics, type PlatformEvent, type UnroutedEvent, type WorkspacePolicies } from '@wabridge/core';
import { defaultRegistry } from '../connectors.ts';
import type { Env } from '../env.ts';
import { createLogger } from '../logger.ts';
import { createRuntime, type Runtime } from '../runtime.ts';
import { out, table } from './output.ts';
import { loadConfigFile } from './serve.ts';

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

async function withRuntime<T>(env: Env, run: (runtime: Runtime) => Promise<T>): Promise<T> {
  const runtime = await createRuntime({
    env,
    registry: defaultRegistry(),
    // Logs go to stderr: stdout carries the command's result (a table, JSON lines to export).
    logger: createLogger(env.LOG_LEVEL === 'info' ? 'warn' : env.LOG_LEVEL, process.stderr),
    metrics: noopMetrics,
    worker: false,
  });
  try {
    return await run(runtime);
  } finally {
    await runtime.close();
  }
}

const actor = () => `cli:${process.env.USER ?? 'unknown'}`;

/** A JSON option's value, or a usage error naming the option (never a stack trace). */
function jsonOption<T>(option: string, text: string): T {
  try {
    return JSON.parse(text) as T;
  } catch (error) {
    throw new UsageError(`${option} is not valid JSON: ${error instanceof Error ? error.message : error}`);
  }
}

/** `wabridge workspace create|list|show|add-number|remove-number|policies|delete` */
export async function workspaceCommand(env: Env, args: string[]): Promise<void> {
  const [sub, ...rest] = args;
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      id: { type: 'string' },
      display: { type: 'string' },
      waba: { type: 'string' },
      json: { type: 'string' },
    },
  });
  await withRuntime(env, async ({ admin, store }) => {
    switch (sub) {
      case 'create': {
        const name = positionals.join(' ');
        if (!name)
          throw new UsageError('usage: wabridge workspace create <name> [--id <id>] [--json <policies>]');
        const workspace = await admin.createWorkspace(actor(), {
          name,
          ...(values.id ? { id: values.id } : {}),
          ...(values.json ? { policies: jsonOption<Partial<WorkspacePolicies>>('--json', values.json) } : {}),
        });
        out(`created workspace ${workspace.id}`);
        return;
      }
      case 'list': {
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
        out(table(rows));
        return;
      }
      case 'show': {
        const id = positionals[0] ?? '';
        const workspace = await store.getWorkspace(id);
        if (!workspace) throw new UsageError(`workspace ${id} does not exist`);
        const connectors = await Promise.all(
          (await store.listConnectors(id)).map((c) => admin.describeConnector(id, c.connectorId)),
        );
        out(
          JSON.stringify(
            { ...workspace, phoneNumbers: await store.listPhoneNumbers(id), connectors },
            null,
            2,
          ),
        );
        return;
      }
      case 'add-number': {
        const [workspaceId, phoneNumberId] = positionals;
        if (!workspaceId || !phoneNumberId) {
          throw new UsageError(
            'usage: wabridge workspace add-number <workspace> <phone_number_id> [--display +1555…] [--waba <id>]',
          );
        }
        await admin.addPhoneNumber(actor(), workspaceId, {
          phoneNumberId,
          displayPhoneNumber: values.display ?? null,
          wabaId: values.waba ?? null,
        });
        out(`number ${phoneNumberId} now routes to ${workspaceId}`);
        return;
      }
      case 'remove-number': {
        const phoneNumberId = positionals[0];
        if (!phoneNumberId) throw new UsageError('usage: wabridge workspace remove-number <phone_number_id>');
        await admin.removePhoneNumber(actor(), phoneNumberId);
        out(`number ${phoneNumberId} removed`);
        return;
      }
      case 'policies': {
        const workspaceId = positionals[0];
        if (!workspaceId || !values.json)
          throw new UsageError(
            'usage: wabridge workspace policies <workspace> --json \'{"numberMasking":"last4"}\'',
          );
        const workspace = await admin.updatePolicies(
          actor(),
          workspaceId,
          jsonOption<Partial<WorkspacePolicies>>('--json', values.json),
        );
        out(JSON.stringify(workspace.policies, null, 2));
        return;
      }
      case 'delete': {
        const id = positionals[0];
        if (!id) throw new UsageError('usage: wabridge workspace delete <workspace>');
        if (!(await store.getWorkspace(id))) throw new UsageError(`workspace ${id} does not exist`);
        await store.deleteWorkspace(id);
        await store.appendAudit({ actor: actor(), action: 'workspace.delete', workspaceId: id, details: {} });
        out(`workspace ${id} deleted`);
        return;
      }
      default:
        throw new UsageError(
          'usage: wabridge workspace create|list|show|add-number|remove-number|policies|delete',
        );
    }
  });
}

/** `wabridge connector list|show|enable|disable` */
export async function connectorCommand(env: Env, args: string[]): Promise<void> {
  const [sub, ...rest] = args;
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: { config: { type: 'string' }, set: { type: 'string', multiple: true } },
  });
  await withRuntime(env, async ({ admin, store, registry }) => {
    switch (sub) {
      case 'list': {
        const rows = (await store.listConnectors(positionals[0])).map((c) => ({
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
        out(table(rows));
        return;
      }
      case 'show': {
        const [workspaceId, connectorId] = positionals;
        out(JSON.stringify(await admin.describeConnector(workspaceId ?? '', connectorId ?? ''), null, 2));
        return;
      }
      case 'enable':
      case 'disable': {
        const [workspaceId, connectorId] = positionals;
        if (!workspaceId || !connectorId) {
          throw new UsageError(
            `usage: wabridge connector ${sub} <workspace> <connector> [--config '{json}'] [--set key=value …]`,
          );
        }
        const config: Record<string, unknown> = values.config
          ? jsonOption<Record<string, unknown>>('--config', values.config)
          : {};
        for (const pair of values.set ?? []) {
          const at = pair.indexOf('=');
          if (at < 1) throw new UsageError(`--set expects key=value, got ${pair}`);
          config[pair.slice(0, at)] = pair.slice(at + 1);
        }
        await admin.setConnector(actor(), workspaceId, connectorId, { enabled: sub === 'enable', config });
        out(`${connectorId} ${sub}d for ${workspaceId}`);
        return;
      }
      default:
        throw new UsageError('usage: wabridge connector list|show|enable|disable');
    }
  });
}

/** `wabridge replay [--list] [--id N …] [--all] [--workspace W] [--connector C] [--unrouted]` */
export async function replayCommand(env: Env, args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      list: { type: 'boolean' },
      all: { type: 'boolean' },
      id: { type: 'string', multiple: true },
      workspace: { type: 'string' },
      connector: { type: 'string' },
      unrouted: { type: 'boolean' },
    },
  });
  await withRuntime(env, async ({ store, ingestor }) => {
    const scope = {
      ...(values.workspace ? { workspaceId: values.workspace } : {}),
      ...(values.connector ? { connectorId: values.connector } : {}),
    };
    if (values.unrouted) {
      const { parseWebhookPayload } = await import('@wabridge/core');
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
          if (!parsed.ok) throw new Error(`unrouted change ${event.id}: ${parsed.issues.join('; ')}`);
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
        table(
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
      if (!values.list) out('\nreplay with --all or --id <id> (repeatable)');
      return;
    }
    const ids = values.all ? 'all' : (values.id ?? []).map(Number);
    if (ids !== 'all' && ids.some((id) => !Number.isSafeInteger(id) || id <= 0))
      throw new UsageError(
        `--id takes dead job ids (whole numbers from replay --list), got ${values.id?.join(', ')}`,
      );
    const replayed = await store.replayDeadJobs(ids, scope);
    out(`replayed ${replayed} job(s); a running worker delivers them now`);
  });
}

/**
 * `wabridge events [--workspace W | --unassigned] [--field F] [--limit N | --all] [--json]`: what
 * Meta sent that is kept whole as a platform event (account and template updates, value-level
 * errors, unknown message types and keys), newest first. `--json` prints one event per line with
 * its payload, for an export; `--all` pages through every one.
 */
export async function eventsCommand(env: Env, args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      workspace: { type: 'string' },
      unassigned: { type: 'boolean' },
      field: { type: 'string' },
      limit: { type: 'string' },
      all: { type: 'boolean' },
      json: { type: 'boolean' },
    },
  });
  if (values.workspace !== undefined && values.unassigned)
    throw new UsageError('--workspace and --unassigned exclude each other');
  if (values.all && values.limit !== undefined) throw new UsageError('--all and --limit exclude each other');
  const limit = values.limit === undefined ? 50 : Number(values.limit);
  if (!Number.isSafeInteger(limit) || limit <= 0)
    throw new UsageError(`--limit takes a positive whole number, got ${values.limit}`);
  await withRuntime(env, async ({ store }) => {
    if (values.workspace !== undefined && !(await store.getWorkspace(values.workspace)))
      throw new UsageError(`workspace ${values.workspace} does not exist`);
    const scope = {
      ...(values.workspace !== undefined ? { workspaceId: values.workspace } : {}),
      ...(values.unassigned ? { workspaceId: null } : {}),
      ...(values.field !== undefined ? { field: values.field } : {}),
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

export async function configCommand(env: Env, args: string[]): Promise<void> {
  const [sub, path] = args;
  if ((sub !== 'apply' && sub !== 'check') || !path)
    throw new UsageError('usage: wabridge config apply|check <file.yaml|file.json>');
  const file = loadConfigFile(path);
  if (sub === 'check') {
    out(`${path}: valid (${file.workspaces.length} workspace(s))`);
    return;
  }
  await withRuntime(env, async ({ admin }) => {
    const counts = await admin.apply(actor(), file);
    out(
      `applied ${path}: ${counts.workspaces} workspace(s), ${counts.numbers} number(s), ${counts.connectors} connector setting(s)`,
    );
  });
}

export async function secretsCommand(env: Env, args: string[]): Promise<void> {
  if (args[0] !== 'rotate')
    throw new UsageError(
      'usage: wabridge secrets rotate   (after moving the old key to WABRIDGE_MASTER_KEY_PREVIOUS)',
    );
  await withRuntime(env, async ({ admin }) => {
    out(`re-encrypted ${await admin.rotateSecrets(actor())} connector secret set(s) with the current key`);
  });
}

export async function statusCommand(env: Env): Promise<void> {
  await withRuntime(env, async ({ store }) => {
    const stats = await store.jobStats();
    out(`jobs: ${stats.ready} ready, ${stats.running} running, ${stats.dead} dead`);
    out(table(Object.entries(stats.byConnector).map(([connector, s]) => ({ connector, ...s }))));
    const unrouted = await store.countUnrouted();
    if (unrouted > 0) out(`\n${unrouted} unrouted webhook change(s) kept: see wabridge replay --unrouted`);
  });
}

export async function migrateCommand(env: Env): Promise<void> {
  await withRuntime(env, async ({ store }) => {
    await store.migrate();
    out(`database ready at ${env.databasePath}`);
  });
}

/**
 * `wabridge backup <file>`: a consistent copy of the live database (SQLite's VACUUM INTO), safe
 * while the gateway and workers keep writing; copying the file itself is not (the WAL holds recent
 * commits).
 */
export async function backupCommand(env: Env, args: string[]): Promise<void> {
  const target = args[0];
  if (!target) throw new UsageError('usage: wabridge backup <file>');
  const { existsSync } = await import('node:fs');
  const { resolve } = await import('node:path');
  const { DatabaseSync } = await import('node:sqlite');
  const path = resolve(target);
  if (existsSync(path)) throw new UsageError(`${path} exists; choose a new file name`);
  if (!existsSync(env.databasePath)) throw new UsageError(`no database at ${env.databasePath}`);
  const db = new DatabaseSync(env.databasePath, { readOnly: true, timeout: 10_000 });
  try {
    db.prepare('VACUUM INTO ?').run(path);
  } finally {
    db.close();
  }
  out(`backup written to ${path}`);
}
