import { z } from '@hono/zod-openapi';
import { policiesSchema, WORKSPACE_ROLES } from '@wabridge/core';

/** Path parameters, named as the routes name them (`{workspaceId}` is what `guard` authorizes). */
export const WorkspaceParams = z.object({
  workspaceId: z.string().openapi({ param: { name: 'workspaceId', in: 'path' }, example: 'acme' }),
});

export const WORKSPACE_ID = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{1,62}$/, 'lowercase letters, digits and dashes (2 to 63)');

export const PoliciesSchema = policiesSchema.meta({
  id: 'Policies',
  description: 'Workspace policies; on write, the keys given replace the stored ones.',
});

export const WorkspaceSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    policies: PoliciesSchema,
    createdAt: z.number().int(),
  })
  .openapi('Workspace');

export const PhoneNumberSchema = z
  .object({
    phoneNumberId: z.string(),
    workspaceId: z.string(),
    displayPhoneNumber: z.string().nullable(),
    wabaId: z.string().nullable(),
  })
  .openapi('PhoneNumber');

export const RoleSchema = z.enum(WORKSPACE_ROLES).openapi('Role');

export const ConnectorSettingSchema = z
  .object({
    connectorId: z.string(),
    enabled: z.boolean(),
    config: z
      .record(z.string(), z.unknown())
      .openapi({ description: 'settings; secret fields read as "••••••" (write-only)' }),
    updatedAt: z.number().int(),
  })
  .openapi('ConnectorSetting');

export const ConnectorSchema = z
  .object({
    connectorId: z.string(),
    name: z.string(),
    secretFields: z.array(z.string()),
    setting: ConnectorSettingSchema.nullable(),
  })
  .openapi('Connector');

export const AuditEntrySchema = z
  .object({
    id: z.number().int(),
    at: z.number().int(),
    actor: z.string(),
    action: z.string(),
    workspaceId: z.string().nullable(),
    details: z.record(z.string(), z.unknown()),
    log: z.string().openapi({ description: 'the archive log holding its record: the workspace, or _global' }),
    seq: z
      .number()
      .int()
      .nullable()
      .openapi({ description: 'its record in that log, to prove with wabridge archive prove' }),
  })
  .openapi('AuditEntry');

export const AccountSchema = z
  .object({
    id: z.string(),
    email: z.string(),
    name: z.string(),
    owner: z.boolean(),
    createdAt: z.number().int(),
    disabledAt: z.number().int().nullable(),
  })
  .openapi('Account');

export const ApiTokenSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    workspaceId: z.string(),
    role: RoleSchema,
    createdBy: z.string(),
    createdAt: z.number().int(),
    lastUsedAt: z.number().int().nullable(),
    revokedAt: z.number().int().nullable(),
  })
  .openapi('ApiToken');

export const json = <T extends z.ZodType>(schema: T, description: string) => ({
  description,
  content: { 'application/json': { schema } },
});

export const jsonBody = <T extends z.ZodType>(schema: T) => ({
  required: true,
  content: { 'application/json': { schema } },
});
