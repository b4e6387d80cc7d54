import { describe, expect, it } from 'vitest';
import { createSecretBox, generateMasterKey, parseMasterKey } from './index.ts';

const key = (fill: number) => Buffer.alloc(32, fill);

describe('secret box', () => {
  it('round-trips, and never produces the same ciphertext twice', () => {
    const box = createSecretBox(key(1));
    const a = box.encrypt('xoxb-secret');
    const b = box.encrypt('xoxb-secret');
    expect(a).not.toBe(b);
    expect(a).not.toContain('xoxb');
    expect(box.decrypt(a)).toBe('xoxb-secret');
  });

  it('refuses tampered data, a relabelled key id, and an unknown key', () => {
    const box = createSecretBox(key(1));
    const sealed = box.encrypt('value');
    const parts = sealed.split('.');
    const flipped = [...parts.slice(0, 4), `${parts[4]?.slice(0, -2)}AA`].join('.');
    expect(() => box.decrypt(flipped)).toThrow(/failed authentication/);
    const other = createSecretBox(key(2));
    expect(() => other.decrypt(sealed)).toThrow(/not configured/);
    const relabelled = [parts[0], other.keyId, ...parts.slice(2)].join('.');
    expect(() => other.decrypt(relabelled)).toThrow(/failed authentication/);
  });

  it('rotates: the new key reads old ciphertexts while the old one is listed as previous', () => {
    const old = createSecretBox(key(1));
    const sealed = old.encrypt('value');
    const rotated = createSecretBox(key(2), [key(1)]);
    expect(rotated.needsRotation(sealed)).toBe(true);
    expect(rotated.decrypt(sealed)).toBe('value');
    expect(rotated.needsRotation(rotated.encrypt('value'))).toBe(false);
  });

  it('accepts 32-byte keys as hex or base64 and explains how to make one', () => {
    expect(parseMasterKey(generateMasterKey())).toHaveLength(32);
    expect(parseMasterKey('ab'.repeat(32))).toHaveLength(32);
    expect(() => parseMasterKey('too-short')).toThrow(/openssl rand -base64 32/);
  });
});
