import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import { WabridgeError } from '@wabridge/core';
import { healthReport } from '../../connector-health.ts';
import type { Runtime } from '../../runtime.ts';
import { type AdminEnv, actorOf } from '../context.ts';
import { ERROR_RESPONSES, guard } from '../openapi.ts';
import { json, jsonBody, WorkspaceParams } from '../schemas.ts';

const E = ERROR_RESPONSES;

const ConnectorHealthSchema = z
  .object({
    connector: z.string(),
    enabled: z.boolean().nullable(),
    state: z.enum(['ok', 'failing', 'idle', 'disabled']),
    lastSuccessAt: z.string().nullable(),
    lastErrorAt: z.string().nullable(),
    lastError: z.string().nullable(),
    lastErrorCode: z.string().nullable(),
    retrying: z.number().int(),
    dead: z.number().int(),
  })
  .openapi('ConnectorHealth');

const DeadJobSchema = z
  .object({
    id: z.number().int(),
    connectorId: z.string(),
    conversationId: z.string(),
    eventType: z.string(),
    entityId: z.string(),
    attempts: z.number().int(),
    reason: z.string(),
    failedAt: z.number().int(),
    createdAt: z.number().int(),
  })
  .openapi('DeadJob');

/** Connector health of a workspace, its dead letters, and replaying them. */
export function healthRoutes(app: OpenAPIHono<AdminEnv>, runtime: Runtime): void {
  const { store } = runtime;

  app.openapi(
    createRoute({
      method: 'get',
      path: '/workspaces/{workspaceId}/health',
      summary: 'Per connector: last success, last error (with what to do), jobs retrying and dead',
      tags: ['health'],
      ...guard(runtime, 'health.read'),
      request: { params: WorkspaceParams },
      responses: {
        200: json(
          z.object({
            connectors: z.array(ConnectorHealthSchema),
            retrying: z.number().int(),
            dead: z.number().int(),
          }),
          'health',
        ),
        401: E[401],
        403: E[403],
        404: E[404],
      },
    }),
    async (c) => {
      const { workspaceId } = c.req.valid('param');
      // The report covers every workspace; only this one's rows leave.
      const report = await healthReport(store);
      const connectors = report.connectors
        .filter((v) => v.workspace === workspaceId)
        .map(({ workspace: _, ...view }) => view);
      return c.json(
        {
          connectors,
          retrying: connectors.reduce((n, v) => n + v.retrying, 0),
          dead: connectors.reduce((n, v) => n + v.dead, 0),
        },
        200,
      );
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/workspaces/{workspaceId}/dead-letters',
      summary: 'Dead-lettered jobs of the workspace, newest first',
      tags: ['health'],
      ...guard(runtime, 'health.read'),
      request: {
        params: WorkspaceParams,
        query: z.object({
          connectorId: z.string().optional(),
          limit: z.coerce.number().int().min(1).max(1000).optional(),
        }),
      },
      responses: {
        200: json(z.object({ deadLetters: z.array(DeadJobSchema) }), 'dead jobs'),
        400: E[400],
        401: E[401],
        403: E[403],
        404: E[404],
      },
    }),
    async (c) => {
      const { workspaceId } = c.req.valid('param');
      const query = c.req.valid('query');
      const dead = await store.listDeadJobs({
        workspaceId,
        ...(query.connectorId ? { connectorId: query.connectorId } : {}),
        limit: query.limit ?? 200,
      });
      return c.json({ deadLetters: dead.map(({ workspaceId: _, ...job }) => job) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/workspaces/{workspaceId}/dead-letters/replay',
      summary: 'Replay dead-lettered jobs: these ids, or all (of one connector)',
      tags: ['health'],
      ...guard(runtime, 'deadletter.replay'),
      request: {
        params: WorkspaceParams,
        body: jsonBody(
          z
            .object({
              ids: z.union([z.literal('all'), z.array(z.number().int().positive()).min(1).max(1000)]),
              connectorId: z.string().optional(),
            })
            .strict(),
        ),
      },
      responses: {
        200: json(z.object({ replayed: z.number().int() }), 'how many went back to the queue'),
        400: E[400],
        401: E[401],
        403: E[403],
        404: E[404],
      },
    }),
    async (c) => {
      const { workspaceId } = c.req.valid('param');
      const body = c.req.valid('json');
      const replayed = await runtime.admin.replayDeadJobs(actorOf(c), body.ids, {
        workspaceId,
        ...(body.connectorId ? { connectorId: body.connectorId } : {}),
      });
      // Ids of another workspace's jobs replay nothing here: they answer like missing ones.
      if (body.ids !== 'all' && replayed === 0)
        throw new WabridgeError('not_found', 'no dead job of this workspace has these ids');
      runtime.worker?.notify();
      return c.json({ replayed }, 200);
    },
  );
}
