import Router from '@koa/router';
import { subjects } from '@mcp-auth/contracts';
import { readForm, eventContextOf } from '@mcp-auth/http';
import { InvalidRequest, OAuthError } from '@mcp-auth/oauth';
import { catchUpWithSubject, waitForPosition } from '@mcp-auth/projector';
import { checkAccessToken } from '../access-token-check.ts';
import { authenticateClient } from '../client-authentication/authenticate-client.ts';
import type { TokenDeps } from '../deps.ts';
import { decide } from '../grants/decider.ts';
import { resolveCredential } from '../token-endpoint/credentials.ts';

/**
 * RFC 7009. A refresh token revokes its whole grant; an access token is revoked by its jti. Tokens that are
 * unknown, expired, or another client's answer 200 all the same (§2.2), so revocation reveals nothing.
 * The answer comes after the event is acknowledged and applied here, so it takes effect at once.
 */
export function revocationRoutes(deps: TokenDeps): Router {
  const router = new Router();
  router.post('/revoke', async (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    const form = await readForm(ctx, { error: (status, description) => new OAuthError('invalid_request', description, status) });
    const client = await authenticateClient(ctx, form, deps);
    if (!form.token) throw new InvalidRequest('token is required.');
    const context = eventContextOf(ctx, { kind: 'client' as const, id: client.clientId });

    const order = form.token_type_hint === 'access_token' ? ['access', 'refresh'] : ['refresh', 'access'];
    for (const kind of order) {
      const events = kind === 'refresh' ? await refreshRevocation(form.token) : await accessRevocation(form.token);
      if (events === null) continue;
      if (events.length > 0) {
        const position = await deps.store.appendDecided(events, context);
        if (position !== null) await waitForPosition(deps.projector, position);
      }
      break;
    }
    ctx.status = 200;
    ctx.body = {};

    async function refreshRevocation(token: string) {
      const hash = await resolveCredential(token, deps, 1_000).catch(() => null);
      const refresh = hash ? deps.refreshTokens.token(hash) : null;
      if (!refresh) return null;
      await catchUpWithSubject(deps.store, deps.projector, subjects.grant(refresh.grantId));
      const grant = deps.grants.find(refresh.grantId);
      if (grant?.clientId !== client.clientId) return [];
      return decide({ type: 'RevokeGrant', data: { grantId: grant.grantId, reason: 'revoked_by_client' } }, { grant });
    }

    async function accessRevocation(token: string) {
      const status = await checkAccessToken(token, deps);
      if (!status) return null;
      const { claims } = status;
      if (claims.client_id !== client.clientId || claims.exp <= Math.floor(Date.now() / 1000)) return [];
      return decide(
        { type: 'RevokeAccessToken', data: { grantId: claims.grant_id, jti: claims.jti, expiresAt: claims.exp } },
        { grant: deps.grants.find(claims.grant_id), accessTokenRevoked: deps.grants.isAccessTokenRevoked(claims.jti) },
      );
    }
  });
  return router;
}
