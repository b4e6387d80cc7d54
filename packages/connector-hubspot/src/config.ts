import { idField, tokenField } from '@wabridge/core';
import { z } from 'zod';

const digits = (what: string, example: string) =>
  // Numbers in a YAML file or JSON are taken as the id they spell.
  z.preprocess(
    (value) => (typeof value === 'number' ? String(value) : value),
    idField({ what, pattern: /^\d+$/, example }),
  );

/**
 * The HubSpot connector's configuration, per workspace. Either a private app (`accessToken`) or a
 * public app installed with OAuth (`refreshToken`, `oauthClientId`, `portalId`: what "Connect
 * HubSpot" stores). `accessToken`, `refreshToken` and `clientSecret` (the app's secret, which signs
 * webhooks and, for a public app, authenticates token refreshes) are secret fields: stored
 * encrypted, never logged.
 */
export const hubspotConfigSchema = z
  .object({
    /** The private app's access token (`pat-na1-…`, Auth tab of the app). */
    accessToken: tokenField({ what: 'HubSpot private app access token', prefixes: ['pat-'] }).optional(),
    /** The public app's refresh token of this portal's installation (seeds the rotated one kept in the state). */
    refreshToken: tokenField({ what: 'HubSpot OAuth refresh token' }).optional(),
    /** The public app's client id (its Auth tab); needed with `refreshToken`. */
    oauthClientId: idField({
      what: 'HubSpot app client id',
      pattern: /^[0-9a-f-]{8,64}$/i,
      example: '5f7c1d2e-0a6b-4c3d-9e8f-1a2b3c4d5e6f',
    }).optional(),
    clientSecret: tokenField({ what: 'HubSpot client secret' }),
    /** HubSpot API base URL; the sandbox emulator or a corporate proxy plug in here. */
    basePath: z.url().default('https://api.hubapi.com'),
    /** The portal (hub) id: webhooks from other portals are ignored, and the rate limiter is keyed by it. */
    portalId: digits('HubSpot portal (hub) id', '4242424').optional(),
    /**
     * The app's id. HubSpot puts it as `sourceId` on changes an app made, so webhooks about our own
     * consent writes are recognised and dropped before they reach the core.
     */
    appId: digits('HubSpot app id', '1160452').optional(),
    /**
     * Request pacing per portal. HubSpot allows 100 (Free/Starter) to 190 (Professional/Enterprise)
     * requests per rolling 10 s per private app, and CRM search about 5 per second (https://developers.hubspot.com/docs/developer-tooling/platform/usage-guidelines); the defaults keep under the smallest tier. Raise `perSecond` to the account's tier.
     */
    rateLimit: z
      .object({
        perSecond: z.number().positive().max(100).default(9),
        burst: z.number().int().positive().max(250).default(10),
        searchPerSecond: z.number().positive().max(10).default(4),
      })
      .prefault({}),
    /** The account's time zone: HubSpot's daily API limit resets at its midnight. */
    dailyResetTimeZone: z.string().default('UTC'),
    media: z
      .object({
        /** Upload WhatsApp media to HubSpot Files and attach it; otherwise link to the gateway. */
        upload: z.boolean().default(false),
        /** Folder for uploaded media. */
        folderPath: z.string().default('/wabridge'),
        /** How long a media link in a timeline entry stays valid. */
        linkTtlDays: z.number().positive().max(365).default(30),
      })
      .prefault({}),
    /** What to do when the HubSpot contact of a WhatsApp user was deleted in HubSpot. */
    deletedContacts: z.enum(['recreate', 'skip']).default('recreate'),
    /** Also associate each message with the contact's most recent open deal and/or ticket. */
    associate: z
      .object({ openDeal: z.boolean().default(false), openTicket: z.boolean().default(false) })
      .prefault({}),
    /** Owner shown as the creator of timeline entries (`hubspot_owner_id`). */
    ownerId: z.string().optional(),
  })
  .superRefine((config, ctx) => {
    if (config.accessToken === undefined && config.refreshToken === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['accessToken'],
        message:
          'is required: a private app token, or connect HubSpot (wabridge connector connect <workspace> hubspot)',
      });
    }
    if (config.accessToken !== undefined && config.refreshToken !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['refreshToken'],
        message: 'cannot be set with accessToken: use the private app token or the OAuth install, not both',
      });
    }
    if (config.refreshToken !== undefined) {
      for (const key of ['oauthClientId', 'portalId'] as const) {
        if (config[key] === undefined) {
          ctx.addIssue({ code: 'custom', path: [key], message: 'is required with refreshToken (OAuth)' });
        }
      }
    }
  });

export type HubSpotConfig = z.infer<typeof hubspotConfigSchema>;

export const HUBSPOT_SECRET_FIELDS = ['accessToken', 'refreshToken', 'clientSecret'] as const;
