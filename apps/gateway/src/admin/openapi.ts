import { OpenAPIHono, z } from '@hono/zod-openapi';
import type { Permission } from '@wabridge/core';
import type { MiddlewareHandler } from 'hono';
import type { Runtime } from '../runtime.ts';
import { type AdminEnv, authorize, requirePrincipal } from './context.ts';

/** The error body of every admin API answer that is not a success. */
export const ErrorSchema = z
  .object({
    error: z.object({
      code: z.string().openapi({ example: 'not_found' }),
      message: z.string().openapi({ example: 'workspace acme does not exist' }),
    }),
  })
  .openapi('Error');

const errorResponse = (description: string) => ({
  description,
  content: { 'application/json': { schema: ErrorSchema } },
});

/** The error answers every guarded route may give (documented once, here). */
export const ERROR_RESPONSES = {
  400: errorResponse('the request is malformed (names the field)'),
  401: errorResponse('not signed in, or the API token is invalid or revoked'),
  403: errorResponse('the role does not allow this, or the CSRF token is missing or wrong'),
  404: errorResponse('no such workspace (or not one of yours), or no such resource in it'),
} as const;

/** The OpenAPI extension naming the permission a route needs; the authorization test reads it. */
export const PERMISSION_EXTENSION = 'x-wabridge-permission';

/**
 * What every admin route spreads into its `createRoute`: the permission it needs (checked before
 * its input is validated, so a refused caller learns nothing from a 400) and that permission in
 * the OpenAPI document. Workspace permissions take the workspace from the `workspaceId` path
 * parameter; `'signed-in'` needs only a principal.
 */
export function guard(runtime: Runtime, permission: Permission | 'signed-in') {
  const check: MiddlewareHandler<AdminEnv> = async function adminGuard(c, next) {
    if (permission === 'signed-in') requirePrincipal(c);
    else await authorize(c, runtime, permission, c.req.param('workspaceId'));
    return next();
  };
  return { middleware: check, [PERMISSION_EXTENSION]: permission };
}

/** An admin API app whose validation failures answer in the one error shape (400, every issue named). */
export function adminOpenApiApp(): OpenAPIHono<AdminEnv> {
  return new OpenAPIHono<AdminEnv>({
    defaultHook: (result, c) => {
      if (!result.success) {
        const issues = result.error.issues
          .map((i) => `${i.path.length > 0 ? `${i.path.join('.')}: ` : ''}${i.message}`)
          .join('; ');
        return c.json({ error: { code: 'bad_request', message: `${result.target}: ${issues}` } }, 400);
      }
      return undefined;
    },
  });
}
