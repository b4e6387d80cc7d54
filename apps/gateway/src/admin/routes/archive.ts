import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import { WabridgeError } from '@wabridge/core';
import {
  conversationTranscript,
  exportZip,
  listErasures,
  signWorkspaceCheckpoint,
  verifyWorkspaceArchive,
} from '../../archive-operations.ts';
import type { Runtime } from '../../runtime.ts';
import {
  AddHoldBody,
  EraseBody,
  ErasureCertificateSchema,
  ErasureSummarySchema,
  LegalHoldSchema,
  ReasonBody,
  RetentionKindSchema,
  RetentionRuleSchema,
  RetentionRunSchema,
  SetRetentionBody,
  TranscriptSchema,
  VerifyReportSchema,
} from '../archive-schemas.ts';
import { type AdminEnv, actorOf, requirePrincipal } from '../context.ts';
import { ERROR_RESPONSES, ErrorSchema, guard } from '../openapi.ts';
import { json, jsonBody, WorkspaceParams } from '../schemas.ts';

const E = ERROR_RESPONSES;
const conflict = {
  description: 'refused: a legal hold covers it (the message names the hold), or already done',
  content: { 'application/json': { schema: ErrorSchema } },
};
const errors = { 400: E[400], 401: E[401], 403: E[403], 404: E[404] } as const;
const base = '/workspaces/{workspaceId}/archive';
const param = (name: string, example: string) => z.string().openapi({ param: { name, in: 'path' }, example });

/**
 * The archive operations of a workspace (docs/compliance.md): legal holds, retention rules and
 * runs, erasures and their certificates, a contact's export, verify and checkpoints, transcripts.
 * Each calls the function `wabridge hold | retention | erase | export | archive` calls.
 */
export function archiveRoutes(app: OpenAPIHono<AdminEnv>, runtime: Runtime): void {
  const { store, governance } = runtime;

  // --- Legal holds
  app.openapi(
    createRoute({
      method: 'get',
      path: `${base}/holds`,
      summary: 'Legal holds, active and released, oldest first',
      tags: ['archive'],
      ...guard(runtime, 'archive.read'),
      request: { params: WorkspaceParams },
      responses: { 200: json(z.object({ holds: z.array(LegalHoldSchema) }), 'holds'), ...errors },
    }),
    async (c) => c.json({ holds: await store.listHolds(c.req.valid('param').workspaceId) }, 200),
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: `${base}/holds`,
      summary: 'Place a legal hold on a contact, a conversation, a time range or the whole workspace',
      tags: ['archive'],
      ...guard(runtime, 'archive.hold'),
      request: { params: WorkspaceParams, body: jsonBody(AddHoldBody) },
      responses: { 201: json(LegalHoldSchema, 'the hold'), ...errors },
    }),
    async (c) => {
      const { scope, reason } = c.req.valid('json');
      const hold = await store.addHold({
        workspaceId: c.req.valid('param').workspaceId,
        scope,
        reason,
        actor: actorOf(c),
      });
      return c.json(hold, 201);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: `${base}/holds/{holdId}/release`,
      summary: 'Release a legal hold (it stays listed: who released it, when, why)',
      tags: ['archive'],
      ...guard(runtime, 'archive.hold'),
      request: {
        params: WorkspaceParams.extend({ holdId: param('holdId', 'hold_01J…') }),
        body: jsonBody(ReasonBody),
      },
      responses: { 200: json(LegalHoldSchema, 'the released hold'), ...errors, 409: conflict },
    }),
    async (c) => {
      const { workspaceId, holdId } = c.req.valid('param');
      const hold = await store.releaseHold({
        workspaceId,
        holdId,
        actor: actorOf(c),
        reason: c.req.valid('json').reason,
      });
      return c.json(hold, 200);
    },
  );

  // --- Retention
  app.openapi(
    createRoute({
      method: 'get',
      path: `${base}/retention`,
      summary: 'The retention rules (a kind without a rule is kept until erased)',
      tags: ['archive'],
      ...guard(runtime, 'archive.read'),
      request: { params: WorkspaceParams },
      responses: { 200: json(z.object({ rules: z.array(RetentionRuleSchema) }), 'rules'), ...errors },
    }),
    async (c) => c.json({ rules: await store.listRetention(c.req.valid('param').workspaceId) }, 200),
  );

  app.openapi(
    createRoute({
      method: 'put',
      path: `${base}/retention/{kind}`,
      summary: "Set (or, with both periods null, remove) one record kind's retention rule",
      tags: ['archive'],
      ...guard(runtime, 'archive.erase'),
      request: {
        params: WorkspaceParams.extend({
          kind: RetentionKindSchema.openapi({ param: { name: 'kind', in: 'path' } }),
        }),
        body: jsonBody(SetRetentionBody),
      },
      responses: {
        200: json(z.object({ rule: RetentionRuleSchema.nullable() }), 'the rule (null: removed)'),
        ...errors,
      },
    }),
    async (c) => {
      const { workspaceId, kind } = c.req.valid('param');
      const body = c.req.valid('json');
      const rule = await store.setRetention({ workspaceId, kind, ...body, actor: actorOf(c) });
      return c.json({ rule }, 200);
    },
  );

  const retentionRun = async (workspaceId: string, dryRun: boolean, who: ReturnType<typeof actorOf>) => {
    const result = await governance.runRetention({ workspaceId, now: runtime.now(), dryRun, actor: who });
    return { at: result.at, dryRun, kinds: result.kinds, mediaFiles: result.mediaFiles.length };
  };

  app.openapi(
    createRoute({
      method: 'get',
      path: `${base}/retention/dry-run`,
      summary: 'What a retention run would purge now (changes nothing)',
      tags: ['archive'],
      ...guard(runtime, 'archive.read'),
      request: { params: WorkspaceParams },
      responses: { 200: json(RetentionRunSchema, 'due now, per kind'), ...errors },
    }),
    async (c) => c.json(await retentionRun(c.req.valid('param').workspaceId, true, actorOf(c)), 200),
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: `${base}/retention/run`,
      summary: 'Purge now what the rules let go and no legal hold covers',
      tags: ['archive'],
      ...guard(runtime, 'archive.erase'),
      request: { params: WorkspaceParams, body: jsonBody(z.object({}).strict()) },
      responses: { 200: json(RetentionRunSchema, 'purged, per kind'), ...errors },
    }),
    async (c) => c.json(await retentionRun(c.req.valid('param').workspaceId, false, actorOf(c)), 200),
  );

  // --- Erasure
  app.openapi(
    createRoute({
      method: 'post',
      path: `${base}/erasures`,
      summary:
        "Erase a contact's or a conversation's content everywhere (GDPR art. 17), or restrict it (art. 18) " +
        'when a retention obligation still applies; refused under a legal hold',
      tags: ['archive'],
      ...guard(runtime, 'archive.erase'),
      request: { params: WorkspaceParams, body: jsonBody(EraseBody) },
      responses: { 201: json(ErasureCertificateSchema, 'the certificate'), ...errors, 409: conflict },
    }),
    async (c) => {
      const { workspaceId } = c.req.valid('param');
      const body = c.req.valid('json');
      const certificate = await governance.erase({
        workspaceId,
        subject: body.contact
          ? { kind: 'contact', identifier: body.contact }
          : { kind: 'conversation', conversationId: body.conversationId ?? '' },
        actor: actorOf(c),
        reason: body.reason,
      });
      runtime.worker?.notify();
      return c.json(certificate, 201);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: `${base}/erasures`,
      summary: 'Erasures of the workspace, newest first (from the audit trail)',
      tags: ['archive'],
      ...guard(runtime, 'archive.read'),
      request: { params: WorkspaceParams },
      responses: { 200: json(z.object({ erasures: z.array(ErasureSummarySchema) }), 'erasures'), ...errors },
    }),
    async (c) => c.json({ erasures: await listErasures(runtime, c.req.valid('param').workspaceId) }, 200),
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: `${base}/erasures/{erasureId}`,
      summary: "An erasure's certificate, with each connector's confirmation as it stands now",
      tags: ['archive'],
      ...guard(runtime, 'archive.read'),
      request: { params: WorkspaceParams.extend({ erasureId: param('erasureId', 'er_01J…') }) },
      responses: { 200: json(ErasureCertificateSchema, 'the certificate'), ...errors },
    }),
    async (c) => {
      const { workspaceId, erasureId } = c.req.valid('param');
      const certificate = await store.getErasure(workspaceId, erasureId);
      if (!certificate)
        throw new WabridgeError('not_found', `no erasure ${erasureId} in workspace ${workspaceId}`, {
          status: 404,
        });
      return c.json(certificate, 200);
    },
  );

  // --- Export
  app.openapi(
    createRoute({
      method: 'get',
      path: `${base}/export`,
      summary:
        "One contact's data as a ZIP (GDPR art. 15/20): JSON, transcripts, media and proofs; recorded as an export",
      tags: ['archive'],
      ...guard(runtime, 'archive.export'),
      request: {
        params: WorkspaceParams,
        query: z.object({
          contact: z.string().trim().min(1).openapi({ description: 'WhatsApp number or BSUID' }),
        }),
      },
      responses: {
        200: {
          description: 'the ZIP (wabridge archive verify --export checks it)',
          content: { 'application/zip': { schema: z.string().openapi({ format: 'binary' }) } },
        },
        ...errors,
      },
    }),
    async (c) => {
      const { workspaceId } = c.req.valid('param');
      const { contact } = c.req.valid('query');
      const body = await exportZip(runtime, workspaceId, contact, requirePrincipal(c).actor);
      return new Response(body.stream, {
        headers: {
          'content-type': 'application/zip',
          'content-disposition': `attachment; filename="${body.filename}"`,
          'cache-control': 'no-store',
        },
      }) as never;
    },
  );

  // --- Verify and checkpoints
  app.openapi(
    createRoute({
      method: 'get',
      path: `${base}/verify`,
      summary: 'Verify the workspace log: every record, the tree, every signed checkpoint, each content',
      tags: ['archive'],
      ...guard(runtime, 'archive.verify'),
      request: { params: WorkspaceParams },
      responses: {
        200: json(VerifyReportSchema, 'the report (ok false names the first failure)'),
        ...errors,
      },
    }),
    async (c) => {
      const report = await verifyWorkspaceArchive(runtime, c.req.valid('param').workspaceId);
      return c.json(
        {
          ok: report.ok,
          records: report.records,
          storedSize: report.storedSize,
          checkpoints: report.checkpoints,
          verifiedSize: report.verifiedSize,
          purged: report.purged,
          contentChecked: report.contentChecked,
          failure: report.failure
            ? { seq: report.failure.seq, reason: report.failure.reason, message: report.failure.message }
            : null,
        },
        200,
      );
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: `${base}/checkpoints`,
      summary: 'Sign a checkpoint of the log as it is now (a signed note, C2SP tlog-checkpoint)',
      tags: ['archive'],
      ...guard(runtime, 'workspace.update'),
      request: { params: WorkspaceParams, body: jsonBody(z.object({}).strict()) },
      responses: {
        201: json(z.object({ size: z.number().int(), note: z.string() }), 'the signed checkpoint'),
        ...errors,
      },
    }),
    async (c) =>
      c.json(await signWorkspaceCheckpoint(runtime, actorOf(c), c.req.valid('param').workspaceId), 201),
  );

  // --- Transcript
  app.openapi(
    createRoute({
      method: 'get',
      path: `${base}/conversations/{conversationId}/transcript`,
      summary: 'One conversation, oldest first (reading it is recorded in the audit trail)',
      tags: ['archive'],
      ...guard(runtime, 'archive.read'),
      request: { params: WorkspaceParams.extend({ conversationId: param('conversationId', 'cv_01J…') }) },
      responses: { 200: json(TranscriptSchema, 'the transcript'), ...errors },
    }),
    async (c) => {
      const { workspaceId, conversationId } = c.req.valid('param');
      return c.json(await conversationTranscript(runtime, actorOf(c), workspaceId, conversationId), 200);
    },
  );
}
