import { GUID, idField, tokenField } from '@wabridge/core';
import { z } from 'zod';

const guid = (what: string) =>
  idField({ what, pattern: GUID, example: '8d0b1a3c-2f4e-4a6b-9c8d-7e6f5a4b3c2d' });
/** A standard or shared channel id as Graph gives it: `19:…@thread.tacv2` (`@thread.skype` for old ones). */
const channelId = idField({
  what: 'Teams channel id',
  pattern: /^19:[^\s@]+@thread\.(tacv2|skype)$/,
  example: '19:4a1f5b2c8d6e4f0a9b3c7d1e2f3a4b5c@thread.tacv2',
});

/** Where a conversation's thread goes: a team and one of its channels. */
export const channelTargetSchema = z.object({
  teamId: guid('Teams team id (the group id)'),
  channelId,
});
export type ChannelTarget = z.infer<typeof channelTargetSchema>;

/**
 * A routing rule: conversations with a business number matching `phoneNumberId` or
 * `displayPhoneNumber` get their thread in this channel. The first matching rule wins; without a
 * match the connector's default `teamId`/`channelId` is used. A thread stays where it was created.
 */
export const routeSchema = channelTargetSchema.extend({
  phoneNumberId: z.string().min(1).optional(),
  displayPhoneNumber: z.string().min(1).optional(),
});

/**
 * Our own pace per channel, before Graph has to answer 429. Graph allows 4 requests/s per app and
 * channel, every kind of request counted; new messages go at `messagesPerSecond` within that.
 */
const pacingSchema = z
  .object({
    requestsPerSecond: z.number().positive().max(4).default(3),
    messagesPerSecond: z.number().positive().max(4).default(1),
    /** Messages that may go out back to back after a quiet spell. */
    messageBurst: z.number().int().min(1).max(4).default(1),
  })
  .refine((p) => p.messagesPerSecond <= p.requestsPerSecond, {
    message: 'messagesPerSecond cannot exceed requestsPerSecond',
    path: ['messagesPerSecond'],
  });

const subscriptionSchema = z.object({
  /** Receive agent replies through Graph change notifications. */
  enabled: z.boolean().default(true),
  /**
   * Lifetime asked for each subscription. Graph's limit for Teams messages is documented as 60
   * minutes in older pages and up to 4,320 with a lifecycle URL in newer ones [V?]; 60 is safe
   * with both, the renewal runs `renewBeforeMinutes` ahead.
   */
  lifetimeMinutes: z.number().int().min(5).max(4320).default(60),
  renewBeforeMinutes: z.number().int().min(1).max(1440).default(20),
  changeTypes: z
    .string()
    .regex(/^(created|updated|deleted)(,(created|updated|deleted))*$/)
    .default('created,updated'),
  /** Where Graph posts, when not `<PUBLIC_URL>/hooks/teams/<workspace>` (e.g. a separate ingress). */
  notificationBaseUrl: z.url().optional(),
});

/**
 * Configuration of the Teams connector in one workspace. `clientSecret`, `refreshToken` and
 * `encryptionPrivateKey` are secrets (stored encrypted, never shown).
 */
export const teamsConfigSchema = z
  .object({
    /** Entra ID tenant (directory) id, or one of its domains (`contoso.onmicrosoft.com`). */
    tenantId: idField({
      what: 'Entra ID tenant id',
      pattern: /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[a-z0-9-]+(\.[a-z0-9-]+)+)$/i,
      example: '5f1c1f4e-5a7d-4b8e-9c1a-0b5ad5b0c0de',
    }),
    /** The app registration (client) id. */
    clientId: guid('Entra ID application (client) id'),
    clientSecret: tokenField({ what: 'Entra ID client secret' }),
    /**
     * A refresh token of the service account (delegated `ChannelMessage.Send`), from its one-time
     * sign-in. Used once to seed the token cache; the rotated tokens then live encrypted in the
     * connector state. Setting a new one (after re-consent) replaces the cached sign-in.
     */
    refreshToken: tokenField({ what: 'refresh token' }),
    /** Default team and channel for new threads. */
    teamId: guid('Teams team id (the group id)'),
    channelId,
    routes: z.array(routeSchema).default([]),
    /** The service account's object id; learnt from its sign-in when not set. */
    serviceAccountId: z.string().min(1).optional(),
    /** Identity platform host (sovereign clouds: `https://login.microsoftonline.us`, …). */
    authorityHost: z.url().default('https://login.microsoftonline.com'),
    /** Token endpoint, when not `<authorityHost>/<tenantId>/oauth2/v2.0/token` (a proxy, a gateway). */
    tokenEndpoint: z.url().optional(),
    /** Graph base URL (sovereign clouds: `https://graph.microsoft.us/`, …; the sandbox). */
    graphBaseUrl: z.url().default('https://graph.microsoft.com/'),
    graphVersion: z
      .string()
      .regex(/^(v1\.0|beta)$/)
      .default('v1.0'),
    /** Resource the tokens are for (the scope prefix); stays Graph's even when `graphBaseUrl` is a proxy. */
    graphResource: z.url().default('https://graph.microsoft.com'),
    subscription: subscriptionSchema.prefault({}),
    /**
     * Encrypted resource data: with a certificate (PEM), its private key (PEM) and an id, Graph
     * sends each reply inside the notification and no fetch is needed.
     */
    encryptionCertificate: z.string().min(1).optional(),
    encryptionPrivateKey: tokenField({ what: 'PEM private key', multiline: true }).optional(),
    encryptionCertificateId: z.string().min(1).max(128).optional(),
    /** JWKS of the validation tokens Graph adds to notifications with resource data. */
    validationTokenKeysUrl: z.url().optional(),
    /** A reply starting with this stays in Teams as an internal note. */
    notePrefix: z.string().min(1).max(16).default('//'),
    /** `reply`: every reply goes to the customer except notes. `explicit`: only replies starting with `sendPrefix`. */
    sendMode: z.enum(['reply', 'explicit']).default('reply'),
    sendPrefix: z.string().min(1).max(16).default('>>'),
    /** A reply that @-mentions someone (a colleague, the channel, a tag) stays in Teams. */
    mentionsAreNotes: z.boolean().default(true),
    /** Language of `/template name | …` when the agent does not give one. */
    templateLanguage: z.string().min(2).default('en_US'),
    /** `false` turns our own pacing off and leaves it to Graph's 429s (not recommended). */
    pacing: z.union([z.literal(false), pacingSchema]).prefault({}),
    /** Graph's documented limit of messages per app per channel per day. */
    dailyMessageLimit: z.number().int().positive().default(3000),
    /** Share of the daily limit at which the admin is warned. */
    dailyAlertRatio: z.number().gt(0).max(1).default(0.8),
    /** After missed notifications, threads with customer activity this recent are read back. */
    resyncLookbackHours: z
      .number()
      .int()
      .min(1)
      .max(24 * 30)
      .default(48),
    /** Largest message we post (body and cards, UTF-8 bytes); Teams refuses about 28 KB. */
    maxMessageBytes: z.number().int().min(2048).max(28_000).default(24_000),
    /** How long a notification may wait for Graph to return the reply it is about. */
    inboundFetchTimeoutMs: z.number().int().min(200).max(2500).default(2000),
    /**
     * Largest file or pasted image of an agent's reply that is sent to WhatsApp (bytes; WhatsApp
     * takes documents up to 100 MB, images up to 5 MB). Larger ones fail with a notice to the agent.
     */
    maxAttachmentBytes: z.number().int().min(1024).max(100_000_000).default(100_000_000),
    /** Validity of media links in mirrored messages. */
    mediaLinkTtlDays: z.number().int().min(1).max(365).default(30),
  })
  .superRefine((config, ctx) => {
    const encryption = [
      config.encryptionCertificate,
      config.encryptionPrivateKey,
      config.encryptionCertificateId,
    ];
    if (encryption.some((v) => v !== undefined) && encryption.some((v) => v === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: ['encryptionCertificate'],
        message: 'encryptionCertificate, encryptionPrivateKey and encryptionCertificateId go together',
      });
    }
    if (config.subscription.renewBeforeMinutes >= config.subscription.lifetimeMinutes) {
      ctx.addIssue({
        code: 'custom',
        path: ['subscription', 'renewBeforeMinutes'],
        message: 'must be shorter than subscription.lifetimeMinutes',
      });
    }
  });

export type TeamsConfig = z.infer<typeof teamsConfigSchema>;
export type TeamsConfigInput = z.input<typeof teamsConfigSchema>;

export const SECRET_FIELDS = ['clientSecret', 'refreshToken', 'encryptionPrivateKey'] as const;

/** The channel a new conversation's thread goes to. */
export function routeFor(
  config: Pick<TeamsConfig, 'routes' | 'teamId' | 'channelId'>,
  conversation: { phoneNumberId: string; displayPhoneNumber: string | null },
): ChannelTarget {
  const digits = (s: string | null) => (s ?? '').replace(/\D/g, '');
  for (const route of config.routes) {
    const byId = route.phoneNumberId !== undefined && route.phoneNumberId === conversation.phoneNumberId;
    const byNumber =
      route.displayPhoneNumber !== undefined &&
      digits(route.displayPhoneNumber) !== '' &&
      digits(route.displayPhoneNumber) === digits(conversation.displayPhoneNumber);
    if (byId || byNumber) return { teamId: route.teamId, channelId: route.channelId };
  }
  return { teamId: config.teamId, channelId: config.channelId };
}
