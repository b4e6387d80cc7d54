import { z } from '@hono/zod-openapi';
import { RETENTION_KINDS } from '@wabridge/core';

// The archive operations' request and answer shapes (routes/archive.ts).

export const HoldScopeSchema = z
  .discriminatedUnion('kind', [
    z.object({ kind: z.literal('workspace') }).strict(),
    z
      .object({
        kind: z.literal('contact'),
        contactId: z
          .string()
          .min(1)
          .openapi({ description: 'on input: the contact id, WhatsApp number or BSUID' }),
      })
      .strict(),
    z.object({ kind: z.literal('conversation'), conversationId: z.string().min(1) }).strict(),
    z
      .object({
        kind: z.literal('range'),
        from: z.number().int().openapi({ description: 'epoch ms, inclusive (WhatsApp time of messages)' }),
        to: z.number().int().openapi({ description: 'epoch ms, inclusive' }),
      })
      .strict(),
  ])
  .openapi('HoldScope');

export const LegalHoldSchema = z
  .object({
    id: z.string(),
    workspaceId: z.string(),
    scope: HoldScopeSchema,
    reason: z.string(),
    createdBy: z.string(),
    createdAt: z.number().int(),
    released: z.object({ at: z.number().int(), by: z.string(), reason: z.string() }).nullable(),
  })
  .openapi('LegalHold');

const Reason = z.string().trim().min(1, 'say why (it is kept with the record)').max(1000);

export const AddHoldBody = z
  .object({ scope: HoldScopeSchema, reason: Reason })
  .strict()
  .refine((b) => b.scope.kind !== 'range' || b.scope.from <= b.scope.to, {
    message: 'a date range must end after it starts',
    path: ['scope', 'to'],
  });

export const ReasonBody = z.object({ reason: Reason }).strict();

export const RetentionKindSchema = z.enum(RETENTION_KINDS).openapi('RetentionKind');

export const RetentionRuleSchema = z
  .object({
    kind: RetentionKindSchema,
    keepDays: z.number().int().nullable(),
    afterLastMessageDays: z.number().int().nullable(),
    updatedBy: z.string(),
    updatedAt: z.number().int(),
  })
  .openapi('RetentionRule');

const Days = z.number().int().min(1).max(36_500).nullable();

export const SetRetentionBody = z
  .object({
    keepDays: Days.openapi({
      description:
        'an obligation: content younger than this is never purged (an erasure becomes a restriction)',
    }),
    afterLastMessageDays: Days.openapi({
      description: "purge a conversation's content this many days after its last message",
    }),
  })
  .strict()
  .openapi({ description: 'both null removes the rule (content is then kept until erased)' });

export const RetentionRunSchema = z
  .object({
    at: z.number().int(),
    dryRun: z.boolean(),
    kinds: z.array(
      z.object({
        kind: RetentionKindSchema,
        rule: z.string(),
        purged: z.number().int().openapi({ description: 'purged, or (dry run) due now' }),
        held: z.number().int().openapi({ description: 'due but kept under a legal hold' }),
      }),
    ),
    mediaFiles: z.number().int().openapi({ description: 'cached media files deleted' }),
  })
  .openapi('RetentionRun');

export const EraseBody = z
  .object({
    contact: z.string().trim().min(1).optional().openapi({ description: 'WhatsApp number or BSUID' }),
    conversationId: z.string().trim().min(1).optional(),
    reason: Reason,
  })
  .strict()
  .refine((b) => (b.contact ? 1 : 0) + (b.conversationId ? 1 : 0) === 1, {
    message: 'name who to erase: contact or conversationId (one of them)',
    path: ['contact'],
  });

export const ErasureCertificateSchema = z
  .object({
    id: z.string(),
    workspaceId: z.string(),
    outcome: z.enum(['erased', 'restricted']),
    restrictionGround: z.string().nullable(),
    subject: z.object({ kind: z.enum(['contact', 'conversation']), contactId: z.string() }),
    requestedBy: z.string(),
    reason: z.string(),
    requestedAt: z.number().int(),
    wabridge: z.object({
      conversations: z.array(z.string()),
      messages: z.number().int(),
      statuses: z.number().int(),
      notices: z.number().int(),
      jobsRemoved: z.number().int(),
      mediaFiles: z.array(z.string()),
      contactIdentifiersCleared: z.boolean(),
    }),
    connectors: z.array(
      z.object({
        connectorId: z.string(),
        conversationId: z.string(),
        platformIds: z.array(z.object({ kind: z.string(), entityId: z.string(), externalId: z.string() })),
        state: z.enum(['queued', 'retrying', 'confirmed', 'dead']),
        confirmedAt: z.number().int().nullable(),
        error: z.string().nullable(),
      }),
    ),
  })
  .openapi('ErasureCertificate');

export const ErasureSummarySchema = z
  .object({
    id: z.string(),
    outcome: z.enum(['erased', 'restricted']),
    requestedBy: z.string(),
    requestedAt: z.number().int(),
    reason: z.string(),
    conversations: z.number().int(),
  })
  .openapi('ErasureSummary');

export const VerifyReportSchema = z
  .object({
    ok: z.boolean(),
    records: z.number().int(),
    storedSize: z.number().int(),
    checkpoints: z.number().int(),
    verifiedSize: z.number().int().openapi({ description: 'records covered by a signed checkpoint' }),
    purged: z.number().int(),
    contentChecked: z.boolean(),
    failure: z.object({ seq: z.number().int(), reason: z.string(), message: z.string() }).nullable(),
  })
  .openapi('ArchiveVerifyReport');

export const TranscriptSchema = z
  .object({
    conversation: z.object({
      id: z.string(),
      contactId: z.string(),
      createdAt: z.number().int(),
      erasedAt: z.number().int().nullable(),
      restrictedAt: z
        .number()
        .int()
        .nullable()
        .openapi({ description: 'restricted (GDPR art. 18): the lines come without text' }),
    }),
    messages: z.array(
      z.object({
        id: z.string(),
        direction: z.enum(['inbound', 'outbound']),
        type: z.string(),
        timestamp: z.number().int(),
        text: z.string().nullable(),
        author: z
          .string()
          .nullable()
          .openapi({ description: 'the agent and connector of an outbound message' }),
        contentRemoved: z.boolean().openapi({ description: 'purged by retention or erased' }),
      }),
    ),
  })
  .openapi('Transcript');
