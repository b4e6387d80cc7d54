import { z } from 'zod';
import { type AuditActor, auditEntry } from '../access/actor.ts';
import { describeNonAscii, firstNonAscii } from '../config/fields.ts';
import { describeIssues, unknownKeys } from '../config/issues.ts';
import type { ConnectorManifest } from '../connector/contract.ts';
import type { ConnectorRegistry } from '../connector/registry.ts';
import { DEFAULT_POLICIES, type Workspace, type WorkspacePolicies } from '../domain/types.ts';
import { WabridgeError } from '../errors/index.ts';
import type { SecretBox } from '../secrets/index.ts';
import type { Store } from '../store/types.ts';

const templateSchema = z.object({
  name: z.string().min(1),
  language: z.string().min(2),
  category: z.enum(['marketing', 'utility', 'authentication']),
  body: z.string(),
  parameters: z.number().int().min(0),
});

export const policiesSchema = z
  .object({
    numberMasking: z.enum(['none', 'partial', 'last4']),
    optOutKeywords: z.record(z.string(), z.object({ stop: z.array(z.string()), start: z.array(z.string()) })),
    templates: z.array(templateSchema),
    reorderWindowMs: z.number().int().min(0).max(60_000),
    archiveInternalNotes: z.boolean(),
  })
  .partial()
  .strict();

/** The declarative configuration file (`wabridge config apply`), after `${VAR}` interpolation. */
export const configFileSchema = z
  .object({
    workspaces: z.array(
      z
        .object({
          id: z.string().regex(/^[a-z0-9][a-z0-9-]{1,62}$/, 'lowercase letters, digits and dashes'),
          name: z.string().min(1),
          policies: policiesSchema.optional(),
          phoneNumbers: z
            .array(
              z
                .object({
                  phoneNumberId: z.string().regex(/^\d+$/, 'digits only (the id, not the number)'),
                  displayPhoneNumber: z.string().optional(),
                  wabaId: z.string().optional(),
                })
                .strict(),
            )
            .default([]),
          connectors: z
            .record(
              z.string(),
              z
                .object({
                  enabled: z.boolean().default(true),
                  config: z.record(z.string(), z.unknown()).default({}),
                })
                .strict(),
            )
            .default({}),
        })
        .strict(),
    ),
  })
  .strict();

export type ConfigFile = z.infer<typeof configFileSchema>;

/**
 * Administration shared by the CLI, the config file and the demo: creates workspaces, assigns
 * numbers, and stores connector settings with their secret fields encrypted. Every change is
 * audited with the actor.
 */
export class WorkspaceAdmin {
  private readonly store: Store;
  private readonly registry: ConnectorRegistry;
  private readonly secrets: SecretBox;
  private readonly media: { deleteWorkspace(workspaceId: string): Promise<void> } | undefined;

  constructor(options: {
    store: Store;
    registry: ConnectorRegistry;
    secrets: SecretBox;
    /** Where a workspace's media files are, removed with it (the runtime's MediaStore). */
    media?: { deleteWorkspace(workspaceId: string): Promise<void> };
  }) {
    this.store = options.store;
    this.registry = options.registry;
    this.secrets = options.secrets;
    this.media = options.media;
  }

  async createWorkspace(
    actor: AuditActor,
    input: { id?: string; name: string; policies?: Partial<WorkspacePolicies> },
  ): Promise<Workspace> {
    const policies = input.policies ? parsePolicies(input.policies) : undefined;
    const workspace = await this.store.createWorkspace({ ...input, ...(policies ? { policies } : {}) });
    await this.store.appendAudit(auditEntry(actor, 'workspace.create', workspace.id, { name: input.name }));
    return workspace;
  }

  async updatePolicies(
    actor: AuditActor,
    workspaceId: string,
    policies: Partial<WorkspacePolicies>,
  ): Promise<Workspace> {
    const parsed = parsePolicies(policies);
    const before = (await this.store.getWorkspace(workspaceId))?.policies;
    const workspace = await this.store.updateWorkspace(workspaceId, { policies: parsed });
    await this.store.appendAudit(
      auditEntry(actor, 'workspace.policies', workspaceId, {
        keys: Object.keys(parsed),
        ...recordkeepingChanges(before, workspace.policies),
      }),
    );
    return workspace;
  }

  /** Renames a workspace and/or changes its policies (merged over the stored ones). */
  async updateWorkspace(
    actor: AuditActor,
    workspaceId: string,
    patch: { name?: string; policies?: Partial<WorkspacePolicies> },
  ): Promise<Workspace> {
    const policies = patch.policies ? parsePolicies(patch.policies) : undefined;
    if (patch.name !== undefined && patch.name.trim() === '')
      throw new WabridgeError('bad_request', 'a workspace name cannot be empty');
    const current = await this.store.getWorkspace(workspaceId);
    if (!current)
      throw new WabridgeError('not_found', `workspace ${workspaceId} does not exist`, { status: 404 });
    const workspace = await this.store.updateWorkspace(workspaceId, {
      ...(patch.name !== undefined ? { name: patch.name.trim() } : {}),
      ...(policies ? { policies: { ...current.policies, ...policies } } : {}),
    });
    await this.store.appendAudit(
      auditEntry(actor, 'workspace.update', workspaceId, {
        ...(patch.name !== undefined ? { name: workspace.name } : {}),
        ...(policies ? { policyKeys: Object.keys(policies) } : {}),
        ...recordkeepingChanges(current.policies, workspace.policies),
      }),
    );
    return workspace;
  }

  /**
   * Deletes a workspace and everything it holds (messages, archive, settings, grants, tokens, media
   * files). Audited in the global log: the workspace's own log goes with it.
   */
  async deleteWorkspace(actor: AuditActor, workspaceId: string): Promise<void> {
    if (!(await this.store.getWorkspace(workspaceId)))
      throw new WabridgeError('not_found', `workspace ${workspaceId} does not exist`, { status: 404 });
    await this.store.deleteWorkspace(workspaceId);
    // After the rows: a link opened in between finds no message and serves nothing either way.
    await this.media?.deleteWorkspace(workspaceId);
    await this.store.appendAudit(auditEntry(actor, 'workspace.delete', null, { workspace: workspaceId }));
  }

  async addPhoneNumber(
    actor: AuditActor,
    workspaceId: string,
    number: { phoneNumberId: string; displayPhoneNumber?: string | null; wabaId?: string | null },
  ) {
    if (!/^\d+$/.test(number.phoneNumberId)) {
      throw new WabridgeError(
        'bad_request',
        `phone number id "${number.phoneNumberId}" must be digits (Meta's phone_number_id, not the phone number)`,
      );
    }
    await this.store.addPhoneNumber({
      workspaceId,
      phoneNumberId: number.phoneNumberId,
      displayPhoneNumber: number.displayPhoneNumber ?? null,
      wabaId: number.wabaId ?? null,
    });
    await this.store.appendAudit(
      auditEntry(actor, 'number.add', workspaceId, { phoneNumberId: number.phoneNumberId }),
    );
  }

  /** Removes a number; with `workspaceId`, only that workspace's (another's answers `not_found`). */
  async removePhoneNumber(actor: AuditActor, phoneNumberId: string, workspaceId?: string): Promise<void> {
    const owner = await this.store.resolvePhoneNumber(phoneNumberId);
    if (workspaceId !== undefined && owner?.workspaceId !== workspaceId)
      throw new WabridgeError('not_found', `number ${phoneNumberId} is not in workspace ${workspaceId}`, {
        status: 404,
      });
    await this.store.removePhoneNumber(phoneNumberId);
    await this.store.appendAudit(
      auditEntry(actor, 'number.remove', owner?.workspaceId ?? null, { phoneNumberId }),
    );
  }

  /**
   * Enables, disables or reconfigures a connector. `config` is merged over the stored settings
   * (so `enable` with one changed key keeps the rest); enabling validates the result against the
   * connector's schema first and stores nothing when it is invalid.
   */
  async setConnector(
    actor: AuditActor,
    workspaceId: string,
    connectorId: string,
    change: {
      enabled?: boolean;
      config?: Record<string, unknown>;
      replace?: boolean;
      /**
       * The audit entry's action and extra (non-secret) details instead of `connector.enable` /
       * `connector.disable`: e.g. `connector.connect` for an OAuth install.
       */
      audit?: { action: string; details?: Record<string, unknown> };
    },
  ): Promise<void> {
    const manifest = this.registry.require(connectorId);
    // A form sends the masked value of a secret it did not change: that keeps the stored secret.
    if (change.config) change = { ...change, config: withoutMasks(manifest, change.config) };
    // What was typed now is checked even when disabling: a misspelled key or a pasted placeholder
    // is a mistake to name at once, not a value to store for later.
    checkInput(manifest, change.config ?? {}, `${connectorId} configuration is invalid`);
    const existing = await this.store.getConnector(workspaceId, connectorId);
    const previous =
      existing && !change.replace ? this.readConfig(existing.config, existing.encryptedSecrets) : {};
    const merged = { ...previous, ...change.config };
    const enabled = change.enabled ?? existing?.enabled ?? false;
    if (enabled) {
      const parsed = manifest.configSchema.safeParse(merged);
      if (!parsed.success) {
        throw new WabridgeError(
          'config_invalid',
          `${connectorId} configuration is invalid: ${describeIssues(manifest.configSchema, parsed.error.issues)}`,
          { status: 400 },
        );
      }
    }
    const secretFields = new Set(manifest.secretFields);
    const plain: Record<string, unknown> = {};
    const secret: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(merged)) (secretFields.has(key) ? secret : plain)[key] = value;
    await this.store.setConnector({
      workspaceId,
      connectorId,
      enabled,
      events: manifest.capabilities.events,
      config: plain,
      encryptedSecrets: Object.keys(secret).length > 0 ? this.secrets.encrypt(JSON.stringify(secret)) : null,
    });
    // Secret values never reach the audit log; their names do.
    await this.store.appendAudit(
      auditEntry(
        actor,
        change.audit?.action ?? (enabled ? 'connector.enable' : 'connector.disable'),
        workspaceId,
        {
          ...change.audit?.details,
          connectorId,
          keys: Object.keys(plain),
          secretKeys: Object.keys(secret),
        },
      ),
    );
  }

  /** Config with secret values replaced by a mask, for display. */
  async describeConnector(workspaceId: string, connectorId: string) {
    const setting = await this.store.getConnector(workspaceId, connectorId);
    if (!setting) return null;
    const secretKeys = setting.encryptedSecrets
      ? Object.keys(JSON.parse(this.secrets.decrypt(setting.encryptedSecrets)) as object)
      : [];
    return {
      connectorId,
      enabled: setting.enabled,
      config: { ...setting.config, ...Object.fromEntries(secretKeys.map((k) => [k, SECRET_MASK])) },
      updatedAt: setting.updatedAt,
    };
  }

  /** Every registered connector with its settings in the workspace (secrets masked), set up or not. */
  async listConnectors(workspaceId: string) {
    return Promise.all(
      this.registry.list().map(async (manifest) => ({
        connectorId: manifest.id,
        name: manifest.displayName,
        secretFields: [...manifest.secretFields],
        setting: await this.describeConnector(workspaceId, manifest.id),
      })),
    );
  }

  /**
   * Moves dead-lettered jobs back to the queue (`all`, or these ids), within a workspace and
   * optionally one connector; returns how many. Audited.
   */
  async replayDeadJobs(
    actor: AuditActor,
    ids: readonly number[] | 'all',
    scope: { workspaceId?: string; connectorId?: string },
  ): Promise<number> {
    const replayed = await this.store.replayDeadJobs(ids, scope);
    await this.store.appendAudit(
      auditEntry(actor, 'deadletter.replay', scope.workspaceId ?? null, {
        ...(scope.connectorId ? { connectorId: scope.connectorId } : {}),
        ids: ids === 'all' ? 'all' : [...ids],
        replayed,
      }),
    );
    return replayed;
  }

  /** Re-encrypts every stored secret with the current master key. Returns how many were rewritten. */
  async rotateSecrets(actor: AuditActor): Promise<number> {
    let rotated = 0;
    for (const setting of await this.store.listConnectors()) {
      if (!setting.encryptedSecrets || !this.secrets.needsRotation(setting.encryptedSecrets)) continue;
      const plaintext = this.secrets.decrypt(setting.encryptedSecrets);
      await this.store.setConnector({ ...setting, encryptedSecrets: this.secrets.encrypt(plaintext) });
      rotated++;
    }
    await this.store.appendAudit(
      auditEntry(actor, 'secrets.rotate', null, { rotated, keyId: this.secrets.keyId }),
    );
    return rotated;
  }

  /**
   * Makes the store match a config file: workspaces are created or updated, numbers assigned, and
   * connectors set (connectors and numbers absent from the file are left alone). Everything is
   * validated before the first write.
   */
  async apply(
    actor: AuditActor,
    file: ConfigFile,
  ): Promise<{ workspaces: number; numbers: number; connectors: number }> {
    for (const ws of file.workspaces) {
      for (const [connectorId, setting] of Object.entries(ws.connectors)) {
        const manifest = this.registry.require(connectorId);
        const label = `workspace ${ws.id}, connector ${connectorId}`;
        checkInput(manifest, setting.config, label);
        if (setting.enabled) {
          const parsed = manifest.configSchema.safeParse(setting.config);
          if (!parsed.success) {
            throw new WabridgeError(
              'config_invalid',
              `${label}: ${describeIssues(manifest.configSchema, parsed.error.issues)}`,
            );
          }
        }
      }
    }
    const counts = { workspaces: 0, numbers: 0, connectors: 0 };
    for (const ws of file.workspaces) {
      const existing = await this.store.getWorkspace(ws.id);
      if (existing) {
        await this.store.updateWorkspace(ws.id, {
          name: ws.name,
          policies: { ...DEFAULT_POLICIES, ...ws.policies },
        });
      } else {
        await this.createWorkspace(actor, {
          id: ws.id,
          name: ws.name,
          ...(ws.policies ? { policies: ws.policies } : {}),
        });
      }
      counts.workspaces++;
      for (const number of ws.phoneNumbers) {
        await this.addPhoneNumber(actor, ws.id, number);
        counts.numbers++;
      }
      for (const [connectorId, setting] of Object.entries(ws.connectors)) {
        await this.setConnector(actor, ws.id, connectorId, {
          enabled: setting.enabled,
          config: setting.config,
          replace: true,
        });
        counts.connectors++;
      }
    }
    return counts;
  }

  private readConfig(
    config: Record<string, unknown>,
    encryptedSecrets: string | null,
  ): Record<string, unknown> {
    return {
      ...config,
      ...(encryptedSecrets ? (JSON.parse(this.secrets.decrypt(encryptedSecrets)) as object) : {}),
    };
  }
}

/** What a secret's value reads as (describeConnector); sent back unchanged, it keeps the stored one. */
export const SECRET_MASK = '••••••';

function withoutMasks(manifest: ConnectorManifest, config: Record<string, unknown>): Record<string, unknown> {
  const secret = new Set(manifest.secretFields);
  return Object.fromEntries(Object.entries(config).filter(([k, v]) => !(secret.has(k) && v === SECRET_MASK)));
}

/** Policies checked whole, every problem named in one line (a misspelled key with the nearest one). */
/**
 * The recordkeeping policies a change moved, with their old and new values, for the audit trail:
 * whether notes are archived decides what the archive holds, so the trail says when that changed
 * and both ways (the other keys are named only, as before).
 */
function recordkeepingChanges(
  before: WorkspacePolicies | undefined,
  after: WorkspacePolicies,
): { archiveInternalNotes?: { from: boolean; to: boolean } } {
  const from = before?.archiveInternalNotes ?? DEFAULT_POLICIES.archiveInternalNotes;
  return from === after.archiveInternalNotes
    ? {}
    : { archiveInternalNotes: { from, to: after.archiveInternalNotes } };
}

function parsePolicies(policies: unknown): Partial<WorkspacePolicies> {
  const parsed = policiesSchema.safeParse(policies);
  if (!parsed.success) {
    throw new WabridgeError(
      'config_invalid',
      `policies: ${describeIssues(policiesSchema, parsed.error.issues)}`,
      {
        status: 400,
      },
    );
  }
  return parsed.data as Partial<WorkspacePolicies>;
}

/**
 * Refuses connector settings with keys the connector does not know (the nearest known one is
 * named) and secrets with characters no token has, whatever the connector's schema checks.
 */
function checkInput(manifest: ConnectorManifest, config: Record<string, unknown>, label: string): void {
  const unknown = unknownKeys(manifest.configSchema, config);
  if (unknown.length > 0) {
    throw new WabridgeError('config_invalid', `${label}: ${unknown.join('; ')}`, { status: 400 });
  }
  for (const field of manifest.secretFields) {
    const value = config[field];
    const bad = typeof value === 'string' ? firstNonAscii(value, true) : null;
    if (bad) {
      throw new WabridgeError(
        'config_invalid',
        `${label}: ${field}: ${describeNonAscii(bad)}; secrets are plain ASCII: paste the whole value (examples in the docs shorten it with "…")`,
        { status: 400 },
      );
    }
  }
}

/** Replaces `${NAME}` in every string of a parsed config file with the environment's value. */
export function interpolateEnv(value: unknown, env: Record<string, string | undefined>, path = ''): unknown {
  if (typeof value === 'string') {
    return value.replace(/\$\{([A-Z0-9_]+)\}/g, (_, name: string) => {
      const found = env[name];
      if (found === undefined)
        throw new WabridgeError(
          'config_invalid',
          `${path || 'config'} refers to \${${name}}, which is not set`,
        );
      return found;
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => interpolateEnv(v, env, `${path}[${i}]`));
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, interpolateEnv(v, env, path ? `${path}.${k}` : k)]),
    );
  }
  return value;
}
