import type { EventContext } from '@mcp-auth/contracts';
import { InvalidRequest, randomToken } from '@mcp-auth/oauth';
import type { RegisteredClient } from '@mcp-auth/read-models';
import type { RedeemCode } from '../codes/decider.ts';
import { executeRedemption } from '../codes/redeem-code.ts';
import type { TokenDeps } from '../deps.ts';
import { resolveGrantCredential } from './credentials.ts';
import { newTokenMaterial, tokenResponse } from './issue-tokens.ts';

/**
 * grant_type=authorization_code: the code is redeemed once (`codes/redeem-code.ts`), and the tokens generated
 * for the redemption go to the client.
 */
export async function authorizationCodeGrant(deps: TokenDeps, client: RegisteredClient, form: Record<string, string>, actor: EventContext) {
  if (!form.code) throw new InvalidRequest('code is required.');
  const codeHash = await resolveGrantCredential(form.code, deps);
  const nowSeconds = Math.floor(Date.now() / 1000);
  const material = newTokenMaterial(deps.config, nowSeconds);
  const grantId = randomToken(16);
  const command: RedeemCode = {
    type: 'RedeemCode',
    data: {
      clientId: client.clientId,
      redirectUri: form.redirect_uri,
      codeVerifier: form.code_verifier,
      resource: form.resource,
      nowSeconds,
      issue: {
        grantId,
        refreshTokenHash: material.refreshTokenHash,
        accessTokenJti: material.accessTokenJti,
        accessTokenExpiresAt: material.accessTokenExpiresAt,
        grantExpiresAt: nowSeconds + Math.round(deps.config.GRANT_LIFETIME_DAYS * 86_400),
      },
    },
  };
  const { code, position } = await executeRedemption(deps, codeHash, command, actor);
  const issuesRefresh = client.metadata.grant_types.includes('refresh_token');
  return tokenResponse(deps, {
    userId: code.userId,
    clientId: client.clientId,
    resource: code.resource,
    scopes: code.scopes,
    grantId,
    jti: material.accessTokenJti,
    issuedAt: nowSeconds,
    expiresAt: material.accessTokenExpiresAt,
    position,
    // A client registered without the refresh_token grant gets none (its hash in the event matches nothing handed out).
    refreshSecret: issuesRefresh ? material.refreshSecret : null,
  });
}
