import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  sign,
  verify,
} from 'node:crypto';
import { WabridgeError } from '../../errors/index.ts';

// Signed notes as C2SP specifies them (https://c2sp.org/signed-note), with Ed25519 keys from
// node:crypto: a text ending in a newline, a blank line, then one line per signature,
// "— <key name> <base64(4-byte key id ‖ signature)>". Key strings use the format of Go's
// golang.org/x/mod/sumdb/note, so keys and notes interoperate with the transparency-log ecosystem.

/** Signature type byte for Ed25519 (C2SP signed-note, "Signature types"). */
const ED25519 = 0x01;
const SIGNATURE_PREFIX = '— ';
/** Verifiers must accept 16 signatures; Go's note package stops at 100. */
const MAX_SIGNATURES = 100;
const MAX_NOTE_BYTES = 1024 * 1024;
// PKCS #8 and SPKI DER headers of an Ed25519 key (RFC 8410), followed by the 32 key bytes.
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

export interface NoteSigner {
  readonly name: string;
  /** The key id: the first 4 bytes of SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key), as a uint32. */
  readonly keyId: number;
  sign(text: Uint8Array): Uint8Array;
}

export interface NoteVerifier {
  readonly name: string;
  readonly keyId: number;
  /** The key in the note verifier-key format, `<name>+<key id hex>+<base64(0x01 ‖ public key)>`. */
  readonly verifierKey: string;
  verify(text: Uint8Array, signature: Uint8Array): boolean;
}

/** A new Ed25519 log key, in the forms a log and its verifiers need. */
export interface LogKeyPair {
  readonly name: string;
  /** Secret. `PRIVATE+KEY+<name>+<key id hex>+<base64(0x01 ‖ seed)>`, as Go's note.GenerateKey writes it. */
  readonly signerKey: string;
  /** Secret. The same key as PKCS #8 PEM. */
  readonly privateKeyPem: string;
  /** Public. What `wabridge archive verify` is given: `<name>+<key id hex>+<base64(0x01 ‖ public key)>`. */
  readonly verifierKey: string;
  /** Public. The same key as SPKI PEM, for tools that speak PEM (openssl, a regulator's auditors). */
  readonly publicKeyPem: string;
}

/** Generates an Ed25519 key named `name` (e.g. the log's origin, `wabridge.example.com/archive/acme`). */
export function generateLogKey(name: string): LogKeyPair {
  checkKeyName(name);
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const seed = rawPrivate(privateKey);
  const raw = rawPublic(publicKey);
  const id = keyIdHex(keyIdOf(name, raw));
  return {
    name,
    signerKey: `PRIVATE+KEY+${name}+${id}+${typed(seed)}`,
    privateKeyPem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    verifierKey: `${name}+${id}+${typed(raw)}`,
    publicKeyPem: publicKey.export({ format: 'pem', type: 'spki' }).toString(),
  };
}

/** A signer from a signer key string (`PRIVATE+KEY+…`) or from a PKCS #8 PEM key and a name. */
export function noteSigner(key: string, name?: string): NoteSigner {
  let privateKey: KeyObject;
  let keyName: string;
  if (key.startsWith('PRIVATE+KEY+')) {
    const [signerName, id, material] = splitKey(key.slice('PRIVATE+KEY+'.length), 'signer key');
    privateKey = createPrivateKey({
      key: Buffer.concat([PKCS8_PREFIX, untyped(material, 'signer key')]),
      format: 'der',
      type: 'pkcs8',
    });
    keyName = signerName;
    if (name !== undefined && name !== signerName) {
      throw new WabridgeError('config_invalid', `the signer key is named ${signerName}, not ${name}`);
    }
    if (id !== keyIdHex(keyIdOf(signerName, rawPublic(createPublicKey(privateKey))))) {
      throw new WabridgeError('config_invalid', 'the signer key’s id does not match its key');
    }
  } else {
    if (name === undefined) throw new WabridgeError('config_invalid', 'a PEM signing key needs a key name');
    privateKey = parsePem(() => createPrivateKey(key), 'private');
    keyName = name;
  }
  if (privateKey.asymmetricKeyType !== 'ed25519') {
    throw new WabridgeError('config_invalid', 'the log key must be an Ed25519 key');
  }
  checkKeyName(keyName);
  const keyId = keyIdOf(keyName, rawPublic(createPublicKey(privateKey)));
  return { name: keyName, keyId, sign: (text) => new Uint8Array(sign(null, text, privateKey)) };
}

/** A verifier from a verifier key string (`<name>+<id>+<key>`) or from an SPKI PEM key and a name. */
export function noteVerifier(key: string, name?: string): NoteVerifier {
  let publicKey: KeyObject;
  let keyName: string;
  if (key.trimStart().startsWith('-----BEGIN')) {
    if (name === undefined) throw new WabridgeError('config_invalid', 'a PEM public key needs a key name');
    publicKey = parsePem(() => createPublicKey(key), 'public');
    if (publicKey.asymmetricKeyType !== 'ed25519') {
      throw new WabridgeError('config_invalid', 'the log key must be an Ed25519 key');
    }
    keyName = name;
    checkKeyName(keyName);
  } else {
    const [verifierName, id, material] = splitKey(key, 'verifier key');
    const raw = untyped(material, 'verifier key');
    if (id !== keyIdHex(keyIdOf(verifierName, raw))) {
      throw new WabridgeError('config_invalid', 'the verifier key’s id does not match its key');
    }
    if (name !== undefined && name !== verifierName) {
      throw new WabridgeError('config_invalid', `the verifier key is named ${verifierName}, not ${name}`);
    }
    publicKey = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
    keyName = verifierName;
  }
  const raw = rawPublic(publicKey);
  const keyId = keyIdOf(keyName, raw);
  return {
    name: keyName,
    keyId,
    verifierKey: `${keyName}+${keyIdHex(keyId)}+${typed(raw)}`,
    verify: (text, signature) => signature.byteLength === 64 && verify(null, text, publicKey, signature),
  };
}

/** Signs `text` (which must end in a newline) with each signer and returns the signed note. */
export function signNote(text: string, signers: readonly NoteSigner[]): string {
  const problem = textProblem(text);
  if (problem) throw new WabridgeError('bad_request', `cannot sign this note: ${problem}`);
  if (!text.endsWith('\n')) throw new WabridgeError('bad_request', 'a note’s text must end with a newline');
  if (signers.length === 0) throw new WabridgeError('bad_request', 'a note needs at least one signer');
  const bytes = new TextEncoder().encode(text);
  const lines = signers.map((signer) => {
    const id = Buffer.alloc(4);
    id.writeUInt32BE(signer.keyId);
    const signature = Buffer.concat([id, signer.sign(bytes)]).toString('base64');
    return `${SIGNATURE_PREFIX}${signer.name} ${signature}\n`;
  });
  return `${text}\n${lines.join('')}`;
}

export type NoteVerdict = { ok: true; text: string; signedBy: string[] } | { ok: false; reason: string };

/**
 * Opens a signed note: its text, if at least one signature from a known key verifies and none from a
 * known key fails. Signatures from unknown keys are ignored, as the spec requires (they may be a
 * witness's or the next key's). Anything malformed fails; nothing throws.
 */
export function openNote(note: string | Uint8Array, verifiers: readonly NoteVerifier[]): NoteVerdict {
  let message: string;
  if (typeof note === 'string') {
    message = note;
  } else {
    if (note.byteLength > MAX_NOTE_BYTES) return { ok: false, reason: 'the note is larger than 1 MiB' };
    try {
      message = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(note);
    } catch {
      return { ok: false, reason: 'the note is not valid UTF-8' };
    }
  }
  if (message.length > MAX_NOTE_BYTES) return { ok: false, reason: 'the note is larger than 1 MiB' };
  const problem = textProblem(message);
  if (problem) return { ok: false, reason: `malformed note: ${problem}` };
  const split = message.lastIndexOf('\n\n');
  if (split < 0) return { ok: false, reason: 'malformed note: no blank line before the signatures' };
  const text = message.slice(0, split + 1);
  const block = message.slice(split + 2);
  if (block.length === 0) return { ok: false, reason: 'malformed note: no signature lines' };
  if (!block.endsWith('\n')) return { ok: false, reason: 'malformed note: it must end with a newline' };
  const lines = block.slice(0, -1).split('\n');
  if (lines.length > MAX_SIGNATURES)
    return { ok: false, reason: `the note has more than ${MAX_SIGNATURES} signatures` };
  const bytes = new TextEncoder().encode(text);
  const signedBy: string[] = [];
  for (const line of lines) {
    const parsed = parseSignatureLine(line);
    if (!parsed)
      return { ok: false, reason: `malformed signature line: ${JSON.stringify(line.slice(0, 120))}` };
    const verifier = verifiers.find((v) => v.name === parsed.name && v.keyId === parsed.keyId);
    if (!verifier) continue;
    if (!verifier.verify(bytes, parsed.signature)) {
      return { ok: false, reason: `the signature by ${parsed.name} does not verify` };
    }
    if (!signedBy.includes(parsed.name)) signedBy.push(parsed.name);
  }
  if (signedBy.length === 0) return { ok: false, reason: 'no signature from a trusted key' };
  return { ok: true, text, signedBy };
}

function parseSignatureLine(line: string): { name: string; keyId: number; signature: Uint8Array } | null {
  if (!line.startsWith(SIGNATURE_PREFIX)) return null;
  const rest = line.slice(SIGNATURE_PREFIX.length);
  const space = rest.indexOf(' ');
  if (space < 0) return null;
  const name = rest.slice(0, space);
  if (!isKeyName(name)) return null;
  const blob = strictBase64(rest.slice(space + 1));
  if (!blob || blob.byteLength < 5) return null;
  return {
    name,
    keyId: Buffer.from(blob.buffer, blob.byteOffset, 4).readUInt32BE(0),
    signature: blob.subarray(4),
  };
}

/** Why a text cannot be (part of) a note, or null: notes are UTF-8 without control characters but \n. */
function textProblem(text: string): string | null {
  if (!text.isWellFormed()) return 'it is not valid Unicode';
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point.
  if (/[\u0000-\u0009\u000b-\u001f]/.test(text)) return 'it holds a control character other than newline';
  return null;
}

/** Key names are non-empty and hold no Unicode space and no plus (C2SP signed-note). */
const isKeyName = (name: string): boolean =>
  name.length > 0 && !/[\s+]/u.test(name) && textProblem(name) === null && !name.includes('\n');

function checkKeyName(name: string): void {
  if (!isKeyName(name)) {
    throw new WabridgeError(
      'config_invalid',
      `a key name must be non-empty, without spaces or "+", such as example.com/archive; got ${JSON.stringify(name)}`,
    );
  }
}

/** Base64 (standard alphabet, padded) that decodes and re-encodes to the same text, or null. */
export function strictBase64(text: string): Uint8Array | null {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) return null;
  const bytes = Buffer.from(text, 'base64');
  return bytes.toString('base64') === text ? new Uint8Array(bytes) : null;
}

function keyIdOf(name: string, rawPublicKey: Uint8Array): number {
  return createHash('sha256')
    .update(name)
    .update(new Uint8Array([0x0a, ED25519]))
    .update(rawPublicKey)
    .digest()
    .readUInt32BE(0);
}

const keyIdHex = (id: number): string => id.toString(16).padStart(8, '0');

const typed = (raw: Uint8Array): string => Buffer.concat([new Uint8Array([ED25519]), raw]).toString('base64');

function untyped(material: string, what: string): Uint8Array {
  const bytes = strictBase64(material);
  if (bytes?.byteLength !== 33 || bytes[0] !== ED25519) {
    throw new WabridgeError('config_invalid', `the ${what} does not hold an Ed25519 key`);
  }
  return bytes.subarray(1);
}

// `<name>+<8 hex digits>+<base64>`: the name holds no "+", the base64 may.
function splitKey(key: string, what: string): [string, string, string] {
  const first = key.indexOf('+');
  const second = key.indexOf('+', first + 1);
  const name = key.slice(0, first);
  const id = key.slice(first + 1, second);
  if (first < 0 || second < 0 || !isKeyName(name) || !/^[0-9a-f]{8}$/.test(id)) {
    throw new WabridgeError('config_invalid', `malformed ${what}: expected <name>+<key id>+<key>`);
  }
  return [name, id, key.slice(second + 1)];
}

function rawPublic(key: KeyObject): Uint8Array {
  const der = key.export({ format: 'der', type: 'spki' });
  return new Uint8Array(der.subarray(der.byteLength - 32));
}

function rawPrivate(key: KeyObject): Uint8Array {
  const der = key.export({ format: 'der', type: 'pkcs8' });
  return new Uint8Array(der.subarray(der.byteLength - 32));
}

function parsePem(parse: () => KeyObject, kind: string): KeyObject {
  try {
    return parse();
  } catch (error) {
    throw new WabridgeError('config_invalid', `the ${kind} key is not a PEM key node can read`, {
      cause: error,
    });
  }
}
