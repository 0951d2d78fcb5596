import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { Context, Next } from 'koa';
import { HttpError } from '@mcp-auth/http';
import { hashSecret, randomToken } from '@mcp-auth/oauth';

/** A console session a cookie proves: which one (by the hash of its random id) and until when. */
export type ConsoleSessionClaim = { sessionHash: string; expiresAt: number };

/**
 * The admin credential from configuration. It is compared by digest in constant time, and console
 * sessions are signed cookies (expiry, a random session id, and an HMAC under a key derived from the
 * credential), so any replica can check one and changing ADMIN_TOKEN signs everyone out. Whether a session
 * was signed out is a question for the event log (AdminSessionEnded), asked by the console.
 */
export class AdminCredential {
  readonly #digest: Buffer;
  readonly #sessionKey: Buffer;

  constructor(token: string) {
    this.#digest = sha256(token);
    this.#sessionKey = createHmac('sha256', token).update('admin-console-session/v1').digest();
  }

  matches(presented: string | undefined | null): boolean {
    if (!presented) return false;
    return timingSafeEqual(sha256(presented), this.#digest);
  }

  /** A cookie value for a new session, valid until `expiresAtSeconds`. */
  issueSession(expiresAtSeconds: number): string {
    const claims = `${expiresAtSeconds}.${randomToken(16)}`;
    return `${claims}.${this.#sign(claims)}`;
  }

  /** The session a cookie value proves, if it was signed with this credential and has not expired. */
  verifySession(value: string | undefined, nowSeconds: number): ConsoleSessionClaim | null {
    const match = value ? /^((\d{1,12})\.([A-Za-z0-9_-]{22}))\.([A-Za-z0-9_-]{43})$/.exec(value) : null;
    if (!match) return null;
    const expected = Buffer.from(this.#sign(match[1]!));
    const presented = Buffer.from(match[4]!);
    if (presented.length !== expected.length || !timingSafeEqual(presented, expected)) return null;
    const expiresAt = Number(match[2]);
    return expiresAt > nowSeconds ? { sessionHash: hashSecret(match[3]!), expiresAt } : null;
  }

  #sign(value: string): string {
    return createHmac('sha256', this.#sessionKey).update(value).digest('base64url');
  }
}

export const ADMIN_OFF = new HttpError(503, { error: 'admin_disabled', error_description: 'The admin API is off: set ADMIN_TOKEN (at least 32 characters) on the admin service.' });

function sha256(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/**
 * Refuses an API request without the admin bearer credential: 401 with a Bearer challenge (RFC 6750);
 * 503 for everyone while no ADMIN_TOKEN is configured.
 */
export function requireAdminBearer(credential: AdminCredential | null) {
  return async function adminOnly(ctx: Context, next: Next): Promise<void> {
    if (!credential) throw ADMIN_OFF;
    const match = /^Bearer\s+(\S+)$/i.exec(ctx.get('Authorization'));
    if (!credential.matches(match?.[1])) {
      throw new HttpError(
        401,
        { error: match ? 'invalid_token' : 'unauthorized', error_description: 'The admin API needs Authorization: Bearer <ADMIN_TOKEN>.' },
        { 'WWW-Authenticate': match ? 'Bearer realm="admin", error="invalid_token"' : 'Bearer realm="admin"' },
      );
    }
    ctx.state.actor = { kind: 'admin', id: 'admin' };
    await next();
  };
}
