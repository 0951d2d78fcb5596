import { verifyAccessToken, type AccessTokenClaims } from '@mcp-auth/oauth';
import type { TokenDeps } from './deps.ts';

export type AccessTokenStatus = { claims: AccessTokenClaims; active: boolean } | null;

/**
 * An access token this server issued: signature by a published key, our issuer. null if it is not ours.
 * `active` also needs it unexpired and honoured by its grant (active, the token's user and client, jti unrevoked).
 */
export async function checkAccessToken(token: string, deps: Pick<TokenDeps, 'config' | 'signingKeys' | 'grants' | 'projector'>): Promise<AccessTokenStatus> {
  const outcome = await verifyAccessToken(token, {
    issuer: deps.config.ISSUER,
    key: (kid) => deps.signingKeys.find(kid),
    allowExpired: true,
  });
  if (!outcome.ok) return null;
  const { claims } = outcome;
  await deps.projector.waitFor(claims.stream_position, 2_000);
  return { claims, active: accessTokenActive(claims, deps) };
}

/** Whether a verified access token is unexpired and honoured by its grant, as this replica's projection has it now. */
export function accessTokenActive(claims: AccessTokenClaims, deps: Pick<TokenDeps, 'grants'>): boolean {
  const now = Math.floor(Date.now() / 1000);
  return claims.exp > now && deps.grants.honours(claims.grant_id, claims.jti, claims.sub, claims.client_id, now)?.honoured === true;
}
