/**
 * "Connect Teams" for one wabridge workspace: the settings, the link `wabridge connector connect`
 * prints, and where the signed-in account's pending install waits for its channel to be picked
 * (encrypted, in the connector state, ten minutes).
 */
import type { TeamsSignInApp } from '@wabridge/connector-teams';
import { type SecretBox, type Store, WabridgeError } from '@wabridge/core';
import type { Env } from '../env.ts';
import { INSTALL_LINK_TTL_MS, randomNonce, signGrant } from './grants.ts';

/** The cookie that binds `state` (and the PKCE verifier) to the browser that started the sign-in. */
export const TEAMS_STATE_COOKIE = 'wabridge_teams_state';
const PENDING_KEY = 'secret:connect-pending';

/** The sign-in settings, or a WabridgeError naming what is missing. */
export function teamsConnectSettings(
  env: Env,
): TeamsSignInApp & { stateSecret: string; redirectUri: string } {
  const missing = (['TEAMS_CLIENT_ID', 'TEAMS_CLIENT_SECRET', 'TEAMS_STATE_SECRET'] as const).filter(
    (name) => env[name] === undefined,
  );
  if (missing.length > 0) {
    throw new WabridgeError('config_invalid', `"Connect Teams" needs ${missing.join(', ')}`, { status: 503 });
  }
  return {
    tenantId: env.TEAMS_TENANT_ID,
    clientId: env.TEAMS_CLIENT_ID as string,
    clientSecret: env.TEAMS_CLIENT_SECRET as string,
    stateSecret: env.TEAMS_STATE_SECRET as string,
    authorityHost: env.TEAMS_AUTHORITY_HOST.replace(/\/$/, ''),
    graphBaseUrl: env.TEAMS_GRAPH_URL,
    graphResource: env.TEAMS_GRAPH_RESOURCE,
    redirectUri: `${env.publicUrl}/connect/teams/callback`,
  };
}

/** The link an admin opens (printed by `wabridge connector connect <workspace> teams`). */
export function teamsConnectLink(env: Env, workspace: string, now = Date.now()): string {
  const settings = teamsConnectSettings(env);
  const ticket = signGrant(settings.stateSecret, 'teams', {
    purpose: 'install',
    workspace,
    exp: now + INSTALL_LINK_TTL_MS,
    nonce: randomNonce(12),
  });
  return `${env.publicUrl}/connect/teams/${encodeURIComponent(workspace)}/install?ticket=${ticket}`;
}

/** A signed-in account waiting for its channel. */
export interface PendingTeamsInstall {
  /** The picker form's nonce: only that form completes this install. */
  nonce: string;
  exp: number;
  refreshToken: string;
  accountId: string;
  username: string | null;
  tenantId: string;
  /** `teamId|channelId` the account can post to (the picker's choices, checked on submit). */
  allowed: string[];
}

export async function savePending(
  store: Store,
  secrets: SecretBox,
  workspace: string,
  pending: PendingTeamsInstall,
): Promise<void> {
  await store.setConnectorState(workspace, 'teams', PENDING_KEY, secrets.encrypt(JSON.stringify(pending)));
}

/** The pending install, once: it is removed as it is read. */
export async function takePending(
  store: Store,
  secrets: SecretBox,
  workspace: string,
): Promise<PendingTeamsInstall | null> {
  // One step: of two submissions of the same form, one gets the install.
  const stored = await store.takeConnectorState(workspace, 'teams', PENDING_KEY);
  if (typeof stored !== 'string') return null;
  return JSON.parse(secrets.decrypt(stored)) as PendingTeamsInstall;
}
