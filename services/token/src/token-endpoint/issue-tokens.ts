import { randomUUID } from 'node:crypto';
import { attachPosition, formatScope, hashSecret, randomToken } from '@mcp-auth/oauth';
import type { TokenDeps } from '../deps.ts';
import { signAccessToken } from '../signing/access-tokens.ts';

/** Fresh token material for one issuance; decided on before the event, returned to the client after it. */
export function newTokenMaterial(config: TokenDeps['config'], nowSeconds: number) {
  const refreshSecret = randomToken(32);
  return {
    refreshSecret,
    refreshTokenHash: hashSecret(refreshSecret),
    accessTokenJti: randomUUID(),
    accessTokenExpiresAt: nowSeconds + config.ACCESS_TOKEN_TTL_SECONDS,
  };
}

export type TokenResponseInput = {
  userId: string;
  clientId: string;
  resource: string;
  scopes: readonly string[];
  grantId: string;
  jti: string;
  issuedAt: number;
  expiresAt: number;
  /** The event that issued these tokens; both tokens carry its position. */
  position: number;
  refreshSecret: string | null;
};

/** RFC 6749 §5.1 token response with an RFC 9068 access token. */
export async function tokenResponse(deps: Pick<TokenDeps, 'config' | 'keyRing'>, input: TokenResponseInput): Promise<Record<string, unknown>> {
  const accessToken = signAccessToken(deps.keyRing.current(), {
    issuer: deps.config.ISSUER,
    userId: input.userId,
    clientId: input.clientId,
    resource: input.resource,
    scopes: input.scopes,
    jti: input.jti,
    grantId: input.grantId,
    issuedAt: input.issuedAt,
    expiresAt: input.expiresAt,
    streamPosition: input.position,
  });
  return {
    access_token: accessToken,
    token_type: 'Bearer',
    expires_in: input.expiresAt - input.issuedAt,
    ...(input.refreshSecret ? { refresh_token: attachPosition(input.refreshSecret, input.position) } : {}),
    scope: formatScope(input.scopes),
  };
}
