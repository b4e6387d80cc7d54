import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import { WabridgeError } from '@wabridge/core';
import type { Runtime } from '../../runtime.ts';
import { type AdminEnv, actorOf, requirePrincipal } from '../context.ts';
import { ERROR_RESPONSES, ErrorSchema, guard } from '../openapi.ts';
import { AccountSchema, ApiTokenSchema, json, jsonBody, RoleSchema, WorkspaceParams } from '../schemas.ts';

const E = ERROR_RESPONSES;

const MemberSchema = z
  .object({
    accountId: z.string(),
    email: z.string(),
    name: z.string(),
    role: RoleSchema,
    grantedAt: z.number().int(),
  })
  .openapi('Member');

/** Accounts (owners), role grants of a workspace, and its API tokens. */
export function accessRoutes(app: OpenAPIHono<AdminEnv>, runtime: Runtime): void {
  const { access, store } = runtime;

  app.openapi(
    createRoute({
      method: 'get',
      path: '/accounts',
      summary: 'Every account (owners)',
      tags: ['access'],
      ...guard(runtime, 'global.account.read'),
      responses: {
        200: json(z.object({ accounts: z.array(AccountSchema) }), 'accounts'),
        401: E[401],
        403: E[403],
      },
    }),
    async (c) => c.json({ accounts: await access.listAccounts() }, 200),
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/accounts',
      summary: 'Create an account (owners); give it roles with PUT /workspaces/{id}/members',
      tags: ['access'],
      ...guard(runtime, 'global.account.write'),
      request: {
        body: jsonBody(
          z
            .object({
              email: z.email(),
              name: z.string().trim().max(200).default(''),
              password: z.string().min(12).max(1024),
              owner: z.boolean().default(false),
            })
            .strict(),
        ),
      },
      responses: {
        201: json(AccountSchema, 'created'),
        400: E[400],
        401: E[401],
        403: E[403],
        409: json(ErrorSchema, 'the email is taken'),
      },
    }),
    async (c) => c.json(await access.createAccount(actorOf(c), c.req.valid('json')), 201),
  );

  app.openapi(
    createRoute({
      method: 'patch',
      path: '/accounts/{accountId}',
      summary:
        'Disable or enable an account (its sessions end, its tokens stop), or change its owner flag (owners)',
      tags: ['access'],
      ...guard(runtime, 'global.account.write'),
      request: {
        params: z.object({ accountId: z.string().openapi({ param: { name: 'accountId', in: 'path' } }) }),
        body: jsonBody(
          z
            .object({
              disabled: z.boolean().optional(),
              owner: z.boolean().optional(),
              name: z.string().trim().min(1).max(200).optional(),
            })
            .strict(),
        ),
      },
      responses: {
        200: json(AccountSchema, 'the account'),
        400: E[400],
        401: E[401],
        403: E[403],
        404: E[404],
        409: json(ErrorSchema, 'the last owner cannot be demoted or disabled'),
      },
    }),
    async (c) =>
      c.json(
        await access.updateAccount(actorOf(c), c.req.valid('param').accountId, c.req.valid('json')),
        200,
      ),
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/workspaces/{workspaceId}/members',
      summary: 'Who holds which role in the workspace',
      tags: ['access'],
      ...guard(runtime, 'access.read'),
      request: { params: WorkspaceParams },
      responses: {
        200: json(z.object({ members: z.array(MemberSchema) }), 'members'),
        401: E[401],
        403: E[403],
        404: E[404],
      },
    }),
    async (c) => {
      const { workspaceId } = c.req.valid('param');
      const grants = await store.listAdminGrants({ workspaceId });
      const members = [];
      for (const grant of grants) {
        const account = await access.getAccount(grant.accountId);
        if (account)
          members.push({
            accountId: account.id,
            email: account.email,
            name: account.name,
            role: grant.role,
            grantedAt: grant.grantedAt,
          });
      }
      return c.json({ members }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'put',
      path: '/workspaces/{workspaceId}/members',
      summary: 'Give an account (by email) a role in the workspace, replacing its previous one',
      tags: ['access'],
      ...guard(runtime, 'access.write'),
      request: {
        params: WorkspaceParams,
        body: jsonBody(z.object({ email: z.email(), role: RoleSchema }).strict()),
      },
      responses: {
        200: json(MemberSchema, 'granted'),
        400: E[400],
        401: E[401],
        403: E[403],
        404: E[404],
      },
    }),
    async (c) => {
      const { workspaceId } = c.req.valid('param');
      const { email, role } = c.req.valid('json');
      const account = await store.findAdminAccountByEmail(email);
      if (!account) throw new WabridgeError('not_found', `no account has the email ${email}`);
      const { grantedAt } = await access.setGrant(actorOf(c), { accountId: account.id, workspaceId, role });
      return c.json(
        { accountId: account.id, email: account.email, name: account.name, role, grantedAt },
        200,
      );
    },
  );

  app.openapi(
    createRoute({
      method: 'delete',
      path: '/workspaces/{workspaceId}/members/{accountId}',
      summary: "Revoke an account's role in the workspace",
      tags: ['access'],
      ...guard(runtime, 'access.write'),
      request: {
        params: WorkspaceParams.extend({
          accountId: z.string().openapi({ param: { name: 'accountId', in: 'path' } }),
        }),
      },
      responses: { 204: { description: 'revoked' }, 401: E[401], 403: E[403], 404: E[404] },
    }),
    async (c) => {
      const { workspaceId, accountId } = c.req.valid('param');
      const held = await store.listAdminGrants({ workspaceId, accountId });
      if (held.length === 0) throw new WabridgeError('not_found', `account ${accountId} has no role here`);
      await access.setGrant(actorOf(c), { accountId, workspaceId, role: null });
      return c.body(null, 204);
    },
  );

  // --- API tokens ------------------------------------------------------------------------------

  app.openapi(
    createRoute({
      method: 'get',
      path: '/workspaces/{workspaceId}/tokens',
      summary: "The workspace's API tokens (never their values)",
      tags: ['access'],
      ...guard(runtime, 'access.read'),
      request: { params: WorkspaceParams },
      responses: {
        200: json(z.object({ tokens: z.array(ApiTokenSchema) }), 'tokens'),
        401: E[401],
        403: E[403],
        404: E[404],
      },
    }),
    async (c) => c.json({ tokens: await access.listApiTokens(c.req.valid('param').workspaceId) }, 200),
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/workspaces/{workspaceId}/tokens',
      summary: 'Create an API token for this workspace with one role; its value is shown once',
      description: 'Only a signed-in person creates tokens: a token cannot mint another (403).',
      tags: ['access'],
      ...guard(runtime, 'access.write'),
      request: {
        params: WorkspaceParams,
        body: jsonBody(z.object({ name: z.string().trim().min(1).max(100), role: RoleSchema }).strict()),
      },
      responses: {
        201: json(
          z.object({
            token: z.string().openapi({ description: 'shown once: store it now' }),
            record: ApiTokenSchema,
          }),
          'created',
        ),
        400: E[400],
        401: E[401],
        403: E[403],
        404: E[404],
      },
    }),
    async (c) => {
      const principal = requirePrincipal(c);
      if (principal.kind === 'token')
        throw new WabridgeError('forbidden', 'an API token cannot create tokens; sign in', { status: 403 });
      const { workspaceId } = c.req.valid('param');
      const body = c.req.valid('json');
      const created = await access.createApiToken(actorOf(c), {
        ...body,
        workspaceId,
        createdBy: principal.accountId,
      });
      return c.json(created, 201);
    },
  );

  app.openapi(
    createRoute({
      method: 'delete',
      path: '/workspaces/{workspaceId}/tokens/{tokenId}',
      summary: 'Revoke an API token',
      tags: ['access'],
      ...guard(runtime, 'access.write'),
      request: {
        params: WorkspaceParams.extend({
          tokenId: z.string().openapi({ param: { name: 'tokenId', in: 'path' } }),
        }),
      },
      responses: { 204: { description: 'revoked' }, 401: E[401], 403: E[403], 404: E[404] },
    }),
    async (c) => {
      const { workspaceId, tokenId } = c.req.valid('param');
      await access.revokeApiToken(actorOf(c), workspaceId, tokenId);
      return c.body(null, 204);
    },
  );
}
