import { describe, expect, it } from 'vitest';
import { startWebhookRecorder } from './recorder.ts';
import { startServer } from './server.ts';
import { type AttemptReport, WebhookDispatcher } from './webhook-delivery.ts';

describe('WebhookDispatcher', () => {
  it('retries with the configured delays until the receiver answers 2xx, with identical bytes each time', async () => {
    await using receiver = await startWebhookRecorder({ respond: (_r, n) => (n < 2 ? 500 : 200) });
    const reports: AttemptReport[] = [];
    const dispatcher = new WebhookDispatcher({
      retryDelaysMs: [10, 20, 40],
      onAttempt: (r) => reports.push(r),
    });
    const body = '{"emoji":"\\ud83d\\udc4d"}';
    const delivery = dispatcher.deliver({
      url: `${receiver.url}/hook`,
      body,
      headers: (attempt) => ({ 'content-type': 'application/json', 'x-attempt': String(attempt) }),
      label: 'm1',
    });
    expect((await delivery.firstAttempt).status).toBe(500);
    const result = await delivery.done;
    expect(result.outcome).toBe('acknowledged');
    expect(reports.map((r) => [r.attempt, r.status, r.ok, r.nextRetryInMs])).toEqual([
      [1, 500, false, 10],
      [2, 500, false, 20],
      [3, 200, true, undefined],
    ]);
    expect(receiver.requests.map((r) => r.text)).toEqual([body, body, body]);
    expect(receiver.requests.map((r) => r.headers['x-attempt'])).toEqual(['1', '2', '3']);
  });

  it('gives up after the last retry', async () => {
    await using receiver = await startWebhookRecorder({ respond: 503 });
    const dispatcher = new WebhookDispatcher({ retryDelaysMs: [5] });
    const result = await dispatcher.deliver({ url: receiver.url, body: 'x', headers: () => ({}) }).done;
    expect(result.outcome).toBe('gave_up');
    expect(result.attempts).toHaveLength(2);
  });

  it('treats a network error and a timeout as failed attempts', async () => {
    const closed = await startServer({ fetch: () => new Response('') });
    const deadUrl = closed.url;
    await closed.close();
    const dispatcher = new WebhookDispatcher({ retryDelaysMs: [], timeoutMs: 50 });
    const refused = await dispatcher.deliver({ url: deadUrl, body: 'x', headers: () => ({}) }).done;
    expect(refused.attempts[0]).toMatchObject({ ok: false, status: undefined });
    expect(refused.attempts[0]?.error).toBeTruthy();

    await using slow = await startServer({ fetch: () => new Promise<Response>(() => {}) });
    const timedOut = await dispatcher.deliver({ url: slow.url, body: 'x', headers: () => ({}) }).done;
    expect(timedOut.attempts[0]?.error).toContain('timed out');
  });

  it('a per-delivery retry schedule overrides the default', async () => {
    await using receiver = await startWebhookRecorder({ respond: 500 });
    const dispatcher = new WebhookDispatcher({ retryDelaysMs: [1, 1, 1] });
    const result = await dispatcher.deliver({
      url: receiver.url,
      body: 'x',
      headers: () => ({}),
      retryDelaysMs: [],
    }).done;
    expect(result.attempts).toHaveLength(1);
  });

  it('close() cancels pending retries and idle() waits for in-flight deliveries', async () => {
    await using receiver = await startWebhookRecorder({ respond: 500 });
    const dispatcher = new WebhookDispatcher({ retryDelaysMs: [60_000] });
    const delivery = dispatcher.deliver({ url: receiver.url, body: 'x', headers: () => ({}) });
    await delivery.firstAttempt;
    expect(dispatcher.pending).toBe(1);
    const started = performance.now();
    await dispatcher.close();
    expect(performance.now() - started).toBeLessThan(1000);
    expect((await delivery.done).outcome).toBe('cancelled');
    await dispatcher.idle();
    expect(dispatcher.pending).toBe(0);
  });
});
