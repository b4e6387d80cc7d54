import { Agent, get as httpGet } from 'node:http';
import { get as httpsGet } from 'node:https';
import type { Socket } from 'node:net';
import { Hono } from 'hono';
import { generate } from 'selfsigned';
import { describe, expect, it } from 'vitest';
import { startServer } from './server.ts';

const app = new Hono().get('/hello', (c) => c.text('hi')).get('/slow', () => new Promise<Response>(() => {}));

function getWithAgent(url: string, agent: Agent): Promise<{ status: number; body: string; socket: Socket }> {
  return new Promise((resolve, reject) => {
    const request = httpGet(url, { agent }, (response) => {
      let body = '';
      response.on('data', (chunk) => {
        body += chunk;
      });
      response.on('end', () =>
        resolve({ status: response.statusCode ?? 0, body, socket: request.socket as Socket }),
      );
    });
    request.on('error', reject);
  });
}

describe('startServer', () => {
  it('serves a Hono app on 127.0.0.1 with an ephemeral port', async () => {
    await using server = await startServer(app);
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(server.port).toBeGreaterThan(0);
    const response = await fetch(`${server.url}/hello`);
    expect(await response.text()).toBe('hi');
  });

  it('close() frees the port so it can be bound again at once', async () => {
    const first = await startServer(app);
    const port = first.port;
    await first.close();
    const second = await startServer(app, { port });
    expect(second.port).toBe(port);
    await second.close();
  });

  it('close() ends idle keep-alive sockets and requests still in flight', async () => {
    const server = await startServer(app);
    const agent = new Agent({ keepAlive: true });
    const { socket } = await getWithAgent(`${server.url}/hello`, agent);
    const socketClosed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    const hanging = new Promise<string>((resolve) => {
      httpGet(`${server.url}/slow`, () => resolve('answered')).on('error', () => resolve('aborted'));
    });
    await new Promise((resolve) => setTimeout(resolve, 20));
    const started = performance.now();
    await server.close();
    expect(performance.now() - started).toBeLessThan(1000);
    await socketClosed;
    expect(await hanging).toBe('aborted');
    agent.destroy();
  });

  it('close() is idempotent', async () => {
    const server = await startServer(app);
    await Promise.all([server.close(), server.close()]);
    await expect(server.close()).resolves.toBeUndefined();
  });

  it('serves HTTPS when given a key and certificate', async () => {
    const pems = await generate([{ name: 'commonName', value: 'localhost' }], {
      keySize: 2048,
      extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }] }],
    });
    await using server = await startServer(app, {
      hostname: 'localhost',
      tls: { key: pems.private, cert: pems.cert },
    });
    expect(server.url).toMatch(/^https:\/\/localhost:\d+$/);
    const body = await new Promise<string>((resolve, reject) => {
      httpsGet(`${server.url}/hello`, { ca: pems.cert }, (response) => {
        let text = '';
        response.on('data', (chunk) => {
          text += chunk;
        });
        response.on('end', () => resolve(text));
      }).on('error', reject);
    });
    expect(body).toBe('hi');
  });
});
