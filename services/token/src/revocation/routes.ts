import Router from '@koa/router';
import { readForm, eventContextOf } from '@mcp-auth/http';
import { InvalidRequest, OAuthError } from '@mcp-auth/oauth';
import { subjects } from '@mcp-auth/contracts';
import { executeCommand } from '@mcp-auth/event-sourcing';
import { checkAccessToken } from '../access-token-check.ts';
import { assertionAudiences, authenticateClient } from '../client-authentication/authenticate-client.ts';
import type { TokenDeps } from '../deps.ts';
import { decide, type GrantState } from '../grants/decider.ts';
import { executeGrantRevocation } from '../grants/revoke-grant.ts';
import { resolveCredential } from '../token-endpoint/credentials.ts';

/**
 * RFC 7009. A refresh token revokes its whole grant; an access token is revoked by its jti. Tokens that are
 * unknown, expired, or another client's answer 200 all the same (§2.2), so revocation reveals nothing.
 * The answer comes after the event is acknowledged and applied here, so it takes effect at once.
 */
export function revocationRoutes(deps: TokenDeps): Router {
  const router = new Router();
  const audiences = assertionAudiences(deps.config, '/revoke');
  router.post('/revoke', async (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    const form = await readForm(ctx, { error: (status, description) => new OAuthError('invalid_request', description, status) });
    const client = await authenticateClient(ctx, form, { ...deps, audiences });
    if (!form.token) throw new InvalidRequest('token is required.');
    const context = eventContextOf(ctx, { kind: 'client' as const, id: client.clientId });

    const order = form.token_type_hint === 'access_token' ? [accessRevocation, refreshRevocation] : [refreshRevocation, accessRevocation];
    for (const revocation of order) {
      if (await revocation(form.token)) break;
    }
    ctx.status = 200;
    ctx.body = {};

    /**
     * A refresh token revokes its grant (not the user's consent: the client gives up what it holds, and the user
     * keeps the decision to let it in). Whether it was one: false to try it as an access token.
     */
    async function refreshRevocation(token: string): Promise<boolean> {
      const hash = await resolveCredential(token, deps, 1_000).catch(() => null);
      const refresh = hash ? deps.refreshTokens.token(hash) : null;
      if (!refresh) return false;
      // The same event made the token and its grant, and a grant's client never changes: the projection says whose it is.
      if (deps.grants.find(refresh.grantId)?.clientId === client.clientId) {
        await executeGrantRevocation(deps, { type: 'RevokeGrant', data: { grantId: refresh.grantId, reason: 'revoked_by_client' } }, context);
      }
      return true;
    }

    async function accessRevocation(token: string): Promise<boolean> {
      const status = await checkAccessToken(token, deps);
      if (!status) return false;
      const { claims } = status;
      if (claims.client_id !== client.clientId || claims.exp <= Math.floor(Date.now() / 1000)) return true;
      const { grant_id: grantId, jti, exp } = claims;
      const revocation = {
        subject: subjects.grant(grantId),
        load: () => ({ grant: deps.grants.find(grantId), accessTokenRevoked: deps.grants.isAccessTokenRevoked(jti) }),
        decide: (state: GrantState) => decide({ type: 'RevokeAccessToken', data: { grantId, jti, expiresAt: exp } }, state),
      };
      await executeCommand(deps, revocation, context);
      return true;
    }
  });
  return router;
}
