import { connect } from 'node:net';
import { Writable } from 'node:stream';
import { type ServerType, serve } from '@hono/node-server';
import { afterEach, describe, expect, it } from 'vitest';
import { createTestApp } from '../testing/harness.ts';

// Real sockets against the real Node server adapter: an abort mid-body only exists on a
// connection, not in `app.request()`.

type LogLine = { level: number; msg: string; [field: string]: unknown };

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of cleanup.reverse()) await close();
  cleanup = [];
});

async function gateway() {
  const lines: LogLine[] = [];
  const raw: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) {
        raw.push(line);
        lines.push(JSON.parse(line));
      }
      done();
    },
  });
  const t = await createTestApp({ log: { level: 'debug', stream } });
  cleanup.push(() => t.close());
  const server = await new Promise<ServerType>((resolve) => {
    const s = serve({ fetch: t.app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s));
  });
  cleanup.push(
    () =>
      new Promise<void>((resolve) => {
        (server as unknown as { closeAllConnections(): void }).closeAllConnections();
        server.close(() => resolve());
      }),
  );
  const { port } = server.address() as { port: number };
  return { t, port, lines, raw };
}

/** Sends the head and half of a declared body, then drops the connection. */
function sendHalfAndAbort(port: number, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.write(
        `POST ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: 2000\r\n\r\n`,
      );
      socket.write('{"object":"whatsapp_business_account","entry":[', () => {
        // Give the server the head and the first bytes before the connection goes.
        setImmediate(() => {
          socket.destroy();
          resolve();
        });
      });
    });
    socket.on('error', reject);
  });
}

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);

    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('a client that aborts mid-body', () => {
  it('is logged as one debug line without a stack, never as an error (no log flooding)', async () => {
    const path = '/webhooks/whatsapp';
    const { port, lines, raw } = await gateway();
    await sendHalfAndAbort(port, path);
    await until(
      () => lines.some((line) => line.msg === 'client closed the connection before its request body arrived'),
      'the abort to be logged',
    );
    const record = lines.find(
      (line) => line.msg === 'client closed the connection before its request body arrived',
    );
    expect(record).toMatchObject({ level: 20, path, code: 'client_aborted' });
    expect(lines.filter((line) => line.msg === record?.msg)).toHaveLength(1);
    expect(lines.filter((line) => line.level >= 40)).toEqual([]);
    expect(raw.filter((line) => line.includes('"stack"'))).toEqual([]);
  }, 180_000);
});
