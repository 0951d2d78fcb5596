import { createHash, randomFillSync, timingSafeEqual } from 'node:crypto';

/**
 * Random bytes drawn from the CSPRNG 4 KiB at a time, as Node does for randomUUID: one call per 128 tokens
 * instead of one per token (several per request). Each byte is handed out once and zeroed
 * as it is, so no credential lingers here after it was made.
 */
const pool = Buffer.alloc(4096);
let poolOffset = pool.length;

/** A high-entropy credential, base64url: 32 bytes = 256 bits by default. */
export function randomToken(bytes = 32): string {
  if (bytes > pool.length) throw new RangeError('randomToken: at most 4096 bytes');
  if (poolOffset + bytes > pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const slice = pool.subarray(poolOffset, poolOffset + bytes);
  poolOffset += bytes;
  const token = slice.toString('base64url');
  slice.fill(0);
  return token;
}

/**
 * The at-rest form of a credential we generated ourselves (client secrets, codes, refresh and registration
 * tokens). They carry 256 bits of entropy, so a fast hash is enough; passwords use scrypt instead.
 */
export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('base64url');
}

/** Constant-time check of a presented credential against its stored hash. */
export function secretMatchesHash(presented: string, storedHash: string): boolean {
  const a = Buffer.from(hashSecret(presented), 'base64url');
  const b = Buffer.from(storedHash, 'base64url');
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Constant-time equality of two strings of public length (e.g. PKCE challenges, CSRF tokens). */
export function constantTimeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * Credentials that one service mints and another redeems carry the stream position of the event that
 * created them ("<secret>.<position>"). The redeeming service waits until its projection has applied
 * that position, so a fast client never meets a replica that has not heard of its credential yet.
 * Only the secret part is hashed and stored; the position is not a secret.
 */
export function attachPosition(secret: string, position: number): string {
  return `${secret}.${position}`;
}

export function splitPosition(credential: string): { secret: string; position: number } | null {
  const dot = credential.lastIndexOf('.');
  if (dot <= 0) return null;
  const secret = credential.slice(0, dot);
  const position = parsePosition(credential.slice(dot + 1));
  if (!/^[A-Za-z0-9_-]{20,200}$/.test(secret) || position === null) return null;
  return { secret, position };
}

/** A stream position sent by a client (a credential's suffix, a link): a positive safe integer in digits, else null. */
export function parsePosition(digits: string): number | null {
  return /^[1-9][0-9]{0,14}$/.test(digits) ? Number(digits) : null;
}
