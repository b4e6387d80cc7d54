import { Hono } from 'hono';
import type { BodyGate } from '../body-gate.ts';
import { BodyTooLarge, errorResponse, GateFull, gateFullResponse, readGated } from '../http.ts';
import type { Runtime } from '../runtime.ts';

const MAX_HOOK_BODY = 1024 * 1024;

/**
 * Platform callbacks for connectors: `/hooks/<connector>/<workspace>/…`. The connector verifies
 * and interprets the request; the commands it returns are recorded durably before its response
 * goes back, so a platform never gets a 2xx for something we could lose.
 */
export function connectorHooks(runtime: Runtime, gate: BodyGate) {
  const app = new Hono();
  app.all('/:connector/:workspace/*', handle);
  app.all('/:connector/:workspace', handle);

  async function handle(c: import('hono').Context): Promise<Response> {
    const connectorId = c.req.param('connector') ?? '';
    const workspaceId = c.req.param('workspace') ?? '';
    const instance = await runtime.host.instance(workspaceId, connectorId);
    if (!instance?.inbound) {
      return errorResponse(
        404,
        'not_found',
        `connector ${connectorId} is not enabled for workspace ${workspaceId}`,
      );
    }
    const read = await readHookBody(gate, c);
    if (read instanceof Response) return read;
    try {
      const prefix = `/hooks/${connectorId}/${workspaceId}`;
      return await handOver(
        runtime,
        workspaceId,
        connectorId,
        c.req.raw,
        read.raw,
        c.req.path.slice(prefix.length) || '/',
      );
    } finally {
      read.release();
    }
  }
  return app;
}

/** A callback's body under the hooks' limit, holding its place in the gate; or the refusal. */
export async function readHookBody(
  gate: BodyGate,
  c: import('hono').Context,
): Promise<{ raw: Uint8Array<ArrayBuffer>; release(): void } | Response> {
  try {
    return await readGated(
      gate,
      c.req.raw,
      MAX_HOOK_BODY,
      (c.env as { incoming?: unknown } | undefined)?.incoming,
    );
  } catch (error) {
    if (error instanceof BodyTooLarge)
      return errorResponse(413, 'payload_too_large', `bodies are limited to ${MAX_HOOK_BODY} bytes`);
    if (error instanceof GateFull) return gateFullResponse();
    throw error;
  }
}

/**
 * Hands a callback (body already read under the limit) to a workspace's connector: the connector
 * verifies and interprets it, its commands are recorded before its response is returned.
 */
export async function handOver(
  runtime: Runtime,
  workspaceId: string,
  connectorId: string,
  original: Request,
  raw: Uint8Array<ArrayBuffer>,
  path: string,
): Promise<Response> {
  const instance = await runtime.host.instance(workspaceId, connectorId);
  if (!instance?.inbound) {
    return errorResponse(
      404,
      'not_found',
      `connector ${connectorId} is not enabled for workspace ${workspaceId}`,
    );
  }
  const request = new Request(original.url, {
    method: original.method,
    headers: original.headers,
    ...(raw.byteLength > 0 || !['GET', 'HEAD'].includes(original.method) ? { body: raw } : {}),
  });
  const result = await instance.inbound.handle(request, {
    path,
    rawBody: raw,
    findRefByExternalId: (kind, externalId) =>
      runtime.store.findRefByExternalId(workspaceId, connectorId, kind, externalId),
    // `replay:` keeps these apart from the connector's command keys in the same table.
    claimOnce: (key, ttlMs) =>
      runtime.store.claimExpiringKey(workspaceId, `replay:${connectorId}`, key, ttlMs),
  });
  if (result.commands.length > 0) {
    await runtime.commands.accept(workspaceId, connectorId, result.commands);
  }
  return result.response;
}
