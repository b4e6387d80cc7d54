import { createHmac } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { customerMessage } from '@wabridge/whatsapp/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { startTestGateway, TEST_APP_SECRET } from '../testing/harness.ts';

/**
 * The gateway under load it must refuse: bodies nobody has authenticated yet, stalled clients and
 * a store another process has locked. Every refusal is a 503 with Retry-After (platforms retry),
 * and every place taken is given back.
 */
type Gateway = Awaited<ReturnType<typeof startTestGateway>>;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function signedWebhook(wamid: string) {
  const body = JSON.stringify(customerMessage(wamid, { type: 'text', text: { body: 'hello' } }));
  return {
    method: 'POST',
    body,
    headers: {
      'content-type': 'application/json',
      'x-hub-signature-256': `sha256=${createHmac('sha256', TEST_APP_SECRET).update(body).digest('hex')}`,
    },
  };
}

/** A client that sends headers declaring `declared` bytes and a few of them, then stalls. */
function stalledBody(url: string, declared: number) {
  const { port } = new URL(url);
  const client = { status: null as number | null, closed: false, socket: null as Socket | null };
  const socket = connect(Number(port), '127.0.0.1');
  client.socket = socket;
  socket.on('data', (chunk: Buffer) => {
    client.status ??= Number(/^HTTP\/1\.1 (\d{3})/.exec(chunk.toString('latin1'))?.[1] ?? 0);
  });
  socket.on('error', () => {});
  socket.on('close', () => {
    client.closed = true;
  });
  socket.write(
    `POST /webhooks/whatsapp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${declared}\r\n\r\n{"object":`,
  );
  return client;
}

async function until(condition: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

describe('overload', () => {
  let gateway: Gateway | null = null;
  afterEach(async () => {
    await gateway?.close();
    gateway = null;
  });

  it('a body beyond the unverified-body cap gets 503 with Retry-After and Connection: close, and a place is given back when a stalled client goes away', async () => {
    gateway = await startTestGateway({ worker: false, env: { WEBHOOK_UNVERIFIED_MAX: '2' } });
    const url = gateway.webhookUrl;
    const stalled = [stalledBody(url, 1000), stalledBody(url, 1000)];
    // Both admitted: wait until the gate holds them (a third body is refused from then on).
    const answers: Response[] = [];
    await until(async () => {
      const response = await fetch(url, signedWebhook('wamid.overload.1'));
      answers.push(response);
      return response.status === 503;
    }, 'the gate to fill');
    const answer = answers.at(-1) as Response;
    expect(answer.headers.get('retry-after')).toBe('5');
    expect(answer.headers.get('connection')).toBe('close');
    expect(await answer.json()).toMatchObject({ error: { code: 'overloaded' } });

    stalled[0]?.socket?.destroy();
    await until(async () => (await fetch(url, signedWebhook('wamid.overload.1'))).status === 200, 'a 200');
    for (const client of stalled) client.socket?.destroy();
  }, 120_000);

  it('a stalled body is cut off with 408 by the request timeout, and its place in the gate is given back', async () => {
    gateway = await startTestGateway({
      worker: false,
      env: { WEBHOOK_UNVERIFIED_MAX: '1', HTTP_HEADERS_TIMEOUT_MS: '1000', HTTP_REQUEST_TIMEOUT_MS: '1000' },
    });
    const client = stalledBody(gateway.webhookUrl, 1000);
    await until(() => client.closed, 'the server to close the stalled connection');
    expect(client.status).toBe(408);
    const response = await fetch(gateway.webhookUrl, signedWebhook('wamid.overload.2'));
    expect(response.status).toBe(200);
  }, 120_000);

  it('while another connection holds the write lock, a signed webhook gets 503 store_busy with Retry-After and /readyz is 503; after it, the retry is acknowledged', async () => {
    gateway = await startTestGateway({ worker: false, env: { WEBHOOK_STORE_TIMEOUT_MS: '300' } });
    const lock = new DatabaseSync(join(gateway.dir, 'wabridge.db'), { timeout: 10_000 });
    try {
      lock.exec('BEGIN IMMEDIATE');
      const busy = await fetch(gateway.webhookUrl, signedWebhook('wamid.overload.3'));
      expect(busy.status).toBe(503);
      expect(busy.headers.get('retry-after')).toBe('5');
      expect(await busy.json()).toMatchObject({ error: { code: 'store_busy' } });
      const url = gateway.url;
      await until(async () => (await fetch(`${url}/readyz`)).status === 503, '/readyz to say not ready');
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
    } finally {
      lock.exec('COMMIT');
      lock.close();
    }
    const url = gateway.url;
    await until(async () => (await fetch(`${url}/readyz`)).status === 200, '/readyz to be ready again');
    await until(
      async () => (await fetch(gateway?.webhookUrl ?? '', signedWebhook('wamid.overload.3'))).status === 200,
      'the retry to be acknowledged',
    );
  }, 120_000);
});
