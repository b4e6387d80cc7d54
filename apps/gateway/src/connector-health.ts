import {
  type ConnectorHealth,
  type ConnectorSetting,
  type JobStats,
  type Store,
  WHATSAPP_SENDER,
} from '@wabridge/core';

/**
 * How each connector of each workspace is doing, for `wabridge status` and `/healthz?verbose`:
 * when a delivery last worked and last failed, the failure as a sentence with what to do about
 * it, and how many jobs wait to retry or are dead. Separate from readiness, which is about the
 * process: a connector with revoked credentials does not make the gateway unready.
 */
export interface ConnectorView {
  workspace: string;
  connector: string;
  /** Null for the WhatsApp sender, which is not a connector setting. */
  enabled: boolean | null;
  /** `failing`: the last delivery attempt failed; `idle`: none yet. */
  state: 'ok' | 'failing' | 'idle' | 'disabled';
  lastSuccessAt: string | null;
  lastErrorAt: string | null;
  /** The last failure, as a sentence with what to do about it. */
  lastError: string | null;
  /** Its code (`auth_failed`, `transient`, `permanent` …). */
  lastErrorCode: string | null;
  retrying: number;
  dead: number;
}

export interface HealthReport {
  jobs: JobStats;
  /** Webhook changes kept for numbers no workspace owns. */
  unrouted: number;
  connectors: ConnectorView[];
}

export async function healthReport(store: Store): Promise<HealthReport> {
  const [jobs, unrouted, settings, health] = await Promise.all([
    store.jobStats(),
    store.countUnrouted(),
    store.listConnectors(),
    store.connectorHealth(),
  ]);
  const connectors = connectorViews(settings, health);
  return { jobs, unrouted, connectors };
}

/**
 * One view per connector setting and per (workspace, connector) with recorded health, sorted by
 * workspace then connector. Give one workspace's settings and health for that workspace's views.
 */
export function connectorViews(
  settings: readonly ConnectorSetting[],
  health: readonly ConnectorHealth[],
): ConnectorView[] {
  const key = (workspace: string, connector: string) => `${workspace}\u0000${connector}`;
  const recorded = new Map(health.map((h) => [key(h.workspaceId, h.connectorId), h]));
  const views = new Map<string, ConnectorView>();
  const view = (workspace: string, connector: string, enabled: boolean | null): ConnectorView => {
    const h = recorded.get(key(workspace, connector));
    const failure = h?.lastError ? explainFailure(h.lastError, workspace, connector) : null;
    const lastSuccess = h?.lastSuccessAt ?? null;
    const lastError = h?.lastErrorAt ?? null;
    return {
      workspace,
      connector,
      enabled,
      state:
        enabled === false
          ? 'disabled'
          : lastError !== null && (lastSuccess === null || lastError > lastSuccess)
            ? 'failing'
            : lastSuccess !== null
              ? 'ok'
              : 'idle',
      lastSuccessAt: lastSuccess === null ? null : new Date(lastSuccess).toISOString(),
      lastErrorAt: lastError === null ? null : new Date(lastError).toISOString(),
      lastError: failure?.sentence ?? null,
      lastErrorCode: failure?.code ?? null,
      retrying: h?.retrying ?? 0,
      dead: h?.dead ?? 0,
    };
  };
  for (const s of settings)
    views.set(key(s.workspaceId, s.connectorId), view(s.workspaceId, s.connectorId, s.enabled));
  for (const h of health) {
    const k = key(h.workspaceId, h.connectorId);
    // The sender, or a connector whose setting is gone (its dead jobs are still there to replay).
    if (!views.has(k))
      views.set(k, view(h.workspaceId, h.connectorId, h.connectorId === WHATSAPP_SENDER ? null : false));
  }
  return [...views.values()].sort(
    (a, b) => a.workspace.localeCompare(b.workspace) || a.connector.localeCompare(b.connector),
  );
}

/**
 * A failure as the worker recorded it (`[gave up after N attempts: ]<code>: <message>`), as a
 * sentence an operator can act on.
 */
export function explainFailure(
  raw: string,
  workspace: string,
  connector: string,
): { code: string | null; sentence: string } {
  let text = raw;
  let gaveUp = '';
  const exhausted = /^gave up after (\d+) attempts: /.exec(text);
  if (exhausted) {
    gaveUp = `Gave up after ${exhausted[1]} attempts. `;
    text = text.slice(exhausted[0].length);
  }
  const coded = /^([a-z_]+): ([\s\S]*)$/.exec(text);
  const code = coded?.[1] ?? null;
  const message = (coded?.[2] ?? text).trim();
  const sentence = `${message.charAt(0).toUpperCase()}${message.slice(1)}${/[.!?)]$/.test(message) ? '' : '.'}`;
  const replay = `wabridge replay --all --workspace ${workspace} --connector ${connector}`;
  const sender = connector === WHATSAPP_SENDER;
  const hints: Record<string, string> = {
    auth_failed: sender
      ? 'Meta refused the access token: set a valid WHATSAPP_ACCESS_TOKEN and restart.'
      : `The credentials were refused: check them with wabridge connector test ${workspace} ${connector}, set them with wabridge connector enable, then ${replay}.`,
    config_invalid: `Fix the settings (wabridge connector enable ${workspace} ${connector} …), then ${replay}.`,
    permanent: `Not retried: fix the cause, then ${replay}.`,
    transient: 'Retried with back-off; it recovers by itself once the platform answers.',
    daily_quota: 'Deliveries resume at the daily reset.',
  };
  const hint =
    exhausted && code !== 'auth_failed' && code !== 'config_invalid'
      ? `Dead-lettered: once it works again, ${replay}.`
      : code
        ? hints[code]
        : undefined;
  return { code, sentence: [gaveUp + sentence, hint].filter(Boolean).join(' ') };
}
