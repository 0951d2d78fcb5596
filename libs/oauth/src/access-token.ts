import { decodeProtectedHeader, importJWK, jwtVerify, type CryptoKey, type JWTPayload } from 'jose';

/** RFC 9068 access-token claims, plus the grant and the stream position of the event that issued the token. */
export type AccessTokenClaims = {
  iss: string;
  sub: string;
  aud: string;
  client_id: string;
  scope: string;
  jti: string;
  iat: number;
  exp: number;
  grant_id: string;
  /** A resource server that has not yet applied this position waits for it rather than refuse a fresh token. */
  stream_position: number;
};

export const ACCESS_TOKEN_TYPE = 'at+jwt';
export const SIGNING_ALGORITHMS = ['ES256', 'EdDSA'] as const;

export type PublicKeyRecord = { kid: string; alg: 'ES256' | 'EdDSA'; publicJwk: Record<string, unknown> };

export type VerifyFailure = 'malformed' | 'unknown_key' | 'bad_signature' | 'wrong_type' | 'wrong_issuer' | 'wrong_audience' | 'expired' | 'not_yet_valid' | 'bad_claims';

export type VerifyOutcome = { ok: true; claims: AccessTokenClaims } | { ok: false; reason: VerifyFailure };

export type VerifyOptions = {
  issuer: string;
  /** Omit to accept any audience (the token service introspecting its own tokens). */
  audience?: string;
  /** Looks a key up by kid; may wait for the projection (a key published a moment ago). */
  key: (kid: string) => PublicKeyRecord | null | Promise<PublicKeyRecord | null>;
  clockToleranceSeconds?: number;
  /** Verify signature and claims but accept an expired token (revocation of an expired token is a no-op, not an error). */
  allowExpired?: boolean;
};

const importedKeys = new Map<string, Promise<CryptoKey | Uint8Array>>();

function importKey(record: PublicKeyRecord): Promise<CryptoKey | Uint8Array> {
  let key = importedKeys.get(record.kid);
  if (!key) {
    key = importJWK(record.publicJwk, record.alg);
    importedKeys.set(record.kid, key);
  }
  return key;
}

/**
 * Verifies an access token locally: the header names a published key and `typ: at+jwt`; only ES256/EdDSA
 * (never `none`, never HMAC with a public key); signature, issuer, audience, expiry with a small leeway.
 */
export async function verifyAccessToken(token: string, options: VerifyOptions): Promise<VerifyOutcome> {
  if (token.length > 8192 || token.split('.').length !== 3) return { ok: false, reason: 'malformed' };
  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(token);
  } catch {
    return { ok: false, reason: 'malformed' };
  }
  if (typeof header.kid !== 'string' || !(SIGNING_ALGORITHMS as readonly string[]).includes(String(header.alg))) return { ok: false, reason: 'unknown_key' };
  const record = await options.key(header.kid);
  if (!record || record.alg !== header.alg) return { ok: false, reason: 'unknown_key' };
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, await importKey(record), {
      algorithms: [record.alg],
      typ: ACCESS_TOKEN_TYPE,
      issuer: options.issuer,
      ...(options.audience !== undefined ? { audience: options.audience } : {}),
      clockTolerance: options.clockToleranceSeconds ?? 5,
    }));
  } catch (err) {
    const reason = failureOf(err);
    // jose checks the signature before the claims, so an expired token's payload is authentic.
    const expiredPayload = (err as { payload?: JWTPayload }).payload;
    if (!(reason === 'expired' && options.allowExpired && expiredPayload)) return { ok: false, reason };
    payload = expiredPayload;
  }
  if (!isAccessTokenClaims(payload)) return { ok: false, reason: 'bad_claims' };
  return { ok: true, claims: payload };
}

function failureOf(err: unknown): VerifyFailure {
  const code = (err as { code?: string }).code;
  const claim = (err as { claim?: string }).claim;
  if (code === 'ERR_JWT_EXPIRED') return 'expired';
  if (code === 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED') return 'bad_signature';
  if (code === 'ERR_JWT_CLAIM_VALIDATION_FAILED') {
    if (claim === 'iss') return 'wrong_issuer';
    if (claim === 'aud') return 'wrong_audience';
    if (claim === 'typ') return 'wrong_type';
    if (claim === 'nbf' || claim === 'iat') return 'not_yet_valid';
    return 'bad_claims';
  }
  return 'malformed';
}

function isAccessTokenClaims(p: JWTPayload): p is JWTPayload & AccessTokenClaims {
  return (
    typeof p.iss === 'string' &&
    typeof p.sub === 'string' &&
    typeof p.aud === 'string' &&
    typeof p.client_id === 'string' &&
    typeof p.scope === 'string' &&
    typeof p.jti === 'string' &&
    typeof p.iat === 'number' &&
    typeof p.exp === 'number' &&
    typeof p.grant_id === 'string' &&
    typeof p.stream_position === 'number'
  );
}
