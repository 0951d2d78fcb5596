import Router from '@koa/router';
import type { Context } from 'koa';
import { readForm, eventContextOf } from '@mcp-auth/http';
import { OAuthError, UnauthorizedClient, UnsupportedGrantType, InvalidRequest } from '@mcp-auth/oauth';
import { assertionAudiences, authenticateClient } from '../client-authentication/authenticate-client.ts';
import type { TokenDeps } from '../deps.ts';
import { authorizationCodeGrant } from './authorization-code-grant.ts';
import { refreshTokenGrant } from './refresh-token-grant.ts';

const GRANTS = {
  authorization_code: authorizationCodeGrant,
  refresh_token: refreshTokenGrant,
} as const;

export function tokenEndpointRoutes(deps: TokenDeps): Router {
  const router = new Router();
  const audiences = assertionAudiences(deps.config, '/token');

  /** RFC 6749 §3.2 token endpoint. Errors are §5.2 JSON; responses are never cached. */
  router.post('/token', async (ctx: Context) => {
    ctx.set('Cache-Control', 'no-store');
    ctx.set('Pragma', 'no-cache');
    const form = await readForm(ctx, { error: (status, description) => new OAuthError('invalid_request', description, status) });
    const grantType = form.grant_type;
    if (!grantType) throw new InvalidRequest('grant_type is required.');
    if (!Object.hasOwn(GRANTS, grantType)) throw new UnsupportedGrantType(`grant_type ${grantType.slice(0, 60)} is not supported.`);
    const client = await authenticateClient(ctx, form, { ...deps, audiences });
    if (!client.metadata.grant_types.includes(grantType)) throw new UnauthorizedClient(`This client is not registered for the ${grantType} grant.`);
    const handle = GRANTS[grantType as keyof typeof GRANTS];
    ctx.body = await handle(deps, client, form, eventContextOf(ctx, { kind: 'client' as const, id: client.clientId }));
  });

  return router;
}
