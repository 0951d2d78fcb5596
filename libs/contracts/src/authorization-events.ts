import { z } from 'zod';
import { defineEvent, type EventOf } from './envelope.ts';
import { ClientMetadataSchema } from './registration-events.ts';

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
    /**
     * Remembered consent is void once this changes: a registered client's redirect URIs; a metadata document's
     * redirect URIs, name and authentication method (what the user judged the client by).
     */
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

/**
 * A client ID metadata document as recorded (draft-ietf-oauth-client-id-metadata-document): validated and
 * normalised by the authorization service. Its authentication method is none or private_key_jwt (no document can
 * hold a shared secret), and it may name the public keys its assertions are signed with.
 */
export const ClientMetadataDocumentSchema = ClientMetadataSchema.extend({
  client_id: z.string(),
  token_endpoint_auth_method: z.enum(['none', 'private_key_jwt']),
  token_endpoint_auth_signing_alg: z.string().optional(),
  jwks: z.object({ keys: z.array(z.record(z.string(), z.unknown())) }).optional(),
  jwks_uri: z.string().optional(),
});
export type ClientMetadataDocumentData = z.infer<typeof ClientMetadataDocumentSchema>;

/** The fields every client document event shares: the client_id URL and the key its subject is named by (clientDocumentKey). */
const clientDocument = { clientId: z.string(), clientKey: z.string() };

/**
 * The authorization service fetched a client's metadata document and it was valid: every service and replica uses
 * this one copy until freshUntil (unix seconds; from the response's caching headers within configured bounds). A
 * document that differs from the one recorded before names the members that changed.
 */
export const ClientMetadataDocumentFetched = defineEvent(
  'ClientMetadataDocumentFetched',
  1,
  z.object({
    ...clientDocument,
    /** base64url SHA-256 of the body as fetched. */
    documentHash: z.string(),
    metadata: ClientMetadataDocumentSchema,
    /** The client_id URL's host: the one thing about the client the server has verified. */
    verifiedHost: z.string(),
    /** Every redirect URI is on the user's machine: any local program could be this client. */
    localhostOnly: z.boolean(),
    fetchedAt: z.number().int(),
    freshUntil: z.number().int(),
    previousDocumentHash: z.string().nullable(),
    /** Top-level members that differ from the previous document; empty for the first. */
    changed: z.array(z.string()),
  }),
);

/** A fetch returned the very document recorded before: only its freshness moves. */
export const ClientMetadataDocumentRefreshed = defineEvent(
  'ClientMetadataDocumentRefreshed',
  1,
  z.object({ ...clientDocument, documentHash: z.string(), fetchedAt: z.number().int(), freshUntil: z.number().int() }),
);

export const ClientDocumentRefusal = z.enum([
  'invalid_url',
  'refused_target',
  'redirect',
  'http_status',
  'too_large',
  'timeout',
  'unreachable',
  'invalid_document',
  'invalid_client_id',
]);
export type ClientDocumentRefusal = z.infer<typeof ClientDocumentRefusal>;

/**
 * A document could not be fetched or was not valid: recorded for the audit trail only. It is never an answer to
 * reuse; the next authorization request fetches again (within the fetch rate limit).
 */
export const ClientMetadataDocumentRefused = defineEvent(
  'ClientMetadataDocumentRefused',
  1,
  z.object({ ...clientDocument, reason: ClientDocumentRefusal, description: z.string() }),
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
export type ClientMetadataDocumentFetched = EventOf<typeof ClientMetadataDocumentFetched>;
export type ClientMetadataDocumentRefreshed = EventOf<typeof ClientMetadataDocumentRefreshed>;
export type ClientMetadataDocumentRefused = EventOf<typeof ClientMetadataDocumentRefused>;
