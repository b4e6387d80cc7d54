import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WabridgeError } from '@wabridge/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { downloadSlackFile, fileDownloadPolicy, refuseFileUrl } from './download.ts';

/** A file server standing in for Slack's file host, recording who asked for what with which token. */
let server: Server;
let base: string;
const seen: { path: string; authorization: string | undefined }[] = [];

beforeAll(async () => {
  server = createServer((req: IncomingMessage, res) => {
    seen.push({ path: req.url ?? '', authorization: req.headers.authorization });
    if (req.url === '/files-pri/T1-F1/report.pdf') {
      res.writeHead(200, { 'content-type': 'application/pdf' }).end('%PDF-1.7 report');
    } else if (req.url === '/redirect/same-host') {
      res.writeHead(302, { location: '/files-pri/T1-F1/report.pdf' }).end();
    } else if (req.url === '/redirect/elsewhere') {
      res.writeHead(302, { location: 'http://attacker.example:8080/steal' }).end();
    } else if (req.url === '/redirect/loop') {
      res.writeHead(302, { location: '/redirect/loop' }).end();
    } else if (req.url === '/big/declared') {
      res.writeHead(200, { 'content-length': '2048' }).end('x'.repeat(2048));
    } else if (req.url === '/big/chunked') {
      res.writeHead(200, { 'transfer-encoding': 'chunked' });
      for (let i = 0; i < 8; i++) res.write('y'.repeat(512));
      res.end();
    } else {
      res.writeHead(404).end();
    }
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => {
  server.close();
});

const signal = () => AbortSignal.timeout(10_000);
const policy = () => ({ ...fileDownloadPolicy(`${base}/api/`), maxBytes: 1024 });

async function refusal(promise: Promise<unknown>): Promise<WabridgeError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(WabridgeError);
  return error as WabridgeError;
}

describe('which file URLs may carry the bot token', () => {
  const production = fileDownloadPolicy('https://slack.com/api/');

  it("allows Slack's file hosts over https on their own port", () => {
    expect(refuseFileUrl('https://files.slack.com/files-pri/T1-F1/download/a.pdf', production)).toBeNull();
    expect(refuseFileUrl('https://files.slack-gov.com/files-pri/T1-F1/a.pdf', production)).toBeNull();
  });

  it.each([
    ['http://files.slack.com/files-pri/T1-F1/a.pdf', /scheme http:/],
    ['https://files.slack.com:8443/a.pdf', /not Slack's/],
    ['https://files.slack.com.attacker.example/a.pdf', /not Slack's/],
    ['https://169.254.169.254/latest/meta-data/', /not Slack's/],
    ['https://user:pw@files.slack.com/a.pdf', /credentials/],
    ['file:///etc/passwd', /scheme file:/],
    ['not a url', /not a valid absolute URL/],
  ])('refuses %s', (url, reason) => {
    expect(refuseFileUrl(url, production)).toMatch(reason);
  });

  it('allows plain http only on the configured API host when that host is http (the emulator)', () => {
    const local = fileDownloadPolicy('http://127.0.0.1:4100/api/');
    expect(refuseFileUrl('http://127.0.0.1:4100/files-pri/T1-F1/a.pdf', local)).toBeNull();
    expect(refuseFileUrl('http://127.0.0.1:4101/files-pri/T1-F1/a.pdf', local)).toMatch(/not Slack's/);
  });
});

describe('downloading a file', () => {
  it('downloads from the file host with the bot token', async () => {
    seen.length = 0;
    const bytes = await downloadSlackFile(
      `${base}/files-pri/T1-F1/report.pdf`,
      'xoxb-token',
      policy(),
      signal(),
    );
    expect(Buffer.from(bytes).toString()).toBe('%PDF-1.7 report');
    expect(seen).toEqual([{ path: '/files-pri/T1-F1/report.pdf', authorization: 'Bearer xoxb-token' }]);
  });

  it('follows a redirect on an allowed host', async () => {
    const bytes = await downloadSlackFile(`${base}/redirect/same-host`, 'xoxb-token', policy(), signal());
    expect(Buffer.from(bytes).toString()).toBe('%PDF-1.7 report');
  });

  it('never sends the token to a host that is not Slack', async () => {
    seen.length = 0;
    const error = await refusal(
      downloadSlackFile('https://attacker.example/x', 'xoxb-token', policy(), signal()),
    );
    expect(error.code).toBe('permanent');
    expect(error.message).toMatch(/not Slack's/);
    expect(seen).toEqual([]);
  });

  it('refuses a redirect to another host without following it', async () => {
    const error = await refusal(
      downloadSlackFile(`${base}/redirect/elsewhere`, 'xoxb-token', policy(), signal()),
    );
    expect(error.message).toMatch(/attacker\.example:8080 is not Slack's/);
  });

  it('stops after three redirects', async () => {
    const error = await refusal(downloadSlackFile(`${base}/redirect/loop`, 'xoxb-token', policy(), signal()));
    expect(error.message).toMatch(/more than 3 redirects/);
  });

  it('refuses a file whose declared size is over the limit, and one that only turns out to be', async () => {
    for (const path of ['/big/declared', '/big/chunked']) {
      const error = await refusal(downloadSlackFile(`${base}${path}`, 'xoxb-token', policy(), signal()));
      expect(error.code).toBe('permanent');
      expect(error.message).toMatch(/larger than 1024 bytes/);
    }
  });

  it('a missing file is permanent', async () => {
    const error = await refusal(
      downloadSlackFile(`${base}/files-pri/none`, 'xoxb-token', policy(), signal()),
    );
    expect(error.code).toBe('permanent');
    expect(error.message).toMatch(/HTTP 404/);
  });
});
