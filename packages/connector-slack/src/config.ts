import { idField, tokenField } from '@wabridge/core';
import { z } from 'zod';

/** Public and private channel ids (`C…`; `G…` for private channels made before 2021). */
const channelId = idField({ what: 'Slack channel id', pattern: /^[CG][A-Z0-9]{2,}$/, example: 'C0123ABCD' });

/**
 * Routing: the first rule that matches a conversation decides its channel (decided once, when the
 * thread is created). A rule matches on the business number (`phone_number_id` or the display
 * number, digits), a prefix of the customer's number (e.g. a country code), or a tag the workspace
 * puts on customers (`tags` below). Conversations no rule matches go to `defaultChannel`.
 */
const routeSchema = z
  .object({
    channel: channelId,
    businessNumber: z.string().min(1).optional(),
    customerPrefix: z
      .string()
      .regex(/^\+?\d+$/, 'digits, e.g. "44" or "+44"')
      .optional(),
    tag: z.string().min(1).optional(),
  })
  .refine((r) => r.businessNumber ?? r.customerPrefix ?? r.tag, {
    message: 'a route needs businessNumber, customerPrefix or tag',
  });

export const slackConfigSchema = z
  .object({
    /**
     * Bot token of the app installation (`xoxb-…`). Secret. Token kinds by prefix:
     * https://docs.slack.dev/authentication/tokens
     */
    botToken: tokenField({
      what: 'Slack bot token',
      prefixes: ['xoxb-'],
      lookalikes: {
        'xoxp-': "that is a user token; use the app's Bot User OAuth Token (OAuth & Permissions)",
        'xapp-': "that is an app-level token; use the app's Bot User OAuth Token (OAuth & Permissions)",
        xoxe: 'that is a rotating or refresh token; use a bot token without token rotation',
      },
    }),
    /** The app's signing secret (verifies Events API, interactivity and slash command callbacks). Secret. */
    signingSecret: tokenField({ what: 'Slack signing secret' }),
    /**
     * Slack team (workspace) id of the installation, `T…`; callbacks from another team are ignored.
     * Absent for an org-wide (Enterprise Grid) install, which `enterpriseId` names instead.
     */
    teamId: idField({
      what: 'Slack team id',
      pattern: /^[TE][A-Z0-9]{2,}$/,
      example: 'T0123ABCD',
    }).optional(),
    /**
     * Enterprise Grid organization id, `E…`. Without `teamId` (an org-wide install), callbacks of
     * every workspace of the organization are served, and the bot token posts in all of them.
     */
    enterpriseId: idField({
      what: 'Slack enterprise id',
      pattern: /^E[A-Z0-9]{2,}$/,
      example: 'E0123ABCD',
    }).optional(),
    /** The app id (`A…`); when set, callbacks for another app are ignored. */
    appId: idField({ what: 'Slack app id', pattern: /^A[A-Z0-9]{2,}$/, example: 'A0123ABCD' }).optional(),
    /** The app's bot user (`U…`/`B…`), as "Add to Slack" reports it; informational. */
    botUserId: idField({
      what: 'Slack bot user id',
      pattern: /^[UBW][A-Z0-9]{2,}$/,
      example: 'U0123ABCD',
    }).optional(),
    /** Channel id (`C…`) where conversations go unless a route says otherwise. */
    defaultChannel: channelId,
    routes: z.array(routeSchema).default([]),
    /** Tag → customer numbers or prefixes carrying it (digits), for `routes[].tag`. */
    tags: z.record(z.string(), z.array(z.string())).default({}),
    /**
     * `reply` (default): every human reply in a conversation thread goes to the customer, except
     * internal notes. `explicit`: only replies starting with `sendPrefix` go out; all else is a note.
     */
    sendMode: z.enum(['reply', 'explicit']).default('reply'),
    /** A reply starting with this stays in Slack (default `//`). */
    notePrefix: z.string().min(1).default('//'),
    /** In `explicit` mode, a reply starting with this goes to the customer (prefix removed). */
    sendPrefix: z.string().min(1).default('>>'),
    /** A reply that @-mentions someone in Slack is talking to colleagues: keep it as a note (default true). */
    mentionsAreNotes: z.boolean().default(true),
    /** Web API base URL (the sandbox emulator or a proxy). */
    slackApiUrl: z.url().default('https://slack.com/api/'),
    /** Proactive pace of `chat.postMessage` per channel (Slack: about 1 per second). */
    postsPerSecondPerChannel: z.number().positive().default(1),
    /**
     * Extra milliseconds between two posts in a channel: Slack counts arrivals, which jitter; this
     * keeps a limiter without burst allowance from refusing calls (1 post/s → one per 1.025 s).
     */
    postSpacingMarginMs: z.number().min(0).default(25),
    /** Tier 3 methods (`chat.update`, `reactions.*`, `chat.delete`, history): requests per minute. */
    tier3PerMinute: z.number().positive().default(50),
    /** Tier 4 methods (file uploads, `files.info`): requests per minute. */
    tier4PerMinute: z.number().positive().default(100),
    /** Per-request timeout of Web API calls. */
    requestTimeoutMs: z.number().int().positive().default(10_000),
    /** Show customers and agents as the author of mirrored messages (needs `chat:write.customize`). */
    customizeAuthor: z.boolean().default(true),
    /** The slash command the app registers (default `/whatsapp`). */
    slashCommand: z
      .string()
      .regex(/^\/[\w-]+$/)
      .default('/whatsapp'),
  })
  .refine((c) => c.teamId !== undefined || c.enterpriseId !== undefined, {
    message: 'teamId (a workspace install) or enterpriseId (an org-wide install) is required',
    path: ['teamId'],
  });

export type SlackConfig = z.output<typeof slackConfigSchema>;
export type SlackConfigInput = z.input<typeof slackConfigSchema>;
export type RouteRule = SlackConfig['routes'][number];
