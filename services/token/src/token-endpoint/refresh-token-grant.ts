import type { EventContext } from '@mcp-auth/contracts';
import { InvalidRequest, InvalidScope, parseScope } from '@mcp-auth/oauth';
import type { RegisteredClient } from '@mcp-auth/read-models';
import type { TokenDeps } from '../deps.ts';
import type { RefreshGrant } from '../refresh/decider.ts';
import { executeRotation } from '../refresh/rotate-refresh-token.ts';
import { resolveGrantCredential } from './credentials.ts';
import { newTokenMaterial, tokenResponse } from './issue-tokens.ts';

/**
 * grant_type=refresh_token: the refresh token is rotated (`refresh/rotate-refresh-token.ts`), and the tokens
 * generated for the try that rotated go to the client.
 */
export async function refreshTokenGrant(deps: TokenDeps, client: RegisteredClient, form: Record<string, string>, actor: EventContext) {
  if (!form.refresh_token) throw new InvalidRequest('refresh_token is required.');
  const requestedScopes = form.scope === undefined ? null : parseScope(form.scope);
  if (requestedScopes === null && form.scope !== undefined) throw new InvalidScope('scope is malformed.');
  const presentedHash = await resolveGrantCredential(form.refresh_token, deps);
  const newTry = () => {
    const nowMs = Date.now();
    const nowSeconds = Math.floor(nowMs / 1000);
    const material = newTokenMaterial(deps.config, nowSeconds);
    const command: RefreshGrant = {
      type: 'RefreshGrant',
      data: {
        clientId: client.clientId,
        presentedHash,
        requestedScopes,
        resource: form.resource,
        newRefreshTokenHash: material.refreshTokenHash,
        accessTokenJti: material.accessTokenJti,
        accessTokenExpiresAt: material.accessTokenExpiresAt,
        nowMs,
        policy: { graceMs: deps.config.REFRESH_GRACE_SECONDS * 1000, maxGraceRetries: deps.config.REFRESH_GRACE_MAX_RETRIES },
      },
    };
    return { command, material, nowSeconds };
  };
  const { tried, grant, scopes, position } = await executeRotation(deps, presentedHash, newTry, actor);
  return tokenResponse(deps, {
    userId: grant.userId,
    clientId: client.clientId,
    resource: grant.resource,
    scopes,
    grantId: grant.grantId,
    jti: tried.material.accessTokenJti,
    issuedAt: tried.nowSeconds,
    expiresAt: tried.material.accessTokenExpiresAt,
    position,
    refreshSecret: tried.material.refreshSecret,
  });
}
