import { WabridgeError, type WhatsAppAppRecord, type WhatsAppNumberCredentials } from '@wabridge/core';
import type { Queryable } from './database.ts';

/**
 * Meta apps and per-number credentials (issue 20) on Postgres. Only ciphertexts reach these
 * tables; the SecretBox lives with the caller. An app and the credentials naming it are kept
 * consistent by row locks: setting credentials holds the app's row (FOR SHARE) until it commits,
 * and removing the app locks it (FOR UPDATE) before counting its numbers, so one of the two
 * always sees the other.
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

export async function putApp(q: Queryable, app: Omit<WhatsAppAppRecord, 'createdAt'>): Promise<void> {
  await q.run(
    `INSERT INTO whatsapp_apps (app_id, name, secrets_enc, verify_token_enc, created_at, updated_at)
     VALUES ($1, $2, $3, $4, $5, $5)
     ON CONFLICT (app_id) DO UPDATE SET name = excluded.name, secrets_enc = excluded.secrets_enc,
       verify_token_enc = excluded.verify_token_enc, updated_at = excluded.updated_at`,
    [app.appId, app.name, app.secretsEnc, app.verifyTokenEnc, app.updatedAt],
  );
}

/** Removes an app (in a transaction); refused while a number still names it. */
export async function removeApp(tx: Queryable, appId: string): Promise<void> {
  if (!(await tx.get('SELECT 1 AS x FROM whatsapp_apps WHERE app_id = $1 FOR UPDATE', [appId]))) {
    throw new WabridgeError('not_found', `Meta app ${appId} is not registered`, { status: 404 });
  }
  const used = await tx.all<{ phone_number_id: string }>(
    'SELECT phone_number_id FROM whatsapp_number_credentials WHERE app_id = $1 ORDER BY phone_number_id',
    [appId],
  );
  if (used.length > 0) {
    throw new WabridgeError(
      'conflict',
      `Meta app ${appId} still has numbers: ${used.map((r) => r.phone_number_id).join(', ')}; remove their credentials first`,
      { status: 409 },
    );
  }
  await tx.run('DELETE FROM whatsapp_apps WHERE app_id = $1', [appId]);
}

export async function listApps(q: Queryable): Promise<WhatsAppAppRecord[]> {
  return (await q.all<AppRow>('SELECT * FROM whatsapp_apps ORDER BY app_id')).map(toApp);
}

/** Sets a number's credentials (in a transaction): the number must be in the workspace, the app registered. */
export async function setCredentials(tx: Queryable, input: WhatsAppNumberCredentials): Promise<void> {
  const number = await tx.get<{ workspace_id: string }>(
    'SELECT workspace_id FROM phone_numbers WHERE phone_number_id = $1 FOR SHARE',
    [input.phoneNumberId],
  );
  if (number?.workspace_id !== input.workspaceId) {
    throw new WabridgeError(
      'not_found',
      `number ${input.phoneNumberId} is not in workspace ${input.workspaceId} (add it first)`,
      { status: 404 },
    );
  }
  if (!(await tx.get('SELECT 1 AS x FROM whatsapp_apps WHERE app_id = $1 FOR SHARE', [input.appId]))) {
    throw new WabridgeError(
      'not_found',
      `Meta app ${input.appId} is not registered (wabridge whatsapp add-app ${input.appId} --secret-env VAR)`,
      { status: 404 },
    );
  }
  await tx.run(
    `INSERT INTO whatsapp_number_credentials
       (phone_number_id, workspace_id, app_id, waba_id, access_token_enc, updated_at)
     VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (phone_number_id) DO UPDATE SET workspace_id = excluded.workspace_id,
       app_id = excluded.app_id, waba_id = excluded.waba_id,
       access_token_enc = excluded.access_token_enc, updated_at = excluded.updated_at`,
    [
      input.phoneNumberId,
      input.workspaceId,
      input.appId,
      input.wabaId,
      input.accessTokenEnc,
      input.updatedAt,
    ],
  );
}

export async function removeCredentials(q: Queryable, workspaceId: string, phoneNumberId: string) {
  return (
    (await q.run('DELETE FROM whatsapp_number_credentials WHERE phone_number_id = $1 AND workspace_id = $2', [
      phoneNumberId,
      workspaceId,
    ])) > 0
  );
}

export async function listCredentials(q: Queryable, workspaceId?: string) {
  const rows = workspaceId
    ? await q.all<CredentialsRow>(
        'SELECT * FROM whatsapp_number_credentials WHERE workspace_id = $1 ORDER BY phone_number_id',
        [workspaceId],
      )
    : await q.all<CredentialsRow>('SELECT * FROM whatsapp_number_credentials ORDER BY phone_number_id');
  return rows.map(toCredentials);
}
