import { createHash, randomBytes } from 'node:crypto';

// Crockford base32: sortable, case-insensitive, no ambiguous letters.
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
let lastTime = 0;
let lastRandom: Uint8Array = new Uint8Array(10);

/**
 * A time-ordered unique id with a readable prefix, ULID-shaped (48-bit ms time + 80 random bits,
 * monotonic within the same millisecond).
 *
 * @example newId('msg') // 'msg_01JD3V9Q2X7K5M8N0P4R6T8W1Y'
 */
export function newId(prefix: string, now: number = Date.now()): string {
  let random: Uint8Array;
  if (now === lastTime) {
    random = increment(lastRandom);
  } else {
    random = randomBytes(10);
    lastTime = now;
  }
  lastRandom = random;
  return `${prefix}_${encodeTime(now)}${encodeRandom(random)}`;
}

function encodeTime(time: number): string {
  let out = '';
  let t = time;
  for (let i = 0; i < 10; i++) {
    out = ALPHABET[t % 32] + out;
    t = Math.floor(t / 32);
  }
  return out;
}

function encodeRandom(bytes: Uint8Array): string {
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  return out;
}

function increment(bytes: Uint8Array): Uint8Array {
  const next = Uint8Array.from(bytes);
  for (let i = next.length - 1; i >= 0; i--) {
    const byte = next[i] ?? 0;
    if (byte < 255) {
      next[i] = byte + 1;
      return next;
    }
    next[i] = 0;
  }
  return randomBytes(10);
}

/**
 * An id derived from content, with a readable prefix: the same parts always give the same id, so
 * a platform's retry of the same event is stored once (`INSERT … ON CONFLICT (id) DO NOTHING`).
 *
 * @example contentId('pev', field, payload) // 'pev_3q2Vv…' (26 characters after the prefix)
 */
export function contentId(prefix: string, ...parts: unknown[]): string {
  return `${prefix}_${createHash('sha256').update(JSON.stringify(parts)).digest('base64url').slice(0, 26)}`;
}
