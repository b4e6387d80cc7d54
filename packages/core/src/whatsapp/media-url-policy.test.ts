import { describe, expect, it } from 'vitest';
import { checkMediaUrl, createMediaUrlPolicy, isPrivateAddress } from './media-url-policy.ts';

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

  it('explains a refusal', () => {
    const result = checkMediaUrl('https://example.com/x', production);
    expect(result).toEqual({ ok: false, reason: 'media host example.com is not in the allow-list' });
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
    ['not-an-ip', false],
  ])('%s → %s', (ip, expected) => {
    expect(isPrivateAddress(ip)).toBe(expected);
  });
});
