import { verifyAccessToken, type AccessTokenClaims } from '@mcp-auth/oauth';
import { grantIsActive } from '@mcp-auth/projections';
import type { TokenDeps } from './deps.ts';

export type AccessTokenStatus = { claims: AccessTokenClaims; active: boolean } | null;

/**
 * An access token this server issued: signature by a published key, our issuer. null if it is not ours.
 * `active` also needs it unexpired, its grant active and its jti unrevoked.
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
  const now = Math.floor(Date.now() / 1000);
  const grant = deps.grants.find(claims.grant_id);
  const active = claims.exp > now && grant !== null && grantIsActive(grant, now) && !deps.grants.isAccessTokenRevoked(claims.jti);
  return { claims, active };
}
