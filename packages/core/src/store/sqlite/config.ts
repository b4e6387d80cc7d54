import {
  DEFAULT_POLICIES,
  type PhoneNumber,
  type Workspace,
  type WorkspacePolicies,
} from '../../domain/types.ts';
import { WabridgeError } from '../../errors/index.ts';
import { newId } from '../../ids/index.ts';
import type {
  ConfigStore,
  ConnectorSettingInput,
  KeyRotationStore,
  WhatsAppAppRecord,
  WhatsAppNumberCredentials,
} from '../types.ts';
import { ARCHIVE_CONTENT_PURPOSE, GLOBAL_ARCHIVE_LOG } from './archive.ts';
import { PLATFORM_PAYLOAD, SqliteContext, STATUS_RAW, UNROUTED_PAYLOAD } from './context.ts';
import { refuseUnderHold } from './governance/holds.ts';
import {
  type ConnectorSettingRow,
  json,
  type PhoneNumberRow,
  toConnectorSetting,
  toPhoneNumber,
  toWorkspace,
  type WorkspaceRow,
} from './rows.ts';
import * as whatsappApps from './whatsapp-apps.ts';

/**
 * Where sealed values live, for re-encryption: table, row key, column, purpose, whose rows.
 * Messages (text and content sealed together) are re-sealed apart (see reencryptBatch).
 */
const SEALED_COLUMNS: ReadonlyArray<{
  table: string;
  key: string;
  column: string;
  purpose: string;
  workspaceWhere: string | null;
  globalWhere: string | null;
}> = [
  {
    table: 'message_statuses',
    key: 'rowid',
    column: 'raw',
    purpose: STATUS_RAW,
    workspaceWhere: 'workspace_id = :ws',
    globalWhere: null,
  },
  {
    table: 'platform_events',
    key: 'rowid',
    column: 'payload',
    purpose: PLATFORM_PAYLOAD,
    workspaceWhere: 'workspace_id = :ws',
    globalWhere: 'workspace_id IS NULL',
  },
  {
    table: 'unrouted_events',
    key: 'rowid',
    column: 'payload',
    purpose: UNROUTED_PAYLOAD,
    workspaceWhere: null,
    globalWhere: '1 = 1',
  },
  {
    table: 'archive_content',
    key: 'seq',
    column: 'sealed',
    purpose: ARCHIVE_CONTENT_PURPOSE,
    workspaceWhere: 'workspace_id = :ws',
    globalWhere: 'workspace_id = :ws',
  },
];

/** Workspaces, numbers, Meta apps and number credentials, connector settings, data keys (ConfigStore). */
export abstract class SqliteConfig extends SqliteContext implements ConfigStore, KeyRotationStore {
  // --- Workspaces, numbers, connector settings ----------------------------------------------

  createWorkspace(input: {
    id?: string;
    name: string;
    policies?: Partial<WorkspacePolicies>;
  }): Promise<Workspace> {
    return this.db.write(() => {
      const workspace: Workspace = {
        id: input.id ?? newId('ws'),
        name: input.name,
        policies: { ...DEFAULT_POLICIES, ...input.policies },
        createdAt: this.now(),
      };
      const existing = this.db.get<WorkspaceRow>('SELECT * FROM workspaces WHERE id = :id', {
        id: workspace.id,
      });
      if (existing)
        throw new WabridgeError('conflict', `workspace ${workspace.id} already exists`, { status: 409 });
      this.db.run(
        'INSERT INTO workspaces (id, name, policies, created_at) VALUES (:id, :name, :policies, :at)',
        {
          id: workspace.id,
          name: workspace.name,
          policies: json(workspace.policies),
          at: workspace.createdAt,
        },
      );
      this.bumpConfigVersion();
      return workspace;
    });
  }

  async getWorkspace(id: string): Promise<Workspace | null> {
    const row = this.db.get<WorkspaceRow>('SELECT * FROM workspaces WHERE id = :id', { id });
    return row ? toWorkspace(row) : null;
  }

  async listWorkspaces(): Promise<Workspace[]> {
    return this.db.all<WorkspaceRow>('SELECT * FROM workspaces ORDER BY created_at, id').map(toWorkspace);
  }

  updateWorkspace(
    id: string,
    patch: { name?: string; policies?: Partial<WorkspacePolicies> },
  ): Promise<Workspace> {
    return this.db.write(() => {
      const row = this.db.get<WorkspaceRow>('SELECT * FROM workspaces WHERE id = :id', { id });
      if (!row) throw new WabridgeError('not_found', `workspace ${id} does not exist`, { status: 404 });
      const current = toWorkspace(row);
      const next: Workspace = {
        ...current,
        name: patch.name ?? current.name,
        policies: { ...current.policies, ...patch.policies },
      };
      this.db.run('UPDATE workspaces SET name = :name, policies = :policies WHERE id = :id', {
        id,
        name: next.name,
        policies: json(next.policies),
      });
      this.bumpConfigVersion();
      return next;
    });
  }

  deleteWorkspace(id: string): Promise<void> {
    return this.db.write(() => {
      refuseUnderHold(this.db, id, 'deleting the workspace');
      for (const table of [
        'jobs',
        'jobs_new',
        'dead_jobs',
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
        'connector_health',
        'platform_events',
        'admin_grants',
        'api_tokens',
        'whatsapp_number_credentials',
        'legal_holds',
        'retention_rules',
        'erasures',
        'erasure_confirmations',
      ]) {
        this.db.run(`DELETE FROM ${table} WHERE workspace_id = :id`, { id });
      }
      // The workspace's archive goes with it (refused above while a legal hold is active): deleting
      // a workspace means its message texts are gone from this file. The deletion itself is an
      // admin act of the global log (see workspaceDelete in the CLI). The appender notices the
      // emptied log by its head, so a workspace made again with this id starts a fresh log.
      this.db.run('DELETE FROM archive_records WHERE workspace_id = :id', { id });
      this.db.run('DELETE FROM archive_content WHERE workspace_id = :id', { id });
      // Its data keys too: whatever they sealed and a copy of the file still holds is unreadable.
      this.db.run('DELETE FROM data_keys WHERE workspace_id = :id', { id });
      this.keyring.forget(id);
      for (const table of ['archive_log_nodes', 'archive_log_heads', 'archive_keys', 'archive_checkpoints']) {
        this.db.run(`DELETE FROM ${table} WHERE log_id = :id`, { id });
      }
      this.db.run('DELETE FROM workspaces WHERE id = :id', { id });
      this.bumpConfigVersion();
    });
  }

  addPhoneNumber(input: PhoneNumber): Promise<void> {
    return this.db.write(() => {
      this.requireWorkspace(input.workspaceId);
      const owner = this.db.get<PhoneNumberRow>('SELECT * FROM phone_numbers WHERE phone_number_id = :id', {
        id: input.phoneNumberId,
      });
      if (owner && owner.workspace_id !== input.workspaceId) {
        throw new WabridgeError(
          'conflict',
          `phone number ${input.phoneNumberId} already belongs to workspace ${owner.workspace_id}`,
          { status: 409 },
        );
      }
      this.db.run(
        `INSERT INTO phone_numbers (phone_number_id, workspace_id, display_phone_number, waba_id)
         VALUES (:id, :ws, :display, :waba)
         ON CONFLICT (phone_number_id) DO UPDATE SET display_phone_number = excluded.display_phone_number, waba_id = excluded.waba_id`,
        {
          id: input.phoneNumberId,
          ws: input.workspaceId,
          display: input.displayPhoneNumber,
          waba: input.wabaId,
        },
      );
      this.bumpConfigVersion();
    });
  }

  removePhoneNumber(phoneNumberId: string): Promise<void> {
    return this.db.write(() => {
      this.db.run('DELETE FROM phone_numbers WHERE phone_number_id = :id', { id: phoneNumberId });
      this.db.run('DELETE FROM whatsapp_number_credentials WHERE phone_number_id = :id', {
        id: phoneNumberId,
      });
      this.bumpConfigVersion();
    });
  }

  async listPhoneNumbers(workspaceId?: string): Promise<PhoneNumber[]> {
    const rows = workspaceId
      ? this.db.all<PhoneNumberRow>(
          'SELECT * FROM phone_numbers WHERE workspace_id = :ws ORDER BY phone_number_id',
          {
            ws: workspaceId,
          },
        )
      : this.db.all<PhoneNumberRow>('SELECT * FROM phone_numbers ORDER BY phone_number_id');
    return rows.map(toPhoneNumber);
  }

  async resolvePhoneNumber(phoneNumberId: string): Promise<PhoneNumber | null> {
    const row = this.db.get<PhoneNumberRow>('SELECT * FROM phone_numbers WHERE phone_number_id = :id', {
      id: phoneNumberId,
    });
    return row ? toPhoneNumber(row) : null;
  }

  putWhatsAppApp(app: Omit<WhatsAppAppRecord, 'createdAt'>): Promise<void> {
    return this.db.write(() => {
      whatsappApps.putApp(this.db, app);
      this.bumpConfigVersion();
    });
  }

  removeWhatsAppApp(appId: string): Promise<void> {
    return this.db.write(() => {
      whatsappApps.removeApp(this.db, appId);
      this.bumpConfigVersion();
    });
  }

  async listWhatsAppApps(): Promise<WhatsAppAppRecord[]> {
    return whatsappApps.listApps(this.db);
  }

  setNumberCredentials(input: WhatsAppNumberCredentials): Promise<void> {
    return this.db.write(() => {
      whatsappApps.setCredentials(this.db, input);
      this.bumpConfigVersion();
    });
  }

  removeNumberCredentials(workspaceId: string, phoneNumberId: string): Promise<boolean> {
    return this.db.write(() => {
      const removed = whatsappApps.removeCredentials(this.db, workspaceId, phoneNumberId);
      if (removed) this.bumpConfigVersion();
      return removed;
    });
  }

  async listNumberCredentials(workspaceId?: string): Promise<WhatsAppNumberCredentials[]> {
    return whatsappApps.listCredentials(this.db, workspaceId);
  }

  setConnector(input: ConnectorSettingInput): Promise<void> {
    return this.db.write(() => {
      this.requireWorkspace(input.workspaceId);
      this.db.run(
        `INSERT INTO connector_settings (workspace_id, connector_id, enabled, events, config, secrets, updated_at)
         VALUES (:ws, :connector, :enabled, :events, :config, :secrets, :at)
         ON CONFLICT (workspace_id, connector_id) DO UPDATE SET enabled = excluded.enabled, events = excluded.events,
           config = excluded.config, secrets = excluded.secrets, updated_at = excluded.updated_at`,
        {
          ws: input.workspaceId,
          connector: input.connectorId,
          enabled: input.enabled ? 1 : 0,
          events: `,${input.events.join(',')},`,
          config: json(input.config),
          secrets: input.encryptedSecrets,
          at: this.now(),
        },
      );
      this.bumpConfigVersion();
    });
  }

  async getConnector(workspaceId: string, connectorId: string) {
    const row = this.db.get<ConnectorSettingRow>(
      'SELECT * FROM connector_settings WHERE workspace_id = :ws AND connector_id = :connector',
      { ws: workspaceId, connector: connectorId },
    );
    return row ? toConnectorSetting(row) : null;
  }

  async listConnectors(workspaceId?: string) {
    const rows = workspaceId
      ? this.db.all<ConnectorSettingRow>(
          'SELECT * FROM connector_settings WHERE workspace_id = :ws ORDER BY connector_id',
          { ws: workspaceId },
        )
      : this.db.all<ConnectorSettingRow>(
          'SELECT * FROM connector_settings ORDER BY workspace_id, connector_id',
        );
    return rows.map(toConnectorSetting);
  }

  async configVersion(): Promise<number> {
    const row = this.db.get<{ value: string }>("SELECT value FROM meta WHERE key = 'config_version'");
    return Number(row?.value ?? 0);
  }

  // --- Archive content (issue 18, items 3-6) -------------------------------------------------

  /** The id of the master key data keys are wrapped with from now on (KeyRotationStore). */
  get masterKeyId(): string {
    return this.keyring.masterKeyId;
  }

  /**
   * Key rotation, step one: re-wraps every data key not wrapped by the current master key (after
   * WABRIDGE_MASTER_KEY changed and the old one moved to WABRIDGE_MASTER_KEY_PREVIOUS). Answers
   * how many were re-wrapped; the content itself is untouched.
   */
  rewrapDataKeys(): Promise<number> {
    return this.db.write(() => this.keyring.rewrap());
  }

  /**
   * Key rotation, step two (optional): a new data key for the workspace, for every write from now
   * on. The old one is kept to read what it sealed until `reencryptBatch` has moved it all.
   */
  rotateDataKey(workspaceId: string): Promise<string> {
    return this.db.write(() => {
      if (workspaceId !== GLOBAL_ARCHIVE_LOG) this.requireWorkspace(workspaceId);
      return this.keyring.rotate(workspaceId);
    });
  }

  /**
   * Re-seals up to `limit` values of the workspace that are not sealed with its current data key
   * (or not sealed at all: written before encryption at rest), in one write transaction, so the
   * gateway keeps serving between batches. Answers how many it re-sealed: 0 when done.
   */
  reencryptBatch(workspaceId: string, limit = 500): Promise<number> {
    return this.db.write(() => {
      const keyId = Buffer.from(this.keyring.currentKeyId(workspaceId), 'hex');
      // Messages: text and content sealed together; a plaintext row (from before) is sealed so.
      const messages = this.db.all<{ k: number; text: string | null; content: string | Uint8Array }>(
        `SELECT rowid AS k, text, content FROM messages WHERE workspace_id = :ws
         AND ((typeof(content) = 'blob' AND substr(content, 2, 4) <> :kid) OR typeof(content) = 'text')
         LIMIT :limit`,
        { ws: workspaceId, kid: keyId, limit },
      );
      for (const row of messages) {
        const body = this.openBody(workspaceId, row.text, row.content);
        this.db.run('UPDATE messages SET text = NULL, content = :content WHERE rowid = :k', {
          k: row.k,
          content: this.sealBody(workspaceId, body.text, JSON.parse(body.content)).sealed,
        });
      }
      let done = messages.length;
      for (const column of SEALED_COLUMNS) {
        if (done >= limit) break;
        const where = workspaceId === GLOBAL_ARCHIVE_LOG ? column.globalWhere : column.workspaceWhere;
        if (where === null) continue;
        const stale = `((typeof(${column.column}) = 'blob' AND substr(${column.column}, 2, 4) <> :kid)
          OR (typeof(${column.column}) = 'text' AND ${column.column} <> '{}'))`;
        const rows = this.db.all<{ k: unknown; v: string | Uint8Array }>(
          `SELECT ${column.key} AS k, ${column.column} AS v FROM ${column.table}
           WHERE ${where} AND ${stale} LIMIT :limit`,
          { ws: workspaceId, kid: keyId, limit: limit - done },
        );
        for (const row of rows) {
          const plain =
            typeof row.v === 'string'
              ? Buffer.from(row.v, 'utf8')
              : this.keyring.open(workspaceId, column.purpose, row.v);
          this.db.run(
            `UPDATE ${column.table} SET ${column.column} = :v WHERE ${column.key} = :k AND ${where}`,
            {
              k: row.k as string,
              ws: workspaceId,
              v: this.keyring.seal(workspaceId, column.purpose, plain),
            },
          );
        }
        done += rows.length;
      }
      return done;
    });
  }

  async dataKey(workspaceId: string, keyId?: string): Promise<{ keyId: string; key: string }> {
    if (workspaceId !== GLOBAL_ARCHIVE_LOG) this.requireWorkspace(workspaceId);
    const exported =
      keyId === undefined
        ? await this.db.write(() => this.keyring.exportKey(workspaceId))
        : this.keyring.exportKey(workspaceId, keyId);
    return { keyId: exported.keyId, key: exported.key.toString('base64') };
  }
}
