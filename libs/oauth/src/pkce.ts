import { createHash } from 'node:crypto';
import { constantTimeEqual } from './secrets.ts';

/** RFC 7636 §4.1: 43–128 characters of [A-Z a-z 0-9 - . _ ~]. */
export const CODE_VERIFIER = /^[A-Za-z0-9._~-]{43,128}$/;
/** The S256 challenge is a base64url SHA-256: exactly 43 characters. */
export const S256_CHALLENGE = /^[A-Za-z0-9_-]{43}$/;

export function s256(verifier: string): string {
  return createHash('sha256').update(verifier, 'ascii').digest('base64url');
}

export function verifyS256(verifier: string, challenge: string): boolean {
  return CODE_VERIFIER.test(verifier) && constantTimeEqual(s256(verifier), challenge);
}
