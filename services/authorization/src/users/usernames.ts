import { createHash } from 'node:crypto';

const USERNAME = /^[A-Za-z0-9._@+-]{1,64}$/;

export function isValidUsername(username: string): boolean {
  return USERNAME.test(username);
}

export function normaliseUsername(username: string): string {
  return username.normalize('NFKC').toLowerCase();
}

/**
 * A user's id (the tokens' `sub`) derives from the normalised username, so creating a user is exclusive
 * on its subject, and sign-in attempts for a name can be throttled before anyone knows whether it exists.
 */
export function userIdFor(username: string): string {
  return `usr_${createHash('sha256').update(`user:${normaliseUsername(username)}`).digest('base64url').slice(0, 24)}`;
}
