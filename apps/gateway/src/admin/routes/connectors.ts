import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import { auditEntry, WabridgeError } from '@wabridge/core';
import type { Runtime } from '../../runtime.ts';
import { type AdminEnv, actorOf } from '../context.ts';
import { ERROR_RESPONSES, ErrorSchema, guard } from '../openapi.ts';
import { ConnectorSchema, ConnectorSettingSchema, json, jsonBody, WorkspaceParams } from '../schemas.ts';

const E = ERROR_RESPONSES;
const ConnectorParams = WorkspaceParams.extend({
  connectorId: z.string().openapi({ param: { name: 'connectorId', in: 'path' }, example: 'slack' }),
});

/** Connectors of a workspace: settings (secrets write-only), enable, disable, configure, test. */
export function connectorRoutes(app: OpenAPIHono<AdminEnv>, runtime: Runtime): void {
  const { admin, registry } = runtime;
  const known = (connectorId: string) => {
    if (!registry.list().some((m) => m.id === connectorId))
      throw new WabridgeError(
        'not_found',
        `no connector ${connectorId} (registered: ${registry
          .list()
          .map((m) => m.id)
          .join(', ')})`,
      );
  };

  app.openapi(
    createRoute({
      method: 'get',
      path: '/workspaces/{workspaceId}/connectors',
      summary: 'Every registered connector with its settings in the workspace (secrets masked)',
      tags: ['connectors'],
      ...guard(runtime, 'connector.read'),
      request: { params: WorkspaceParams },
      responses: {
        200: json(z.object({ connectors: z.array(ConnectorSchema) }), 'connectors'),
        401: E[401],
        403: E[403],
        404: E[404],
      },
    }),
    async (c) => c.json({ connectors: await admin.listConnectors(c.req.valid('param').workspaceId) }, 200),
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/workspaces/{workspaceId}/connectors/{connectorId}',
      summary: 'One connector’s settings (secrets masked)',
      tags: ['connectors'],
      ...guard(runtime, 'connector.read'),
      request: { params: ConnectorParams },
      responses: { 200: json(ConnectorSettingSchema, 'settings'), 401: E[401], 403: E[403], 404: E[404] },
    }),
    async (c) => {
      const { workspaceId, connectorId } = c.req.valid('param');
      known(connectorId);
      const described = await admin.describeConnector(workspaceId, connectorId);
      if (!described) throw new WabridgeError('not_found', `${connectorId} is not set up in this workspace`);
      return c.json(described, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'put',
      path: '/workspaces/{workspaceId}/connectors/{connectorId}',
      summary: 'Enable, disable or configure a connector',
      description:
        '`config` merges over the stored settings unless `replace`; a secret sent back as "••••••" keeps the ' +
        'stored one. Enabling checks the whole result against the connector’s schema: nothing is stored ' +
        'when it is invalid (422 naming every problem).',
      tags: ['connectors'],
      ...guard(runtime, 'connector.write'),
      request: {
        params: ConnectorParams,
        body: jsonBody(
          z
            .object({
              enabled: z.boolean().optional(),
              config: z.record(z.string(), z.unknown()).optional(),
              replace: z.boolean().optional(),
            })
            .strict(),
        ),
      },
      responses: {
        200: json(ConnectorSettingSchema, 'stored (secrets masked)'),
        400: E[400],
        401: E[401],
        403: E[403],
        404: E[404],
        422: json(ErrorSchema, 'the settings are invalid for this connector'),
      },
    }),
    async (c) => {
      const { workspaceId, connectorId } = c.req.valid('param');
      known(connectorId);
      const body = c.req.valid('json');
      await admin.setConnector(actorOf(c), workspaceId, connectorId, {
        ...(body.enabled !== undefined ? { enabled: body.enabled } : {}),
        ...(body.config ? { config: body.config } : {}),
        ...(body.replace !== undefined ? { replace: body.replace } : {}),
      });
      const described = await admin.describeConnector(workspaceId, connectorId);
      if (!described) throw new WabridgeError('internal', 'the stored setting vanished');
      return c.json(described, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/workspaces/{workspaceId}/connectors/{connectorId}/test',
      summary: 'Test connection: check the stored settings against the platform',
      tags: ['connectors'],
      ...guard(runtime, 'connector.test'),
      request: { params: ConnectorParams },
      responses: {
        200: json(
          z
            .object({
              workspaceId: z.string(),
              connectorId: z.string(),
              enabled: z.boolean(),
              ok: z.boolean(),
              checks: z.array(z.object({ name: z.string(), ok: z.boolean(), detail: z.string() })),
            })
            .openapi('ConnectorTestReport'),
          'what works and what to fix',
        ),
        401: E[401],
        403: E[403],
        404: E[404],
      },
    }),
    async (c) => {
      const { workspaceId, connectorId } = c.req.valid('param');
      known(connectorId);
      const report = await runtime.host.test(workspaceId, connectorId);
      await runtime.store.appendAudit(
        auditEntry(actorOf(c), 'connector.test', workspaceId, { connectorId, ok: report.ok }),
      );
      return c.json(report, 200);
    },
  );
}
