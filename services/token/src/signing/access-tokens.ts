import { SignJWT } from 'jose';
import { ACCESS_TOKEN_TYPE, formatScope, type AccessTokenClaims } from '@mcp-auth/oauth';
import type { SigningKey } from './key-ring.ts';

export type AccessTokenGrant = {
  issuer: string;
  userId: string;
  clientId: string;
  resource: string;
  scopes: readonly string[];
  jti: string;
  grantId: string;
  issuedAt: number;
  expiresAt: number;
  streamPosition: number;
};

/** An RFC 9068 JWT access token, signed with this replica's key. */
export function signAccessToken(key: SigningKey, grant: AccessTokenGrant): Promise<string> {
  const claims: AccessTokenClaims = {
    iss: grant.issuer,
    sub: grant.userId,
    aud: grant.resource,
    client_id: grant.clientId,
    scope: formatScope(grant.scopes),
    jti: grant.jti,
    iat: grant.issuedAt,
    exp: grant.expiresAt,
    grant_id: grant.grantId,
    stream_position: grant.streamPosition,
  };
  return new SignJWT(claims).setProtectedHeader({ alg: key.alg, kid: key.kid, typ: ACCESS_TOKEN_TYPE }).sign(key.privateKey);
}
