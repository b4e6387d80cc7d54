import { createHash } from 'node:crypto';
import { type ConnectorDeps, type ConnectorState, WabridgeError } from '@wabridge/core';
import type { SlackConfig } from '../config.ts';
import { REVOKED_KEY } from '../constants.ts';
import type { SlackEnvelope } from './events.ts';

/** What Slack told us about the installation's bot token: uninstalled, or the token revoked. */
export interface Revocation {
  event: 'app_uninstalled' | 'tokens_revoked';
  /** Epoch ms of the callback. */
  at: number;
  teamId: string | null;
  enterpriseId: string | null;
  /** Fingerprint of the bot token it revoked: a later install (a new token) is not revoked. */
  token: string;
}

const fingerprint = (token: string) => createHash('sha256').update(token).digest('hex').slice(0, 16);

/**
 * Records an `app_uninstalled` or a `tokens_revoked` that took the bot token
 * (https://docs.slack.dev/reference/events/app_uninstalled,
 * https://docs.slack.dev/reference/events/tokens_revoked), with an audit entry. A `tokens_revoked`
 * naming only user tokens leaves the bot working and changes nothing.
 */
export async function markRevoked(config: SlackConfig, deps: ConnectorDeps, envelope: SlackEnvelope) {
  const type = envelope.event?.type;
  if (type !== 'app_uninstalled' && type !== 'tokens_revoked') return;
  if (type === 'tokens_revoked') {
    const tokens = (envelope.event as { tokens?: { bot?: unknown } }).tokens;
    if (!Array.isArray(tokens?.bot) || tokens.bot.length === 0) return;
  }
  const token = fingerprint(config.botToken);
  const previous = await revocationOf(config, deps.state);
  // Slack sends tokens_revoked then app_uninstalled, and retries: one record, one audit entry.
  if (previous?.event === 'app_uninstalled' || previous?.event === type) return;
  const revocation: Revocation = {
    event: type,
    at: deps.now(),
    teamId: config.teamId ?? null,
    enterpriseId: config.enterpriseId ?? null,
    token,
  };
  await deps.state.set(REVOKED_KEY, revocation);
  await deps.audit?.(type === 'app_uninstalled' ? 'slack.uninstalled' : 'slack.token_revoked', {
    teamId: revocation.teamId,
    enterpriseId: revocation.enterpriseId,
  });
  deps.logger.error(
    { team: revocation.teamId, enterprise: revocation.enterpriseId, event: type },
    'the Slack app was uninstalled or its bot token revoked: deliveries stop until it is installed again',
  );
}

/** The revocation of the configured bot token, if Slack reported one. */
export async function revocationOf(config: SlackConfig, state: ConnectorState): Promise<Revocation | null> {
  const stored = await state.get<Revocation>(REVOKED_KEY);
  return stored && stored.token === fingerprint(config.botToken) ? stored : null;
}

/**
 * The error a delivery fails with once the token is gone: not retried (every attempt would fail
 * the same way), dead-lettered with a reason that says what to do; `wabridge replay` resends the
 * jobs after the app is installed again.
 */
export function revokedError(revocation: Revocation): WabridgeError {
  const where =
    revocation.enterpriseId && !revocation.teamId
      ? `the Slack organization ${revocation.enterpriseId}`
      : `the Slack workspace ${revocation.teamId}`;
  const what =
    revocation.event === 'app_uninstalled' ? 'was uninstalled from' : 'had its bot token revoked in';
  return new WabridgeError(
    'auth_failed',
    `the Slack app ${what} ${where} at ${new Date(revocation.at).toISOString()}: install it again ("Add to Slack", wabridge connector connect)`,
    {
      retryable: false,
      details: { event: revocation.event, teamId: revocation.teamId, enterpriseId: revocation.enterpriseId },
    },
  );
}
