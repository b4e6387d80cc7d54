import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import { isWabridgeError, visibleWorkspaces, WabridgeError } from '@wabridge/core';
import type { Runtime } from '../../runtime.ts';
import { type AdminEnv, actorOf, requirePrincipal } from '../context.ts';
import { ERROR_RESPONSES, guard } from '../openapi.ts';
import {
  json,
  jsonBody,
  PhoneNumberSchema,
  PoliciesSchema,
  WORKSPACE_ID,
  WorkspaceParams,
  WorkspaceSchema,
} from '../schemas.ts';

const E = ERROR_RESPONSES;

/** Workspaces, their policies (routing and compliance rules) and their WhatsApp numbers. */
export function workspaceRoutes(app: OpenAPIHono<AdminEnv>, runtime: Runtime): void {
  const { admin, store } = runtime;

  app.openapi(
    createRoute({
      method: 'get',
      path: '/workspaces',
      summary: 'The workspaces the caller has a role in (every one for an owner)',
      tags: ['workspaces'],
      ...guard(runtime, 'signed-in'),
      responses: {
        200: json(
          z.object({ workspaces: z.array(WorkspaceSchema.extend({ role: z.string() })) }),
          'workspaces',
        ),
        401: E[401],
      },
    }),
    async (c) => {
      const principal = requirePrincipal(c);
      const visible = visibleWorkspaces(principal);
      const workspaces = (await store.listWorkspaces())
        .filter((w) => visible === null || visible.has(w.id))
        .map((w) => ({ ...w, role: principal.owner ? 'owner' : (principal.grants.get(w.id) ?? '') }));
      return c.json({ workspaces }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/workspaces',
      summary: 'Create a workspace (owners)',
      tags: ['workspaces'],
      ...guard(runtime, 'global.workspace.create'),
      request: {
        body: jsonBody(
          z
            .object({
              id: WORKSPACE_ID,
              name: z.string().trim().min(1).max(200),
              policies: PoliciesSchema.optional(),
            })
            .strict(),
        ),
      },
      responses: {
        201: json(WorkspaceSchema, 'created'),
        400: E[400],
        401: E[401],
        403: E[403],
        409: json(
          z.object({ error: z.object({ code: z.string(), message: z.string() }) }),
          'the id is taken',
        ),
      },
    }),
    async (c) => {
      const body = c.req.valid('json');
      const workspace = await admin.createWorkspace(actorOf(c), {
        id: body.id,
        name: body.name,
        ...(body.policies ? { policies: body.policies } : {}),
      });
      return c.json(workspace, 201);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/workspaces/{workspaceId}',
      summary: 'A workspace with its policies',
      tags: ['workspaces'],
      ...guard(runtime, 'workspace.read'),
      request: { params: WorkspaceParams },
      responses: { 200: json(WorkspaceSchema, 'the workspace'), 401: E[401], 403: E[403], 404: E[404] },
    }),
    async (c) => {
      const workspace = await store.getWorkspace(c.req.valid('param').workspaceId);
      if (!workspace) throw new WabridgeError('not_found', 'workspace does not exist');
      return c.json(workspace, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'patch',
      path: '/workspaces/{workspaceId}',
      summary: 'Rename a workspace and/or change its policies (routing and compliance rules)',
      tags: ['workspaces'],
      ...guard(runtime, 'workspace.update'),
      request: {
        params: WorkspaceParams,
        body: jsonBody(
          z
            .object({
              name: z.string().trim().min(1).max(200).optional(),
              policies: PoliciesSchema.optional(),
            })
            .strict(),
        ),
      },
      responses: {
        200: json(WorkspaceSchema, 'the workspace as stored'),
        400: E[400],
        401: E[401],
        403: E[403],
        404: E[404],
      },
    }),
    async (c) => {
      const { workspaceId } = c.req.valid('param');
      const body = c.req.valid('json');
      const workspace = await admin.updateWorkspace(actorOf(c), workspaceId, {
        ...(body.name !== undefined ? { name: body.name } : {}),
        ...(body.policies ? { policies: body.policies } : {}),
      });
      return c.json(workspace, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'delete',
      path: '/workspaces/{workspaceId}',
      summary: 'Delete a workspace and everything it holds (owners)',
      tags: ['workspaces'],
      ...guard(runtime, 'workspace.delete'),
      request: { params: WorkspaceParams },
      responses: { 204: { description: 'deleted' }, 401: E[401], 403: E[403], 404: E[404] },
    }),
    async (c) => {
      await admin.deleteWorkspace(actorOf(c), c.req.valid('param').workspaceId);
      return c.body(null, 204);
    },
  );

  // --- numbers ---------------------------------------------------------------------------------

  app.openapi(
    createRoute({
      method: 'get',
      path: '/workspaces/{workspaceId}/numbers',
      summary: "The workspace's WhatsApp numbers",
      tags: ['numbers'],
      ...guard(runtime, 'number.read'),
      request: { params: WorkspaceParams },
      responses: {
        200: json(z.object({ numbers: z.array(PhoneNumberSchema) }), 'numbers'),
        401: E[401],
        403: E[403],
        404: E[404],
      },
    }),
    async (c) => c.json({ numbers: await store.listPhoneNumbers(c.req.valid('param').workspaceId) }, 200),
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/workspaces/{workspaceId}/numbers',
      summary: "Route a WhatsApp number (Meta's phone_number_id) to the workspace",
      tags: ['numbers'],
      ...guard(runtime, 'number.write'),
      request: {
        params: WorkspaceParams,
        body: jsonBody(
          z
            .object({
              phoneNumberId: z
                .string()
                .regex(/^\d{1,32}$/, "digits only: Meta's phone_number_id, not the phone number"),
              displayPhoneNumber: z.string().max(32).optional(),
              wabaId: z
                .string()
                .regex(/^\d{1,32}$/, 'digits only')
                .optional(),
            })
            .strict(),
        ),
      },
      responses: {
        201: json(PhoneNumberSchema, 'added'),
        400: E[400],
        401: E[401],
        403: E[403],
        404: E[404],
        409: json(
          z.object({ error: z.object({ code: z.string(), message: z.string() }) }),
          'another workspace has it',
        ),
      },
    }),
    async (c) => {
      const { workspaceId } = c.req.valid('param');
      const body = c.req.valid('json');
      try {
        await admin.addPhoneNumber(actorOf(c), workspaceId, body);
      } catch (error) {
        // The store names the workspace that has it; a caller who may not see it learns only "taken".
        if (isWabridgeError(error) && error.code === 'conflict' && !requirePrincipal(c).owner)
          throw new WabridgeError(
            'conflict',
            `number ${body.phoneNumberId} already belongs to another workspace`,
            {
              status: 409,
            },
          );
        throw error;
      }
      return c.json(
        {
          phoneNumberId: body.phoneNumberId,
          workspaceId,
          displayPhoneNumber: body.displayPhoneNumber ?? null,
          wabaId: body.wabaId ?? null,
        },
        201,
      );
    },
  );

  app.openapi(
    createRoute({
      method: 'delete',
      path: '/workspaces/{workspaceId}/numbers/{phoneNumberId}',
      summary: 'Stop routing a number to the workspace',
      tags: ['numbers'],
      ...guard(runtime, 'number.write'),
      request: {
        params: WorkspaceParams.extend({
          phoneNumberId: z.string().openapi({ param: { name: 'phoneNumberId', in: 'path' } }),
        }),
      },
      responses: { 204: { description: 'removed' }, 401: E[401], 403: E[403], 404: E[404] },
    }),
    async (c) => {
      const { workspaceId, phoneNumberId } = c.req.valid('param');
      await admin.removePhoneNumber(actorOf(c), phoneNumberId, workspaceId);
      return c.body(null, 204);
    },
  );
}
