import { z } from 'zod';
import { defineEvent, type EventOf } from './envelope.ts';

/**
 * Published on the code's subject with optimistic concurrency, so exactly one redemption wins.
 * It also starts the grant: the refresh-token family and the first access token.
 */
export const AuthorizationCodeRedeemed = defineEvent(
  'AuthorizationCodeRedeemed',
  1,
  z.object({
    codeHash: z.string(),
    grantId: z.string(),
    clientId: z.string(),
    userId: z.string(),
    resource: z.string(),
    scopes: z.array(z.string()),
    consentId: z.string(),
    refreshTokenHash: z.string(),
    accessTokenJti: z.string(),
    accessTokenExpiresAt: z.number().int(),
    grantExpiresAt: z.number().int(),
  }),
);

export const RefreshTokenRotated = defineEvent(
  'RefreshTokenRotated',
  1,
  z.object({
    grantId: z.string(),
    clientId: z.string(),
    spentRefreshTokenHash: z.string(),
    refreshTokenHash: z.string(),
    scopes: z.array(z.string()),
    accessTokenJti: z.string(),
    accessTokenExpiresAt: z.number().int(),
    /** A retry of an already spent token inside the grace window, rather than a normal rotation. */
    graceRetry: z.boolean(),
  }),
);

export const RefreshTokenReuseDetected = defineEvent(
  'RefreshTokenReuseDetected',
  1,
  z.object({ grantId: z.string(), clientId: z.string(), refreshTokenHash: z.string() }),
);

export const GrantRevocationReason = z.enum([
  'refresh_token_reuse',
  'authorization_code_reuse',
  'revoked_by_client',
  'revoked_by_admin',
]);

export const GrantRevoked = defineEvent(
  'GrantRevoked',
  1,
  z.object({ grantId: z.string(), reason: GrantRevocationReason }),
);

export const TokenRevoked = defineEvent(
  'TokenRevoked',
  1,
  z.object({ grantId: z.string(), jti: z.string(), expiresAt: z.number().int() }),
);

export const SigningKeyPublished = defineEvent(
  'SigningKeyPublished',
  1,
  z.object({
    kid: z.string(),
    alg: z.enum(['ES256', 'EdDSA']),
    publicJwk: z.record(z.string(), z.unknown()),
    /** The replica stops signing with this key at this time (unix seconds). */
    signsUntil: z.number().int(),
    /** Every token this key signed has expired by then; the key may be retired. */
    retireAfter: z.number().int(),
  }),
);

export const SigningKeyRetired = defineEvent('SigningKeyRetired', 1, z.object({ kid: z.string() }));

export type AuthorizationCodeRedeemed = EventOf<typeof AuthorizationCodeRedeemed>;
export type RefreshTokenRotated = EventOf<typeof RefreshTokenRotated>;
export type RefreshTokenReuseDetected = EventOf<typeof RefreshTokenReuseDetected>;
export type GrantRevoked = EventOf<typeof GrantRevoked>;
export type TokenRevoked = EventOf<typeof TokenRevoked>;
export type SigningKeyPublished = EventOf<typeof SigningKeyPublished>;
export type SigningKeyRetired = EventOf<typeof SigningKeyRetired>;
