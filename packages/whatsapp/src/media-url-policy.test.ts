import { describe, expect, it } from 'vitest';
import {
  checkMediaUrl,
  createMediaUrlPolicy,
  isPrivateAddress,
  resolveMediaHost,
} from './media-url-policy.ts';

const production = createMediaUrlPolicy('https://graph.facebook.com');
const emulator = createMediaUrlPolicy('http://127.0.0.1:4010');

const verdict = (url: string, policy = production) => checkMediaUrl(url, policy).ok;

describe('checkMediaUrl', () => {
  it("allows Meta's media hosts over https", () => {
    expect(verdict('https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1')).toBe(true);
    expect(verdict('https://scontent.xx.fbsbx.com/v/file')).toBe(true);
    expect(verdict('https://scontent-ams2-1.xx.fbcdn.net/v/t45/image.jpg')).toBe(true);
    expect(verdict('https://graph.facebook.com/v23.0/123/media')).toBe(true);
  });

  it('requires https when the API base is https', () => {
    expect(verdict('http://lookaside.fbsbx.com/x')).toBe(false);
    expect(verdict('ftp://lookaside.fbsbx.com/x')).toBe(false);
    expect(verdict('file:///etc/passwd')).toBe(false);
  });

  it('rejects look-alike and unlisted hosts', () => {
    for (const url of [
      'https://fbsbx.com.evil.example/x',
      'https://evilfbsbx.com/x',
      'https://fbcdn.net.attacker.test/x',
      'https://example.com/x',
      'https://8.8.8.8/x',
    ]) {
      expect(verdict(url), url).toBe(false);
    }
  });

  it('rejects URLs carrying credentials', () => {
    expect(verdict('https://user:pass@lookaside.fbsbx.com/x')).toBe(false);
  });

  it('rejects private, loopback and link-local IP literals even when allow-listed', () => {
    const permissive = createMediaUrlPolicy('https://graph.facebook.com', [
      '10.0.0.1',
      '127.0.0.1',
      '169.254.169.254',
      '[::1]',
      '[fd00::1]',
      '[::ffff:7f00:1]',
      '203.0.113.9',
    ]);
    for (const url of [
      'https://10.0.0.1/x',
      'https://127.0.0.1/x',
      'https://169.254.169.254/latest/meta-data/',
      'https://[::1]/x',
      'https://[fd00::1]/x',
      'https://[::ffff:127.0.0.1]/x',
      'https://2130706433/x', // 127.0.0.1 in decimal, normalised by the URL parser
    ]) {
      expect(verdict(url, permissive), url).toBe(false);
    }
  });

  it('allows an allow-listed public IP literal', () => {
    const policy = createMediaUrlPolicy('https://graph.facebook.com', ['93.184.216.34']);
    expect(verdict('https://93.184.216.34/file', policy)).toBe(true);
  });

  it('against the local emulator: allows http to the base host and port only', () => {
    expect(verdict('http://127.0.0.1:4010/media/1', emulator)).toBe(true);
    expect(verdict('http://127.0.0.1:6379/', emulator)).toBe(false);
    expect(verdict('http://127.0.0.2:4010/', emulator)).toBe(false);
    expect(verdict('http://lookaside.fbsbx.com/x', emulator)).toBe(true);
  });

  it('host:port entries match only that port; dot entries match subdomains only', () => {
    const policy = createMediaUrlPolicy('https://graph.facebook.com', ['media.corp.test:8443', '.cdn.test']);
    expect(verdict('https://media.corp.test:8443/x', policy)).toBe(true);
    expect(verdict('https://media.corp.test/x', policy)).toBe(false);
    expect(verdict('https://a.cdn.test/x', policy)).toBe(true);
    expect(verdict('https://cdn.test/x', policy)).toBe(false);
  });

  it("wildcard and bare-host entries allow only the scheme's own port", () => {
    expect(verdict('https://scontent.xx.fbcdn.net:443/x')).toBe(true); // 443 is the default, written as none
    expect(verdict('https://scontent.xx.fbcdn.net:8443/x')).toBe(false);
    expect(verdict('https://lookaside.fbsbx.com:444/x')).toBe(false);
    expect(verdict('https://scontent.xx.fbsbx.com:6379/x')).toBe(false);
  });

  it('admits private IP literals only with the explicit private-network option, and only allow-listed', () => {
    const local = createMediaUrlPolicy('https://graph.facebook.com', ['10.0.0.5:9000'], {
      allowPrivateNetwork: true,
    });
    expect(verdict('https://10.0.0.5:9000/x', local)).toBe(true);
    expect(verdict('https://10.0.0.6:9000/x', local)).toBe(false);
    expect(
      verdict(
        'https://10.0.0.5:9000/x',
        createMediaUrlPolicy('https://graph.facebook.com', ['10.0.0.5:9000']),
      ),
    ).toBe(false);
  });

  it('explains a refusal', () => {
    const result = checkMediaUrl('https://example.com/x', production);
    expect(result).toEqual({ ok: false, reason: 'media host example.com is not in the allow-list' });
  });
});

describe('resolveMediaHost', () => {
  const answer =
    (...addresses: string[]) =>
    async () =>
      addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  const url = new URL('https://lookaside.fbsbx.com/x');

  it('answers the first address when every address is public', async () => {
    expect(await resolveMediaHost(url, production, answer('157.240.1.1', '2a03:2880::1'))).toEqual({
      ok: true,
      address: '157.240.1.1',
      family: 4,
    });
  });

  it('refuses the name when any address is not public, and says which', async () => {
    expect(await resolveMediaHost(url, production, answer('157.240.1.1', '127.0.0.1'))).toEqual({
      ok: false,
      reason:
        'media host lookaside.fbsbx.com resolves to 127.0.0.1, a private, loopback or link-local address',
    });
    expect((await resolveMediaHost(url, production, answer())).ok).toBe(false);
  });

  it('lets a private answer through only with the private-network option', async () => {
    const local = createMediaUrlPolicy('https://graph.facebook.com', undefined, {
      allowPrivateNetwork: true,
    });
    expect(await resolveMediaHost(url, local, answer('10.1.1.1'))).toMatchObject({
      ok: true,
      address: '10.1.1.1',
    });
  });

  it('does not resolve an IP literal', async () => {
    const never = async () => {
      throw new Error('resolved');
    };
    expect(await resolveMediaHost(new URL('https://[2a03:2880::1]/x'), production, never)).toEqual({
      ok: true,
      address: '2a03:2880::1',
      family: 6,
    });
  });
});

describe('isPrivateAddress', () => {
  it.each([
    ['10.1.2.3', true],
    ['172.31.255.255', true],
    ['172.32.0.1', false],
    ['192.168.1.1', true],
    ['100.64.0.1', true],
    ['0.0.0.0', true],
    ['8.8.8.8', false],
    ['::', true],
    ['fe80::1', true],
    ['2606:4700::1111', false],
    ['::ffff:10.0.0.1', true],
    ['::ffff:8.8.8.8', false],
    ['::127.0.0.1', true], // IPv4-compatible IPv6
    ['::1', true],
    ['192.88.99.1', true],
    ['224.0.0.1', true],
    ['ff02::1', true],
    ['fd00::1', true],
    ['100.127.255.254', true],
    ['100.128.0.1', false],
    ['not-an-ip', false],
  ])('%s → %s', (ip, expected) => {
    expect(isPrivateAddress(ip)).toBe(expected);
  });
});
