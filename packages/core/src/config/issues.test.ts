import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { configFileSchema } from '../workspace/admin.ts';
import { describeIssues, unknownKeys } from './issues.ts';

describe('describeIssues', () => {
  it('names a misspelled key and the nearest valid one, in one line', () => {
    const result = configFileSchema.safeParse({
      workspaces: [{ id: 'acme', name: 'Acme', phoneNumber: [] }],
    });
    expect(result.success).toBe(false);
    expect(describeIssues(configFileSchema, result.error?.issues ?? [])).toBe(
      'workspaces[0]: unknown key "phoneNumber" (did you mean "phoneNumbers"?)',
    );
  });

  it('says a missing field is required and names where it is', () => {
    const result = configFileSchema.safeParse({ workspaces: [{ id: 'acme' }] });
    expect(describeIssues(configFileSchema, result.error?.issues ?? [])).toBe(
      'workspaces[0].name: is required',
    );
  });
});

describe('unknownKeys', () => {
  const schema = z.object({
    botToken: z.string(),
    routes: z.array(z.object({ channel: z.string() })).default([]),
    tags: z.record(z.string(), z.array(z.string())).default({}),
    pacing: z.union([z.literal(false), z.object({ perSecond: z.number() })]).optional(),
  });

  it('finds keys a stripping schema would drop without a word, at any depth', () => {
    expect(
      unknownKeys(schema, {
        bottoken: 'x',
        routes: [{ chanel: 'C1' }],
        tags: { anything: ['1'] },
        pacing: { perSecnd: 1 },
      }),
    ).toEqual([
      'unknown key "bottoken" (did you mean "botToken"?)',
      'routes[0]: unknown key "chanel" (did you mean "channel"?)',
      'pacing: unknown key "perSecnd" (did you mean "perSecond"?)',
    ]);
    expect(unknownKeys(schema, { botToken: 'x', pacing: false, tags: { vip: [] } })).toEqual([]);
  });
});
