import { servesSource, verifySlackSignature } from '@wabridge/connector-slack/manifest';
import { Hono } from 'hono';
import type { BodyGate } from '../body-gate.ts';
import { errorResponse } from '../http.ts';
import type { Runtime } from '../runtime.ts';
import { handOver, readHookBody } from './hooks.ts';

/** The team and organization a callback is for, as Bolt reads them (its `authorize` source). */
export function slackSourceOf(
  contentType: string,
  body: string,
): { teamId?: string | undefined; enterpriseId?: string | undefined } | null {
  const text = (value: unknown) => (typeof value === 'string' && value !== '' ? value : undefined);
  try {
    if (!contentType.includes('x-www-form-urlencoded')) {
      const envelope = JSON.parse(body) as Record<string, unknown>;
      const [first] = Array.isArray(envelope.authorizations) ? envelope.authorizations : [];
      const auth = (typeof first === 'object' && first !== null ? first : {}) as Record<string, unknown>;
      return {
        teamId: text(auth.team_id) ?? text(envelope.team_id),
        enterpriseId: text(auth.enterprise_id) ?? text(envelope.enterprise_id),
      };
    }
    const form = new URLSearchParams(body);
    if (!form.has('payload'))
      return { teamId: text(form.get('team_id')), enterpriseId: text(form.get('enterprise_id')) };
    const payload = JSON.parse(form.get('payload') ?? '') as {
      team?: { id?: unknown; enterprise_id?: unknown } | null;
      user?: { team_id?: unknown };
      view?: { app_installed_team_id?: unknown };
      enterprise?: { id?: unknown } | null;
    };
    return {
      teamId:
        text(payload.view?.app_installed_team_id) ?? text(payload.team?.id) ?? text(payload.user?.team_id),
      enterpriseId: text(payload.enterprise?.id) ?? text(payload.team?.enterprise_id),
    };
  } catch {
    return null;
  }
}

/**
 * `/hooks/slack-app/{events,interactivity,commands}`: the Request URLs of one Slack app installed
 * by several wabridge workspaces ("Add to Slack"). Slack sends every installation's callbacks to
 * the app's one URL; each is verified with the app's signing secret (SLACK_SIGNING_SECRET), then
 * handed to the workspace whose installation serves its team (or its organization, for an org-wide
 * install), exactly as `/hooks/slack/<workspace>` would be. A workspace's install of its own app
 * keeps using its own `/hooks/slack/<workspace>` URLs.
 */
export function slackAppHooks(runtime: Runtime, gate: BodyGate) {
  const app = new Hono();
  app.post('/*', async (c) => {
    const secret = runtime.env.SLACK_SIGNING_SECRET;
    if (!secret)
      return errorResponse(404, 'not_found', 'set SLACK_SIGNING_SECRET to receive Slack app callbacks');
    const read = await readHookBody(gate, c);
    if (read instanceof Response) return read;
    try {
      const check = verifySlackSignature(secret, c.req.raw.headers, read.raw, Date.now());
      if (!check.ok) return errorResponse(401, 'unauthorized', 'invalid Slack signature');
      const contentType = c.req.header('content-type') ?? '';
      const body = new TextDecoder().decode(read.raw);
      const path = c.req.path.replace(/^\/hooks\/slack-app/, '') || '/';
      const source = slackSourceOf(contentType, body);
      if (source === null) return Response.json({ ok: false, error: 'invalid_payload' }, { status: 400 });
      // Slack checks the Request URL before any install: the challenge is answered here.
      const verification = contentType.includes('x-www-form-urlencoded')
        ? null
        : (JSON.parse(body) as { type?: unknown; challenge?: unknown });
      if (verification?.type === 'url_verification')
        return Response.json({ challenge: String(verification.challenge ?? '') });
      const workspace = await workspaceServing(runtime, source);
      if (!workspace) {
        runtime.logger.warn(
          { team: source.teamId, enterprise: source.enterpriseId },
          'a Slack callback for an installation no workspace has: ignored',
        );
        return new Response(null, { status: 200 });
      }
      return await handOver(runtime, workspace, 'slack', c.req.raw, read.raw, path);
    } finally {
      read.release();
    }
  });
  return app;
}

/** The workspace whose Slack installation serves a team: its own install first, then its organization's. */
async function workspaceServing(
  runtime: Runtime,
  source: { teamId?: string | undefined; enterpriseId?: string | undefined },
): Promise<string | undefined> {
  const slack = (await runtime.routing.allConnectorSettings()).filter(
    (s) => s.connectorId === 'slack' && s.enabled,
  );
  const config = (s: (typeof slack)[number]) => s.config as { teamId?: string; enterpriseId?: string };
  return (
    slack.find((s) => config(s).teamId !== undefined && servesSource(config(s), source)) ??
    slack.find((s) => servesSource(config(s), source))
  )?.workspaceId;
}
