import {
  type ConfigStore,
  type ConnectorSettingInput,
  DEFAULT_POLICIES,
  GLOBAL_ARCHIVE_LOG,
  type KeyRotationStore,
  newId,
  type PhoneNumber,
  WabridgeError,
  type WhatsAppAppRecord,
  type WhatsAppNumberCredentials,
  type Workspace,
  type WorkspacePolicies,
} from '@wabridge/core';
import { PgContext } from './context.ts';
import { refuseUnderHold } from './hold-refusal.ts';
import { type ReencryptCursors, reencryptBatch, waitForOlderTransactions } from './key-rotation.ts';
import {
  type ConnectorSettingRow,
  jsonb,
  type PhoneNumberRow,
  toConnectorSetting,
  toPhoneNumber,
  toWorkspace,
  type WorkspaceRow,
} from './rows.ts';
import * as whatsappApps from './whatsapp-apps.ts';

/** The tables whose rows belong to one workspace (`workspace_id`), emptied when it is deleted. */
const WORKSPACE_TABLES = [
  'external_refs',
  'command_keys',
  'notices',
  'internal_notes',
  'consent_state',
  'consent_ledger',
  'message_statuses',
  'messages',
  'conversations',
  'contacts',
  'connector_state',
  'platform_events',
  'admin_grants',
  'api_tokens',
  'whatsapp_number_credentials',
  'legal_holds',
  'retention_rules',
  'erasures',
  'erasure_confirmations',
  'archive_records',
  'archive_content',
  'data_keys',
];

/** The queue's tables (src/schema/jobs.ts) that hold a workspace's jobs and their health. */
const JOB_TABLES = ['jobs', 'dead_jobs', 'connector_health'];

/** The archive log's tables, keyed by log id (a workspace's log has its id). */
const LOG_TABLES = ['archive_log_nodes', 'archive_log_heads', 'archive_keys', 'archive_checkpoints'];

/** Workspaces, numbers, Meta apps and number credentials, connector settings, data keys (ConfigStore). */
export abstract class PgConfig extends PgContext implements ConfigStore, KeyRotationStore {
  /** Where each re-encryption pass is (see key-rotation.ts). */
  readonly #reencryptCursors: ReencryptCursors = new Map();

  async createWorkspace(input: {
    id?: string;
    name: string;
    policies?: Partial<WorkspacePolicies>;
  }): Promise<Workspace> {
    const workspace: Workspace = {
      id: input.id ?? newId('ws'),
      name: input.name,
      policies: { ...DEFAULT_POLICIES, ...input.policies },
      createdAt: this.now(),
    };
    await this.db.transaction(async (tx) => {
      // The primary key decides between two creators of one id: no read before the write.
      const created = await tx.run(
        `INSERT INTO workspaces (id, name, policies, created_at) VALUES ($1, $2, $3::jsonb, $4)
         ON CONFLICT (id) DO NOTHING`,
        [workspace.id, workspace.name, jsonb(workspace.policies), workspace.createdAt],
      );
      if (created === 0) {
        throw new WabridgeError('conflict', `workspace ${workspace.id} already exists`, { status: 409 });
      }
      await this.bumpConfigVersion(tx);
    });
    return workspace;
  }

  async getWorkspace(id: string): Promise<Workspace | null> {
    const row = await this.db.get<WorkspaceRow>('SELECT * FROM workspaces WHERE id = $1', [id]);
    return row ? toWorkspace(row) : null;
  }

  async listWorkspaces(): Promise<Workspace[]> {
    return (await this.db.all<WorkspaceRow>('SELECT * FROM workspaces ORDER BY created_at, id')).map(
      toWorkspace,
    );
  }

  updateWorkspace(
    id: string,
    patch: { name?: string; policies?: Partial<WorkspacePolicies> },
  ): Promise<Workspace> {
    return this.db.transaction(async (tx) => {
      // One statement: the policies are merged in the row (jsonb ||, a shallow merge like the
      // spread in SQLite), so two concurrent patches of different fields both stay.
      const row = await tx.get<WorkspaceRow>(
        `UPDATE workspaces SET name = COALESCE($2, name), policies = policies || $3::jsonb
         WHERE id = $1 RETURNING *`,
        [id, patch.name ?? null, jsonb(patch.policies ?? {})],
      );
      if (!row) throw new WabridgeError('not_found', `workspace ${id} does not exist`, { status: 404 });
      await this.bumpConfigVersion(tx);
      return toWorkspace(row);
    });
  }

  deleteWorkspace(id: string): Promise<void> {
    return this.db
      .transaction(async (tx) => {
        // The row is locked first: whatever adds to the workspace (a hold, a number, a connector)
        // holds it FOR SHARE, so nothing is added between the check for holds and the deletion.
        await tx.run('SELECT 1 FROM workspaces WHERE id = $1 FOR UPDATE', [id]);
        await refuseUnderHold(tx, id, 'deleting the workspace');
        // Its archive and data keys go with it: whatever they sealed that a backup still holds is
        // unreadable. The deletion itself is an admin act of the global log (the CLI's).
        for (const table of [...JOB_TABLES, ...WORKSPACE_TABLES]) {
          await tx.run(`DELETE FROM ${table} WHERE workspace_id = $1`, [id]);
        }
        for (const table of LOG_TABLES) await tx.run(`DELETE FROM ${table} WHERE log_id = $1`, [id]);
        // Numbers and connector settings go by their foreign keys (ON DELETE CASCADE).
        await tx.run('DELETE FROM workspaces WHERE id = $1', [id]);
        await this.bumpConfigVersion(tx);
      })
      .finally(() => this.keyring.forget(id));
  }

  addPhoneNumber(input: PhoneNumber): Promise<void> {
    return this.db.transaction(async (tx) => {
      await this.requireWorkspace(tx, input.workspaceId);
      // A number already in another workspace is not taken over: the update only applies when the
      // owner is the same, and otherwise no row comes back.
      const kept = await tx.get(
        `INSERT INTO phone_numbers (phone_number_id, workspace_id, display_phone_number, waba_id)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (phone_number_id) DO UPDATE SET display_phone_number = excluded.display_phone_number,
           waba_id = excluded.waba_id
         WHERE phone_numbers.workspace_id = excluded.workspace_id
         RETURNING 1 AS x`,
        [input.phoneNumberId, input.workspaceId, input.displayPhoneNumber, input.wabaId],
      );
      if (!kept) {
        const owner = await tx.get<{ workspace_id: string }>(
          'SELECT workspace_id FROM phone_numbers WHERE phone_number_id = $1',
          [input.phoneNumberId],
        );
        throw new WabridgeError(
          'conflict',
          `phone number ${input.phoneNumberId} already belongs to workspace ${owner?.workspace_id ?? '?'}`,
          { status: 409 },
        );
      }
      await this.bumpConfigVersion(tx);
    });
  }

  removePhoneNumber(phoneNumberId: string): Promise<void> {
    return this.db.transaction(async (tx) => {
      await tx.run('DELETE FROM phone_numbers WHERE phone_number_id = $1', [phoneNumberId]);
      await tx.run('DELETE FROM whatsapp_number_credentials WHERE phone_number_id = $1', [phoneNumberId]);
      await this.bumpConfigVersion(tx);
    });
  }

  async listPhoneNumbers(workspaceId?: string): Promise<PhoneNumber[]> {
    const rows = workspaceId
      ? await this.db.all<PhoneNumberRow>(
          'SELECT * FROM phone_numbers WHERE workspace_id = $1 ORDER BY phone_number_id',
          [workspaceId],
        )
      : await this.db.all<PhoneNumberRow>('SELECT * FROM phone_numbers ORDER BY phone_number_id');
    return rows.map(toPhoneNumber);
  }

  async resolvePhoneNumber(phoneNumberId: string): Promise<PhoneNumber | null> {
    const row = await this.db.get<PhoneNumberRow>('SELECT * FROM phone_numbers WHERE phone_number_id = $1', [
      phoneNumberId,
    ]);
    return row ? toPhoneNumber(row) : null;
  }

  putWhatsAppApp(app: Omit<WhatsAppAppRecord, 'createdAt'>): Promise<void> {
    return this.db.transaction(async (tx) => {
      await whatsappApps.putApp(tx, app);
      await this.bumpConfigVersion(tx);
    });
  }

  removeWhatsAppApp(appId: string): Promise<void> {
    return this.db.transaction(async (tx) => {
      await whatsappApps.removeApp(tx, appId);
      await this.bumpConfigVersion(tx);
    });
  }

  listWhatsAppApps(): Promise<WhatsAppAppRecord[]> {
    return whatsappApps.listApps(this.db);
  }

  setNumberCredentials(input: WhatsAppNumberCredentials): Promise<void> {
    return this.db.transaction(async (tx) => {
      await whatsappApps.setCredentials(tx, input);
      await this.bumpConfigVersion(tx);
    });
  }

  removeNumberCredentials(workspaceId: string, phoneNumberId: string): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      const removed = await whatsappApps.removeCredentials(tx, workspaceId, phoneNumberId);
      if (removed) await this.bumpConfigVersion(tx);
      return removed;
    });
  }

  listNumberCredentials(workspaceId?: string): Promise<WhatsAppNumberCredentials[]> {
    return whatsappApps.listCredentials(this.db, workspaceId);
  }

  setConnector(input: ConnectorSettingInput): Promise<void> {
    return this.db.transaction(async (tx) => {
      await this.requireWorkspace(tx, input.workspaceId);
      await tx.run(
        `INSERT INTO connector_settings (workspace_id, connector_id, enabled, events, config, secrets, updated_at)
         VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7)
         ON CONFLICT (workspace_id, connector_id) DO UPDATE SET enabled = excluded.enabled,
           events = excluded.events, config = excluded.config, secrets = excluded.secrets,
           updated_at = excluded.updated_at`,
        [
          input.workspaceId,
          input.connectorId,
          input.enabled,
          `,${input.events.join(',')},`,
          jsonb(input.config),
          input.encryptedSecrets,
          this.now(),
        ],
      );
      await this.bumpConfigVersion(tx);
    });
  }

  async getConnector(workspaceId: string, connectorId: string) {
    const row = await this.db.get<ConnectorSettingRow>(
      'SELECT * FROM connector_settings WHERE workspace_id = $1 AND connector_id = $2',
      [workspaceId, connectorId],
    );
    return row ? toConnectorSetting(row) : null;
  }

  async listConnectors(workspaceId?: string) {
    const rows = workspaceId
      ? await this.db.all<ConnectorSettingRow>(
          'SELECT * FROM connector_settings WHERE workspace_id = $1 ORDER BY connector_id',
          [workspaceId],
        )
      : await this.db.all<ConnectorSettingRow>(
          'SELECT * FROM connector_settings ORDER BY workspace_id, connector_id',
        );
    return rows.map(toConnectorSetting);
  }

  async configVersion(): Promise<number> {
    const row = await this.db.get<{ v: number }>(
      "SELECT value::bigint AS v FROM meta WHERE key = 'config_version'",
    );
    return row?.v ?? 0;
  }

  // --- Key rotation (KeyRotationStore, `wabridge keys rotate`; see key-rotation.ts) ------------

  get masterKeyId(): string {
    return this.keyring.masterKeyId;
  }

  rewrapDataKeys(): Promise<number> {
    return this.db.transaction((tx) => this.keyring.rewrap(tx));
  }

  /**
   * A new current data key for the workspace. Every process's next transaction seals with it (the
   * current key is read once per transaction); it answers once the transactions that were open
   * when it committed have ended (they may have read the old key), so that a re-encryption pass
   * after it leaves nothing on the old key.
   */
  async rotateDataKey(workspaceId: string): Promise<string> {
    const id = await this.db.transaction(async (tx) => {
      if (workspaceId !== GLOBAL_ARCHIVE_LOG) await this.requireWorkspace(tx, workspaceId);
      return this.keyring.rotate(tx, workspaceId);
    });
    const open = await waitForOlderTransactions(this.db);
    if (open > 0) {
      this.logger.warn(
        { workspaceId, keyId: id, open },
        'transactions older than the data key rotation are still open: what they seal stays on the previous key (readable) until the next re-encryption',
      );
    }
    return id;
  }

  reencryptBatch(workspaceId: string, limit = 500): Promise<number> {
    const deps = {
      db: this.db,
      keyring: this.keyring,
      archive: this.archive,
      cursors: this.#reencryptCursors,
    };
    return reencryptBatch(deps, workspaceId, limit);
  }

  async dataKey(workspaceId: string, keyId?: string): Promise<{ keyId: string; key: string }> {
    if (workspaceId !== GLOBAL_ARCHIVE_LOG) await this.requireWorkspace(this.db, workspaceId);
    const found =
      keyId === undefined
        ? await this.db.transaction((tx) => this.keyring.current(tx, workspaceId))
        : { id: keyId, key: await this.keyring.byId(this.db, workspaceId, keyId) };
    return { keyId: found.id, key: found.key.export().toString('base64') };
  }
}
