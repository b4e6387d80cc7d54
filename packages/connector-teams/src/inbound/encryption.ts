import {
  constants,
  createDecipheriv,
  createHmac,
  createPrivateKey,
  createPublicKey,
  type JsonWebKey,
  type KeyObject,
  privateDecrypt,
  timingSafeEqual,
  verify,
  X509Certificate,
} from 'node:crypto';
import { WabridgeError } from '@wabridge/core';

export interface EncryptedContent {
  data: string;
  dataKey: string;
  dataSignature: string;
  encryptionCertificateId: string;
  encryptionCertificateThumbprint?: string;
}

/** The certificate as Graph wants it on a subscription: base64 DER, no PEM armour. */
export function certificateForSubscription(pem: string): string {
  return Buffer.from(new X509Certificate(pem).raw).toString('base64');
}

/**
 * Decrypts a notification's resource data: the symmetric key is RSA-OAEP (SHA-1) wrapped with our
 * certificate; the ciphertext's HMAC-SHA256 under that key must match `dataSignature` (checked in
 * constant time before decrypting); the data is AES-CBC with PKCS7 and the key's first 16 bytes as IV.
 */
export function decryptResource(content: EncryptedContent, privateKey: KeyObject): unknown {
  const key = privateDecrypt(
    { key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' },
    Buffer.from(content.dataKey, 'base64'),
  );
  const data = Buffer.from(content.data, 'base64');
  const expected = createHmac('sha256', key).update(data).digest();
  const given = Buffer.from(content.dataSignature, 'base64');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw new WabridgeError('unauthorized', 'encrypted notification content has a wrong signature');
  }
  const algorithm = key.length === 16 ? 'aes-128-cbc' : key.length === 24 ? 'aes-192-cbc' : 'aes-256-cbc';
  const decipher = createDecipheriv(algorithm, key, key.subarray(0, 16));
  const plain = Buffer.concat([decipher.update(data), decipher.final()]).toString('utf8');
  return JSON.parse(plain) as unknown;
}

export function loadPrivateKey(pem: string): KeyObject {
  return createPrivateKey(pem);
}

/** Graph's change-notification service: the `azp` of its validation tokens. */
const GRAPH_NOTIFICATION_APP_ID = '0bf30f3b-4a52-48df-9a82-234910c4a086';
const KEYS_TTL_MS = 3600_000;

/**
 * Verifies the `validationTokens` Graph adds to notifications with resource data (RS256 JWTs):
 * signed by a key of the identity platform's JWKS, for our app (`aud`), from our tenant (`iss`),
 * issued to Graph's notification service (`azp`), not expired. Without this anyone holding our
 * public certificate could forge encrypted content.
 */
export class ValidationTokenVerifier {
  private readonly keysUrl: string;
  private readonly clientId: string;
  private readonly tenantId: string;
  private readonly now: () => number;
  private keys: { at: number; byKid: Map<string, KeyObject> } | null = null;

  constructor(options: { keysUrl: string; clientId: string; tenantId: string; now: () => number }) {
    this.keysUrl = options.keysUrl;
    this.clientId = options.clientId;
    this.tenantId = options.tenantId;
    this.now = options.now;
  }

  async verifyAll(tokens: readonly string[], signal?: AbortSignal): Promise<boolean> {
    if (tokens.length === 0) return false;
    for (const token of tokens) if (!(await this.verify(token, signal))) return false;
    return true;
  }

  private async verify(token: string, signal?: AbortSignal): Promise<boolean> {
    const [head, body, signature] = token.split('.');
    if (!head || !body || !signature) return false;
    let header: { alg?: string; kid?: string };
    let claims: Record<string, unknown>;
    try {
      header = JSON.parse(Buffer.from(head, 'base64url').toString('utf8'));
      claims = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
    } catch {
      return false;
    }
    if (header.alg !== 'RS256' || !header.kid) return false;
    let key = (await this.keySet(false, signal)).get(header.kid);
    if (!key) key = (await this.keySet(true, signal)).get(header.kid); // keys roll over
    if (!key) return false;
    const valid = verify('sha256', Buffer.from(`${head}.${body}`), key, Buffer.from(signature, 'base64url'));
    if (!valid) return false;
    const seconds = this.now() / 1000;
    const issuer = typeof claims.iss === 'string' ? claims.iss : '';
    return (
      claims.aud === this.clientId &&
      (issuer === `https://sts.windows.net/${this.tenantId}/` || issuer.includes(`/${this.tenantId}/`)) &&
      claims.azp === GRAPH_NOTIFICATION_APP_ID &&
      typeof claims.exp === 'number' &&
      claims.exp > seconds - 300 &&
      (typeof claims.nbf !== 'number' || claims.nbf < seconds + 300)
    );
  }

  private async keySet(refresh: boolean, signal?: AbortSignal): Promise<Map<string, KeyObject>> {
    if (this.keys && !refresh && this.now() - this.keys.at < KEYS_TTL_MS) return this.keys.byKid;
    const response = await fetch(this.keysUrl, { signal: signal ?? null });
    if (!response.ok) {
      throw new WabridgeError(
        'transient',
        `could not read the notification signing keys (${response.status})`,
      );
    }
    const json = (await response.json()) as { keys?: Array<JsonWebKey & { kid?: string }> };
    const byKid = new Map<string, KeyObject>();
    for (const jwk of json.keys ?? []) {
      if (jwk.kid && jwk.kty === 'RSA') byKid.set(jwk.kid, createPublicKey({ key: jwk, format: 'jwk' }));
    }
    this.keys = { at: this.now(), byKid };
    return byKid;
  }
}
