import { describe, expect, it } from 'vitest';
import {
  formatAttachmentRef,
  parseAttachmentRef,
  parseHostedContentUrl,
  readCapped,
  shareIdOf,
} from './files.ts';

/** A body that arrives in chunks, without Content-Length, and counts how many were pulled. */
function chunked(chunks: number, size: number) {
  let pulled = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (pulled === chunks) return controller.close();
      pulled++;
      controller.enqueue(new Uint8Array(size).fill(pulled));
    },
  });
  return { response: new Response(body), pulled: () => pulled };
}

describe('Teams attachment refs and downloads', () => {
  it('encodes sharing URLs as Graph documents it (u! + unpadded base64url)', () => {
    expect(shareIdOf('https://onedrive.live.com/redir?resid=1231244193912!12&authKey=1201919!12921!1')).toBe(
      'u!aHR0cHM6Ly9vbmVkcml2ZS5saXZlLmNvbS9yZWRpcj9yZXNpZD0xMjMxMjQ0MTkzOTEyITEyJmF1dGhLZXk9MTIwMTkxOSExMjkyMSEx',
    );
    // Bytes that base64 would write with `+`, `/` and `=`.
    expect(shareIdOf('https://x.example/\u00fb\u00ff?')).not.toMatch(/[+/=]/);
  });

  it('reads hostedContents URLs of roots and replies, on Graph hosts only', () => {
    const base = 'https://graph.microsoft.com/v1.0/teams/t1/channels/19:c@thread.tacv2/messages';
    expect(
      parseHostedContentUrl(`${base}/100/replies/200/hostedContents/aWQ9%3D/$value`, ['graph.microsoft.com']),
    ).toEqual({
      teamId: 't1',
      channelId: '19:c@thread.tacv2',
      messageId: '200',
      rootId: '100',
      hostedContentId: 'aWQ9=',
    });
    expect(
      parseHostedContentUrl(`${base}/100/hostedContents/x/$value`, ['graph.microsoft.com']),
    ).toMatchObject({
      messageId: '100',
      rootId: null,
    });
    for (const url of [
      `${base}/100/hostedContents/x/$value`.replace(
        'graph.microsoft.com',
        'graph.microsoft.com.evil.example',
      ),
      `${base}/100/hostedContents/x/$value`.replace('https:', 'http:'),
      `${base}/100/hostedContents/x/$value`.replace('https://', 'https://user:pw@'),
      `${base}/100/hostedContents/x/$value?redirect=1`,
      `${base}/100/hostedContents/x`,
      `${base}/100/../../../../me/drive/root/content`,
      'not a url',
    ]) {
      expect(parseHostedContentUrl(url, ['graph.microsoft.com'])).toBeNull();
    }
  });

  it('round-trips refs and rejects anything else', () => {
    const file = {
      kind: 'file',
      teamId: 't',
      channelId: 'c|x',
      url: 'https://s.example/a|b.pdf',
      name: 'a|b.pdf',
    } as const;
    expect(parseAttachmentRef(formatAttachmentRef(file))).toEqual(file);
    const hosted = { kind: 'hosted', url: 'https://graph.microsoft.com/x', name: 'image-1' } as const;
    expect(parseAttachmentRef(formatAttachmentRef(hosted))).toEqual(hosted);
    for (const ref of [
      'F0123',
      'teams-hosted:',
      'teams-hosted:{"url":1}',
      'teams-file:{"url":"https://a","name":"a"}',
    ]) {
      expect(parseAttachmentRef(ref)).toBeNull();
    }
  });

  it('stops reading a download as soon as it passes the cap, and refuses a declared size over it unread', async () => {
    const small = chunked(3, 1000);
    expect((await readCapped(small.response, 3000, 'the file')).byteLength).toBe(3000);
    const big = chunked(1000, 1000);
    await expect(readCapped(big.response, 4500, 'the file big.pdf')).rejects.toMatchObject({
      code: 'permanent',
      message: expect.stringContaining('the file big.pdf is larger than 4.5 kB'),
    });
    expect(big.pulled()).toBeLessThan(10);
    const declared = chunked(1000, 1000);
    const response = new Response(declared.response.body, { headers: { 'content-length': '1000000' } });
    await expect(readCapped(response, 4500, 'the file')).rejects.toMatchObject({ code: 'permanent' });
    expect(declared.pulled()).toBeLessThanOrEqual(1);
  });
});
