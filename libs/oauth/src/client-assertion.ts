import { createHash } from 'node:crypto';
import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, errors, jwtVerify, type JSONWebKeySet, type JWTPayload } from 'jose';
import type { Decider } from '@mcp-auth/contracts';

/**
 * private_key_jwt: a client authenticates at the token endpoint with a JWT it signed (RFC 7523 §2.2 and §3,
 * RFC 7521 §4.2), checked against the public keys of its registration or metadata document.
 */

/** RFC 7523 §2.2: the value of client_assertion_type. */
export const CLIENT_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

/**
 * Asymmetric algorithms only: a client assertion verified against a public key must never be accepted as an
 * HMAC keyed with that public key, nor unsigned. What token_endpoint_auth_signing_alg_values_supported lists.
 */
export const CLIENT_ASSERTION_ALGORITHMS = ['ES256', 'ES384', 'EdDSA', 'PS256', 'RS256'] as const;

/** The explicit types an assertion may carry (RFC 8725 §3.11; draft-ietf-oauth-rfc7523bis registers the second). */
const ASSERTION_TYPES = new Set(['jwt', 'client-authentication+jwt', 'application/client-authentication+jwt']);

const MAX_ASSERTION_LENGTH = 8_192;
const MAX_JTI_LENGTH = 200;

export type AssertionFailure =
  | 'malformed'
  | 'unsupported_alg'
  | 'wrong_type'
  | 'unknown_key'
  | 'bad_signature'
  | 'wrong_issuer'
  | 'wrong_subject'
  | 'wrong_audience'
  | 'expired'
  | 'not_yet_valid'
  | 'too_long_lived'
  | 'missing_jti';

export type AssertionExpectations = {
  /** The client being authenticated: iss and sub must both be exactly this (RFC 7523 §3 items 1 and 2.B). */
  clientId: string;
  /** The client's public keys, from its registration, its metadata document, or its jwks_uri. */
  jwks: JSONWebKeySet;
  /** Values that identify this server (RFC 7523 §3 item 3): its issuer identifier and its token endpoint URL. */
  audiences: readonly string[];
  now: Date;
  /**
   * An assertion may live at most this long from now (RFC 7523 §3 item 4 lets the server refuse an exp far in
   * the future). It bounds how long its jti must be remembered.
   */
  maxLifetimeSeconds?: number;
  clockToleranceSeconds?: number;
};

export type AssertionVerdict =
  | {
      ok: true;
      jti: string;
      /** Until when the jti must be refused if seen again: the assertion's exp. */
      expiresAt: Date;
      /** Where its single use is recorded: the same for a replay of this assertion, different across clients. */
      replayKey: string;
    }
  | { ok: false; reason: AssertionFailure; description: string };

/**
 * The client an assertion claims to come from (its sub; RFC 7521 §4.2 makes client_id optional), so its keys can
 * be looked up. Nothing is verified here: it only says whose keys to verify with.
 */
export function assertionClientId(assertion: string): string | null {
  if (assertion.length > MAX_ASSERTION_LENGTH) return null;
  try {
    const { sub } = decodeJwt(assertion);
    return typeof sub === 'string' && sub.length > 0 ? sub : null;
  } catch {
    return null;
  }
}

/**
 * Verifies a client assertion per RFC 7523 §3: signed with one of the client's keys by an asymmetric algorithm;
 * iss = sub = the client_id; aud names this server; exp present and not passed, and not too far ahead; nbf and
 * iat, when present, not in the future; a jti, whose single use the caller records under `replayKey` until
 * `expiresAt` (RFC 7523 §3 item 7). Pure apart from the key import; every failure is a value (all of them are
 * invalid_client at the token endpoint, RFC 7523 §3.2).
 */
export async function verifyClientAssertion(assertion: string, expect: AssertionExpectations): Promise<AssertionVerdict> {
  const fail = (reason: AssertionFailure, description: string): AssertionVerdict => ({ ok: false, reason, description });
  if (assertion.length > MAX_ASSERTION_LENGTH || assertion.split('.').length !== 3) return fail('malformed', 'the assertion is not a compact JWS');
  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(assertion);
  } catch {
    return fail('malformed', 'the assertion header cannot be read');
  }
  if (!(CLIENT_ASSERTION_ALGORITHMS as readonly string[]).includes(String(header.alg))) {
    return fail('unsupported_alg', `alg must be one of ${CLIENT_ASSERTION_ALGORITHMS.join(', ')}`);
  }
  if (header.typ !== undefined && !ASSERTION_TYPES.has(String(header.typ).toLowerCase())) {
    return fail('wrong_type', `an assertion of type ${String(header.typ).slice(0, 50)} is not a client assertion`);
  }

  const tolerance = expect.clockToleranceSeconds ?? 30;
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(assertion, createLocalJWKSet(expect.jwks), {
      algorithms: [...CLIENT_ASSERTION_ALGORITHMS],
      issuer: expect.clientId,
      subject: expect.clientId,
      audience: [...expect.audiences],
      requiredClaims: ['iss', 'sub', 'aud', 'exp'],
      currentDate: expect.now,
      clockTolerance: tolerance,
    }));
  } catch (err) {
    return failureOf(err);
  }

  const now = Math.floor(expect.now.getTime() / 1000);
  const maxLifetime = expect.maxLifetimeSeconds ?? 300;
  if (payload.exp! > now + maxLifetime + tolerance) return fail('too_long_lived', `exp is more than ${maxLifetime} seconds ahead`);
  if (typeof payload.iat === 'number' && payload.iat > now + tolerance) return fail('not_yet_valid', 'iat is in the future');
  if (typeof payload.jti !== 'string' || payload.jti.length === 0 || payload.jti.length > MAX_JTI_LENGTH) {
    return fail('missing_jti', `a jti of 1 to ${MAX_JTI_LENGTH} characters is required, so that the assertion is used once`);
  }
  return { ok: true, jti: payload.jti, expiresAt: new Date(payload.exp! * 1000), replayKey: assertionReplayKey(expect.clientId, payload.jti) };
}

/**
 * A subject token (43 characters of base64url) for one (client, jti) pair: jti values are unique only per
 * issuer (RFC 7519 §4.1.7), so two clients that pick the same jti do not block each other.
 */
export function assertionReplayKey(clientId: string, jti: string): string {
  return createHash('sha256').update(clientId).update('\n').update(jti).digest('base64url');
}

function failureOf(err: unknown): AssertionVerdict {
  const fail = (reason: AssertionFailure, description: string): AssertionVerdict => ({ ok: false, reason, description });
  if (err instanceof errors.JWTExpired) return fail('expired', 'the assertion has expired');
  if (err instanceof errors.JWTClaimValidationFailed) {
    switch (err.claim) {
      case 'iss':
        return fail('wrong_issuer', 'iss must be the client_id');
      case 'sub':
        return fail('wrong_subject', 'sub must be the client_id');
      case 'aud':
        return fail('wrong_audience', 'aud must name this authorization server');
      case 'nbf':
      case 'iat':
        return fail('not_yet_valid', `${err.claim} is in the future`);
      case 'exp':
        return fail('malformed', 'exp is required');
      default:
        return fail('malformed', `the ${err.claim} claim is invalid`);
    }
  }
  if (err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys) return fail('unknown_key', 'no key of the client matches the assertion');
  if (err instanceof errors.JWSSignatureVerificationFailed) return fail('bad_signature', 'the signature does not verify with the client\'s keys');
  if (err instanceof errors.JOSEAlgNotAllowed) return fail('unsupported_alg', 'the algorithm is not allowed');
  if (err instanceof errors.JWKSInvalid) return fail('unknown_key', 'the client\'s key set is invalid');
  return fail('malformed', 'the assertion cannot be verified');
}

/**
 * The single use of an assertion, as a decider: the first use is recorded, any later one is a replay. Decided on
 * the subject of its replayKey with an expected last sequence of 0, so that across every token replica exactly one
 * use succeeds (the stream refuses the second append); an event store without that check would make this a race.
 */
export type AssertionUse = { type: 'ClientAssertionUsed'; data: { replayKey: string; clientId: string; expiresAt: string } };
export type UseAssertion = { replayKey: string; clientId: string; expiresAt: Date };
export type AssertionUseState = { used: boolean };

export class AssertionReplayed extends Error {
  constructor() {
    super('the client assertion was already used');
    this.name = 'AssertionReplayed';
  }
}

export const assertionUse = {
  initialState: (): AssertionUseState => ({ used: false }),
  evolve: (_state: AssertionUseState, _event: AssertionUse): AssertionUseState => ({ used: true }),
  decide(command: UseAssertion, state: AssertionUseState): AssertionUse[] {
    if (state.used) throw new AssertionReplayed();
    return [{ type: 'ClientAssertionUsed', data: { replayKey: command.replayKey, clientId: command.clientId, expiresAt: command.expiresAt.toISOString() } }];
  },
} satisfies Decider<UseAssertion, AssertionUseState, AssertionUse>;
