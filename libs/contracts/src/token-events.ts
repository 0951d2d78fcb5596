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

/** Reasons a grant ends. Version 1 knew the first four. */
const GRANT_REVOCATION_REASONS_V1 = ['refresh_token_reuse', 'authorization_code_reuse', 'revoked_by_client', 'revoked_by_admin'] as const;

export const GrantRevocationReason = z.enum([
  ...GRANT_REVOCATION_REASONS_V1,
  /** The user revoked the app's consent (connected apps), which ends its grants. Version 2. */
  'revoked_by_user',
  /** The client was deleted (RFC 7592, an admin) or expired (idle reaping). Version 2. */
  'client_deleted',
]);
export type GrantRevocationReason = z.infer<typeof GrantRevocationReason>;

/**
 * Version 2 adds the reasons revoked_by_user and client_deleted; an event with one of version 1's reasons is
 * still written as version 1, so a replica not yet upgraded applies it. consentId (added without a version:
 * readers drop a field they do not know) names the consent the grant was made under; events written before
 * it do not carry it.
 */
export const GrantRevoked = defineEvent(
  'GrantRevoked',
  2,
  z.object({ grantId: z.string(), reason: GrantRevocationReason, consentId: z.string().optional() }),
  { writtenVersion: (data) => ((GRANT_REVOCATION_REASONS_V1 as readonly string[]).includes(data.reason) ? 1 : 2) },
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

/**
 * A client assertion (private_key_jwt, RFC 7523) was used: appended on the subject of its replay key with an
 * expected last sequence of 0, so across every token replica it is used once (RFC 7523 §3 item 7). Until
 * expiresAt (ISO 8601) a second use would be refused; after it the assertion is expired anyway.
 */
export const ClientAssertionUsed = defineEvent(
  'ClientAssertionUsed',
  1,
  z.object({ replayKey: z.string(), clientId: z.string(), expiresAt: z.string() }),
);

export type AuthorizationCodeRedeemed = EventOf<typeof AuthorizationCodeRedeemed>;
export type RefreshTokenRotated = EventOf<typeof RefreshTokenRotated>;
export type RefreshTokenReuseDetected = EventOf<typeof RefreshTokenReuseDetected>;
export type GrantRevoked = EventOf<typeof GrantRevoked>;
export type TokenRevoked = EventOf<typeof TokenRevoked>;
export type SigningKeyPublished = EventOf<typeof SigningKeyPublished>;
export type SigningKeyRetired = EventOf<typeof SigningKeyRetired>;
export type ClientAssertionUsed = EventOf<typeof ClientAssertionUsed>;
