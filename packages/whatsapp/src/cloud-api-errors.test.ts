import { describe, expect, it } from 'vitest';
import {
  classifyCloudApiError,
  classifyWebhookError,
  META_ERROR_MEANINGS,
  retryAfterFromHeaders,
} from './cloud-api-errors.ts';

const body = (code: number, message = 'm') =>
  JSON.stringify({ error: { message, type: 'OAuthException', code } });

describe('classifyCloudApiError (pure)', () => {
  it('every code the classifier branches on has a meaning and an action for the UI', () => {
    const branched = [0, 1, 2, 4, 190, 368, 80007, 130429, 131000, 131016, 131026, 131031, 131042, 131047];
    branched.push(131048, 131049, 131050, 131056, 131057, 132000, 132001);
    for (const code of branched) {
      expect(META_ERROR_MEANINGS[code]?.meaning, String(code)).toBeTruthy();
      expect(META_ERROR_MEANINGS[code]?.action, String(code)).toBeTruthy();
    }
  });

  it('the code decides before the HTTP status: 131056 arrives as OAuthException on 429 yet is a pair limit', () => {
    const error = classifyCloudApiError(429, body(131056), { 'Retry-After': '2' });
    expect(error.code).toBe('rate_limited');
    expect(error.retryAfterMs).toBe(2000);
    expect(error.details).toMatchObject({ scope: 'recipient', metaCode: 131056, httpStatus: 429 });
  });

  it('accepts parsed bodies, plain-object headers with any case, and error_data as a string', () => {
    const error = classifyCloudApiError(
      400,
      { error: { message: 'Rate limit', code: '130429', error_data: 'Throughput reached', fbtrace_id: 'T' } },
      { 'RETRY-AFTER': ['5'] },
    );
    expect(error.code).toBe('rate_limited');
    expect(error.retryAfterMs).toBe(5000);
    expect(error.details).toMatchObject({
      metaCode: 130429,
      fbtraceId: 'T',
      metaDetails: 'Throughput reached',
    });
  });

  it('keeps the operation and Meta message in the error message', () => {
    const error = classifyCloudApiError(
      400,
      body(131047, 'Re-engagement message'),
      undefined,
      'WhatsApp send text',
    );
    expect(error.message).toBe('WhatsApp send text: Re-engagement message (code 131047)');
  });

  it('without any body, the HTTP status decides', () => {
    expect(classifyCloudApiError(401, undefined).code).toBe('auth_failed');
    expect(classifyCloudApiError(408, undefined).code).toBe('transient');
    expect(classifyCloudApiError(502, 'Bad gateway').code).toBe('transient');
    expect(classifyCloudApiError(429, '').retryAfterMs).toBe(1000);
    expect(classifyCloudApiError(403, '').code).toBe('permanent');
    expect(classifyCloudApiError(302, '').code).toBe('permanent');
  });
});

describe('retryAfterFromHeaders', () => {
  it('reads seconds, HTTP dates, and the usage header in minutes; ignores garbage', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(retryAfterFromHeaders(new Headers({ 'retry-after': '10' }), now)).toBe(10_000);
    expect(retryAfterFromHeaders(new Headers({ 'retry-after': 'Thu, 01 Jan 2026 00:00:30 GMT' }), now)).toBe(
      30_000,
    );
    expect(retryAfterFromHeaders(new Headers({ 'retry-after': 'Wed, 31 Dec 2025 00:00:00 GMT' }), now)).toBe(
      0,
    );
    expect(
      retryAfterFromHeaders(
        new Headers({ 'x-business-use-case-usage': '{"1":[{"estimated_time_to_regain_access":3}]}' }),
        now,
      ),
    ).toBe(180_000);
    expect(
      retryAfterFromHeaders(new Headers({ 'x-business-use-case-usage': '{not json' }), now),
    ).toBeUndefined();
    expect(retryAfterFromHeaders(undefined, now)).toBeUndefined();
  });
});

describe('classifyWebhookError', () => {
  it.each([
    [131047, 'window_closed'],
    [131050, 'opted_out'],
    [131026, 'undeliverable'],
    [130429, 'rate_limited'],
    [131049, 'permanent'],
    [135000, 'permanent'],
  ] as const)('a failed status with %i is %s, like the same code from the API', (code, expected) => {
    const error = classifyWebhookError({ code, title: 't', error_data: { details: 'd' } });
    expect(error.code).toBe(expected);
    expect(classifyCloudApiError(400, body(code)).code).toBe(expected);
    expect(error.details).toMatchObject({ metaCode: code, metaDetails: 'd' });
  });
});
