import { WabridgeError } from '../../errors/index.ts';
import type { WhatsAppAppRecord, WhatsAppNumberCredentials } from '../types.ts';
import type { SqliteDatabase } from './database.ts';

/**
 * Meta apps and per-number credentials (migration 19). Only ciphertexts reach these tables; the
 * SecretBox lives with the caller (src/whatsapp/apps.ts).
 */

interface AppRow {
  app_id: string;
  name: string | null;
  secrets_enc: string;
  verify_token_enc: string | null;
  created_at: number;
  updated_at: number;
}

interface CredentialsRow {
  phone_number_id: string;
  workspace_id: string;
  app_id: string;
  waba_id: string;
  access_token_enc: string;
  updated_at: number;
}

const toApp = (r: AppRow): WhatsAppAppRecord => ({
  appId: r.app_id,
  name: r.name,
  secretsEnc: r.secrets_enc,
  verifyTokenEnc: r.verify_token_enc,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

const toCredentials = (r: CredentialsRow): WhatsAppNumberCredentials => ({
  phoneNumberId: r.phone_number_id,
  workspaceId: r.workspace_id,
  appId: r.app_id,
  wabaId: r.waba_id,
  accessTokenEnc: r.access_token_enc,
  updatedAt: r.updated_at,
});

export function putApp(db: SqliteDatabase, app: Omit<WhatsAppAppRecord, 'createdAt'>): void {
  db.run(
    `INSERT INTO whatsapp_apps (app_id, name, secrets_enc, verify_token_enc, created_at, updated_at)
     VALUES (:id, :name, :secrets, :verify, :at, :at)
     ON CONFLICT (app_id) DO UPDATE SET name = excluded.name, secrets_enc = excluded.secrets_enc,
       verify_token_enc = excluded.verify_token_enc, updated_at = excluded.updated_at`,
    {
      id: app.appId,
      name: app.name,
      secrets: app.secretsEnc,
      verify: app.verifyTokenEnc,
      at: app.updatedAt,
    },
  );
}

/** Removes an app; refused while a number still names it (its webhooks would have no secret). */
export function removeApp(db: SqliteDatabase, appId: string): void {
  const used = db.all<{ phone_number_id: string }>(
    'SELECT phone_number_id FROM whatsapp_number_credentials WHERE app_id = :id ORDER BY phone_number_id',
    { id: appId },
  );
  if (used.length > 0) {
    throw new WabridgeError(
      'conflict',
      `Meta app ${appId} still has numbers: ${used.map((r) => r.phone_number_id).join(', ')}; remove their credentials first`,
      { status: 409 },
    );
  }
  const { changes } = db.run('DELETE FROM whatsapp_apps WHERE app_id = :id', { id: appId });
  if (changes === 0)
    throw new WabridgeError('not_found', `Meta app ${appId} is not registered`, { status: 404 });
}

export function listApps(db: SqliteDatabase): WhatsAppAppRecord[] {
  return db.all<AppRow>('SELECT * FROM whatsapp_apps ORDER BY app_id').map(toApp);
}

export function setCredentials(db: SqliteDatabase, input: WhatsAppNumberCredentials): void {
  const number = db.get<{ workspace_id: string }>(
    'SELECT workspace_id FROM phone_numbers WHERE phone_number_id = :id',
    { id: input.phoneNumberId },
  );
  if (number?.workspace_id !== input.workspaceId) {
    throw new WabridgeError(
      'not_found',
      `number ${input.phoneNumberId} is not in workspace ${input.workspaceId} (add it first)`,
      { status: 404 },
    );
  }
  if (!db.get('SELECT 1 AS x FROM whatsapp_apps WHERE app_id = :id', { id: input.appId })) {
    throw new WabridgeError(
      'not_found',
      `Meta app ${input.appId} is not registered (wabridge whatsapp add-app ${input.appId} --secret-env VAR)`,
      { status: 404 },
    );
  }
  db.run(
    `INSERT INTO whatsapp_number_credentials
       (phone_number_id, workspace_id, app_id, waba_id, access_token_enc, updated_at)
     VALUES (:id, :ws, :app, :waba, :token, :at)
     ON CONFLICT (phone_number_id) DO UPDATE SET workspace_id = excluded.workspace_id,
       app_id = excluded.app_id, waba_id = excluded.waba_id,
       access_token_enc = excluded.access_token_enc, updated_at = excluded.updated_at`,
    {
      id: input.phoneNumberId,
      ws: input.workspaceId,
      app: input.appId,
      waba: input.wabaId,
      token: input.accessTokenEnc,
      at: input.updatedAt,
    },
  );
}

export function removeCredentials(db: SqliteDatabase, workspaceId: string, phoneNumberId: string): boolean {
  return (
    db.run('DELETE FROM whatsapp_number_credentials WHERE phone_number_id = :id AND workspace_id = :ws', {
      id: phoneNumberId,
      ws: workspaceId,
    }).changes > 0
  );
}

export function listCredentials(db: SqliteDatabase, workspaceId?: string): WhatsAppNumberCredentials[] {
  const rows = workspaceId
    ? db.all<CredentialsRow>(
        'SELECT * FROM whatsapp_number_credentials WHERE workspace_id = :ws ORDER BY phone_number_id',
        { ws: workspaceId },
      )
    : db.all<CredentialsRow>('SELECT * FROM whatsapp_number_credentials ORDER BY phone_number_id');
  return rows.map(toCredentials);
}
