import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

export type ScryptParameters = { N: number; r: number; p: number };

/**
 * Password hashes with node:crypto scrypt, stored as "scrypt$N$r$p$salt$hash", so that a hash keeps verifying
 * after the parameters change. N = 2^15, r = 8, p = 3 is one of OWASP's equivalent scrypt settings (its
 * Password Storage Cheat Sheet lists 2^17/8/1, 2^16/8/2, 2^15/8/3, 2^14/8/5 and 2^13/8/10). Of those it keeps
 * each hash at 32 MiB: memory-hard enough that guessing on GPUs stays expensive, while the four hashes libuv's
 * threadpool computes at once during a burst of sign-ins need 128 MiB, where 2^17 would need 512 MiB.
 */
export const SCRYPT_PARAMETERS: ScryptParameters = { N: 2 ** 15, r: 8, p: 3 };
const KEY_LENGTH = 32;

/** Stored parameters beyond these are refused rather than computed: 2^20 × 8 is 1 GiB of memory per check. */
const MAX_N = 2 ** 20;
const MAX_R = 32;
const MAX_P = 64;

function derive(password: string, salt: Buffer, { N, r, p }: ScryptParameters): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    // scrypt needs 128 × N × r bytes (and 128 × r × p more); node refuses anything above maxmem.
    const maxmem = 128 * N * r + 128 * r * p + 1024 * 1024;
    scrypt(password.normalize('NFKC'), salt, KEY_LENGTH, { N, r, p, maxmem }, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

export async function hashPassword(password: string, parameters: ScryptParameters = SCRYPT_PARAMETERS): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, parameters);
  return ['scrypt', parameters.N, parameters.r, parameters.p, salt.toString('base64url'), key.toString('base64url')].join('$');
}

type StoredHash = { parameters: ScryptParameters; salt: Buffer; hash: Buffer };

function parseStoredHash(stored: string): StoredHash | null {
  const [scheme, n, r, p, salt, hash, ...rest] = stored.split('$');
  if (scheme !== 'scrypt' || !salt || !hash || rest.length > 0) return null;
  const parameters = { N: Number(n), r: Number(r), p: Number(p) };
  const { N } = parameters;
  const sane = Number.isInteger(N) && N > 1 && N <= MAX_N && (N & (N - 1)) === 0 && [parameters.r, parameters.p].every((v) => Number.isInteger(v) && v > 0);
  if (!sane || parameters.r > MAX_R || parameters.p > MAX_P) return null;
  return { parameters, salt: Buffer.from(salt, 'base64url'), hash: Buffer.from(hash, 'base64url') };
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parsed = parseStoredHash(stored);
  if (!parsed) return false;
  const key = await derive(password, parsed.salt, parsed.parameters);
  return key.length === parsed.hash.length && timingSafeEqual(key, parsed.hash);
}

/**
 * A stored hash made with less work or less memory than today's parameters is replaced at the next successful
 * sign-in (the only time the password is at hand). A stronger one is kept.
 */
export function needsRehash(stored: string, current: ScryptParameters = SCRYPT_PARAMETERS): boolean {
  const parsed = parseStoredHash(stored);
  if (!parsed) return false;
  const { N, r, p } = parsed.parameters;
  return N * r < current.N * current.r || N * r * p < current.N * current.r * current.p;
}

/** Spent on sign-in attempts for unknown users, so that timing does not tell which usernames exist. */
let dummyHash: Promise<string> | null = null;
export async function burnPasswordCheck(password: string): Promise<false> {
  dummyHash ??= hashPassword('not a real password');
  await verifyPassword(password, await dummyHash);
  return false;
}

export const PASSWORD_MIN_LENGTH = 8;
export const PASSWORD_MAX_LENGTH = 1024;
