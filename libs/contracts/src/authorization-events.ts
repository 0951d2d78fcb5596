import { z } from 'zod';
import { defineEvent, type EventOf } from './envelope.ts';

export const UserCreated = defineEvent(
  'UserCreated',
  1,
  z.object({ userId: z.string(), username: z.string(), passwordHash: z.string() }),
);

/**
 * A sign-in attempt was let through to the password check. Appended exclusively on the account's sign-in
 * subject before the password is compared, so that replicas checking guesses at once all count each other's:
 * an attempt counts towards the account's limit from here until it ends in UserSignedIn or UserSignInFailed.
 */
export const SignInAttemptAdmitted = defineEvent(
  'SignInAttemptAdmitted',
  1,
  z.object({
    attemptId: z.string(),
    /** The id the username maps to, whether or not such a user exists. */
    userId: z.string(),
    username: z.string(),
    clientAddress: z.string().nullable(),
  }),
);

export const UserSignedIn = defineEvent(
  'UserSignedIn',
  1,
  z.object({
    userId: z.string(),
    sessionHash: z.string(),
    expiresAt: z.number().int(),
    /** The admitted attempt this sign-in ends (absent on sign-ins recorded before attempts were admitted). */
    attemptId: z.string().optional(),
  }),
);

export const UserSignInFailed = defineEvent(
  'UserSignInFailed',
  1,
  z.object({
    username: z.string(),
    /** The id the username maps to, whether or not such a user exists: attempts are throttled per account either way. */
    userId: z.string(),
    /** The browser is told the same either way; the audit trail is not. */
    userExists: z.boolean(),
    clientAddress: z.string().nullable(),
    /** bad_credentials counts towards throttling; throttled records an attempt refused while throttled. */
    reason: z.enum(['bad_credentials', 'throttled']),
    /** The admitted attempt a bad_credentials failure ends (absent for throttled ones, which were never admitted). */
    attemptId: z.string().optional(),
  }),
);

/**
 * The user's password hash, recomputed with today's parameters at a successful sign-in because the stored one
 * used weaker ones. Exclusive on the user's subject.
 */
export const UserPasswordRehashed = defineEvent(
  'UserPasswordRehashed',
  1,
  z.object({ userId: z.string(), passwordHash: z.string() }),
);

export const UserSignedOut = defineEvent(
  'UserSignedOut',
  1,
  z.object({ userId: z.string(), sessionHash: z.string() }),
);

export const ConsentGranted = defineEvent(
  'ConsentGranted',
  1,
  z.object({
    consentId: z.string(),
    userId: z.string(),
    clientId: z.string(),
    resource: z.string(),
    scopes: z.array(z.string()),
    /** Remembered consent is void once the client's redirect URIs change. */
    redirectUrisFingerprint: z.string(),
  }),
);

export const ConsentRevocationReason = z.enum([
  'revoked_by_user',
  /** An admin revoked a grant made under it: the grant and the remembered consent end together. */
  'revoked_by_admin',
  /** The client was deleted or expired. */
  'client_deleted',
]);
export type ConsentRevocationReason = z.infer<typeof ConsentRevocationReason>;

/**
 * Version 2 adds the reason; version 1 had none, since only the user revoked (connected apps). Absent means
 * revoked_by_user, and such an event is still written as version 1, so a replica not yet upgraded applies it.
 */
export const ConsentRevoked = defineEvent(
  'ConsentRevoked',
  2,
  z.object({ consentId: z.string(), userId: z.string(), clientId: z.string(), reason: ConsentRevocationReason.optional() }),
  { writtenVersion: (data) => (data.reason === undefined || data.reason === 'revoked_by_user' ? 1 : 2) },
);

/** Why a consent was revoked: events of version 1 carry no reason, and only the user revoked then. */
export function consentRevocationReason(data: { reason?: ConsentRevocationReason | undefined }): ConsentRevocationReason {
  return data.reason ?? 'revoked_by_user';
}

export const AuthorizationCodeIssued = defineEvent(
  'AuthorizationCodeIssued',
  1,
  z.object({
    codeHash: z.string(),
    clientId: z.string(),
    userId: z.string(),
    redirectUri: z.string(),
    codeChallenge: z.string(),
    codeChallengeMethod: z.literal('S256'),
    resource: z.string(),
    scopes: z.array(z.string()),
    consentId: z.string(),
    expiresAt: z.number().int(),
  }),
);

export const AuthorizationDenied = defineEvent(
  'AuthorizationDenied',
  1,
  z.object({
    denialId: z.string(),
    clientId: z.string(),
    userId: z.string(),
    resource: z.string(),
    scopes: z.array(z.string()),
  }),
);

export type UserCreated = EventOf<typeof UserCreated>;
export type SignInAttemptAdmitted = EventOf<typeof SignInAttemptAdmitted>;
export type UserSignedIn = EventOf<typeof UserSignedIn>;
export type UserSignInFailed = EventOf<typeof UserSignInFailed>;
export type UserPasswordRehashed = EventOf<typeof UserPasswordRehashed>;
export type UserSignedOut = EventOf<typeof UserSignedOut>;
export type ConsentGranted = EventOf<typeof ConsentGranted>;
export type ConsentRevoked = EventOf<typeof ConsentRevoked>;
export type AuthorizationCodeIssued = EventOf<typeof AuthorizationCodeIssued>;
export type AuthorizationDenied = EventOf<typeof AuthorizationDenied>;
