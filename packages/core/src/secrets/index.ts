import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { WabridgeError } from '../errors/index.ts';

/**
 * Encrypts connector secrets at rest with AES-256-GCM under a master key from the environment.
 * Ciphertexts name the key that made them (`v1.<key id>.<iv>.<tag>.<data>`), so a key can be
 * rotated: decrypt with any known key, re-encrypt with the current one (`wabridge secrets rotate`).
 */
export interface SecretBox {
  readonly keyId: string;
  encrypt(plaintext: string): string;
  decrypt(ciphertext: string): string;
  /** True when the ciphertext was made with an older key. */
  needsRotation(ciphertext: string): boolean;
}

/** Reads a 32-byte key given as 64 hex characters or base64 (standard or url-safe). */
export function parseMasterKey(text: string, name = 'WABRIDGE_MASTER_KEY'): Buffer {
  const trimmed = text.trim();
  const key = /^[0-9a-fA-F]{64}$/.test(trimmed)
    ? Buffer.from(trimmed, 'hex')
    : Buffer.from(trimmed, 'base64');
  if (key.length !== 32) {
    throw new WabridgeError(
      'config_invalid',
      `${name} must be 32 bytes, as 64 hex characters or base64 (generate one with: openssl rand -base64 32)`,
    );
  }
  return key;
}

export function generateMasterKey(): string {
  return randomBytes(32).toString('base64');
}

const keyIdOf = (key: Buffer): string => createHash('sha256').update(key).digest('hex').slice(0, 8);

export function createSecretBox(current: Buffer, previous: readonly Buffer[] = []): SecretBox {
  const keys = new Map<string, Buffer>();
  for (const key of [current, ...previous]) keys.set(keyIdOf(key), key);
  const keyId = keyIdOf(current);
  return {
    keyId,
    encrypt(plaintext) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', current, iv);
      // The key id is bound as associated data, so a ciphertext cannot be relabelled.
      cipher.setAAD(Buffer.from(`v1.${keyId}`));
      const data = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      return [
        'v1',
        keyId,
        iv.toString('base64url'),
        cipher.getAuthTag().toString('base64url'),
        data.toString('base64url'),
      ].join('.');
    },
    decrypt(ciphertext) {
      const [version, id, iv, tag, data] = ciphertext.split('.');
      if (version !== 'v1' || !id || !iv || !tag || data === undefined) {
        throw new WabridgeError('config_invalid', 'stored secret is not in the v1 format');
      }
      const key = keys.get(id);
      if (!key) {
        throw new WabridgeError(
          'config_invalid',
          `stored secret was encrypted with key ${id}, which is not configured (set WABRIDGE_MASTER_KEY_PREVIOUS)`,
        );
      }
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
        decipher.setAAD(Buffer.from(`v1.${id}`));
        decipher.setAuthTag(Buffer.from(tag, 'base64url'));
        return Buffer.concat([decipher.update(Buffer.from(data, 'base64url')), decipher.final()]).toString(
          'utf8',
        );
      } catch (error) {
        throw new WabridgeError(
          'config_invalid',
          'stored secret failed authentication (wrong key or tampered data)',
          { cause: error },
        );
      }
    },
    needsRotation: (ciphertext) => ciphertext.split('.')[1] !== keyId,
  };
}
