import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import type { AuditFilter } from '@wabridge/core';
import type { Runtime } from '../../runtime.ts';
import type { AdminEnv } from '../context.ts';
import { ERROR_RESPONSES, guard } from '../openapi.ts';
import { AuditEntrySchema, json, WorkspaceParams } from '../schemas.ts';

const E = ERROR_RESPONSES;

const AuditQuery = z.object({
  actor: z.string().optional().openapi({ example: 'account:ana@example.com' }),
  action: z
    .string()
    .optional()
    .openapi({ description: 'an action (connector.enable) or a prefix ending in * (connector.*)' }),
  since: z.iso.datetime().optional(),
  until: z.iso.datetime().optional(),
  before: z.coerce
    .number()
    .int()
    .positive()
    .optional()
    .openapi({ description: 'page on: entries older than this id' }),
  limit: z.coerce.number().int().min(1).max(1000).optional(),
});

type Query = z.infer<typeof AuditQuery>;
const filter = (query: Query): Omit<AuditFilter, 'workspaceId'> => ({
  ...(query.actor ? { actor: query.actor } : {}),
  ...(query.action ? { action: query.action } : {}),
  ...(query.since ? { since: Date.parse(query.since) } : {}),
  ...(query.until ? { until: Date.parse(query.until) } : {}),
  ...(query.before ? { beforeId: query.before } : {}),
  limit: query.limit ?? 100,
});

const AuditPage = z.object({
  entries: z.array(AuditEntrySchema),
  next: z.number().int().nullable().openapi({ description: 'pass as `before` for the next page' }),
});

/** The audit trail: who did what, when, from where. */
export function auditRoutes(app: OpenAPIHono<AdminEnv>, runtime: Runtime): void {
  const page = async (workspaceId: string | null, query: Query) => {
    const entries = await runtime.store.listAudit({ ...filter(query), workspaceId });
    return { entries, next: entries.length === (query.limit ?? 100) ? (entries.at(-1)?.id ?? null) : null };
  };

  app.openapi(
    createRoute({
      method: 'get',
      path: '/workspaces/{workspaceId}/audit',
      summary: "The workspace's audit trail, newest first, filtered",
      tags: ['audit'],
      ...guard(runtime, 'audit.read'),
      request: { params: WorkspaceParams, query: AuditQuery },
      responses: { 200: json(AuditPage, 'entries'), 400: E[400], 401: E[401], 403: E[403], 404: E[404] },
    }),
    async (c) => c.json(await page(c.req.valid('param').workspaceId, c.req.valid('query')), 200),
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/audit',
      summary: 'The global audit trail (acts on no workspace: sign-ins, accounts, deleted workspaces)',
      tags: ['audit'],
      ...guard(runtime, 'global.audit.read'),
      request: { query: AuditQuery },
      responses: { 200: json(AuditPage, 'entries'), 400: E[400], 401: E[401], 403: E[403] },
    }),
    async (c) => c.json(await page(null, c.req.valid('query')), 200),
  );
}
