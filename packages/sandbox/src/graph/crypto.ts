/**
 * The cryptography of Graph change notifications with resource data, emulator side:
 * - `encryptResource`: Graph encrypts each notification's resource with a fresh AES-256 key
 *   (CBC, PKCS7, IV = the key's first 16 bytes), signs the ciphertext with HMAC-SHA256 under the
 *   same key, and wraps the key with the subscriber's certificate using RSA-OAEP (SHA-1).
 * - `signJwt`: the `validationTokens` Graph adds to notifications with resource data, RS256 JWTs
 *   the subscriber can verify with the keys published at the JWKS endpoint.
 */
import {
  constants,
  createCipheriv,
  createHash,
  createHmac,
  generateKeyPairSync,
  type KeyObject,
  publicEncrypt,
  randomBytes,
  sign,
  X509Certificate,
} from 'node:crypto';

export interface EncryptedContent {
  data: string;
  dataKey: string;
  dataSignature: string;
  encryptionCertificateId: string;
  encryptionCertificateThumbprint: string;
}

/** Encrypts `resource` for the holder of the certificate (base64 DER, as given on the subscription). */
export function encryptResource(
  resource: unknown,
  certificateBase64: string,
  certificateId: string,
): EncryptedContent {
  const certificate = new X509Certificate(Buffer.from(certificateBase64, 'base64'));
  const key = randomBytes(32);
  const cipher = createCipheriv('aes-256-cbc', key, key.subarray(0, 16));
  const data = Buffer.concat([cipher.update(JSON.stringify(resource), 'utf8'), cipher.final()]);
  const dataKey = publicEncrypt(
    { key: certificate.publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' },
    key,
  );
  return {
    data: data.toString('base64'),
    dataKey: dataKey.toString('base64'),
    dataSignature: createHmac('sha256', key).update(data).digest('base64'),
    encryptionCertificateId: certificateId,
    encryptionCertificateThumbprint: createHash('sha1').update(certificate.raw).digest('hex').toUpperCase(),
  };
}

/** An RSA signing key with its JWK (for the emulator's JWKS endpoint). */
export interface SigningKey {
  kid: string;
  privateKey: KeyObject;
  jwk: Record<string, unknown>;
}

export function createSigningKey(): SigningKey {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const kid = createHash('sha256')
    .update(publicKey.export({ type: 'spki', format: 'der' }))
    .digest('base64url')
    .slice(0, 16);
  const jwk = { ...publicKey.export({ format: 'jwk' }), kid, use: 'sig', alg: 'RS256', kty: 'RSA' };
  return { kid, privateKey, jwk };
}

/** A compact RS256 JWT. */
export function signJwt(payload: Record<string, unknown>, key: SigningKey): string {
  const header = Buffer.from(JSON.stringify({ alg: 'RS256', typ: 'JWT', kid: key.kid })).toString(
    'base64url',
  );
  const body = Buffer.from(JSON.stringify(payload)).toString('base64url');
  const signature = sign('sha256', Buffer.from(`${header}.${body}`), key.privateKey).toString('base64url');
  return `${header}.${body}.${signature}`;
}

/** An unsigned JWT (`alg: none`), the shape of the id tokens the emulator hands to MSAL. */
export function unsignedJwt(payload: Record<string, unknown>): string {
  const header = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url');
  return `${header}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.`;
}
