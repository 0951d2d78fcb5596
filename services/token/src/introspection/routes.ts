import Router from '@koa/router';
import { readForm } from '@mcp-auth/http';
import { InvalidClient, InvalidRequest, OAuthError, hashSecret, secretMatchesHash } from '@mcp-auth/oauth';
import { subjects } from '@mcp-auth/contracts';
import { grantIsActive } from '@mcp-auth/read-models';
import { catchUpWithSubject } from '@mcp-auth/event-sourcing';
import { accessTokenActive, checkAccessToken } from '../access-token-check.ts';
import { presentedCredentials } from '../client-authentication/authenticate-client.ts';
import type { TokenDeps } from '../deps.ts';
import { resolveCredential } from '../token-endpoint/credentials.ts';

/** "id:secret,id:secret" → id → hash of secret; the secrets themselves are not kept. */
export function parseIntrospectionCredentials(value: string | undefined): Map<string, string> {
  const credentials = new Map<string, string>();
  for (const entry of (value ?? '').split(',').map((e) => e.trim()).filter(Boolean)) {
    const colon = entry.indexOf(':');
    if (colon <= 0 || colon === entry.length - 1) throw new Error('INTROSPECTION_CREDENTIALS entries must look like id:secret');
    credentials.set(entry.slice(0, colon), hashSecret(entry.slice(colon + 1)));
  }
  return credentials;
}

/**
 * RFC 7662, for resource servers that cannot verify our JWTs themselves. Only configured resource-server
 * credentials may call it. Revoked, expired, unknown and foreign tokens are all just { active: false }.
 */
export function introspectionRoutes(deps: TokenDeps): Router {
  const router = new Router();
  const credentials = parseIntrospectionCredentials(deps.config.INTROSPECTION_CREDENTIALS);

  router.post('/introspect', async (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    const form = await readForm(ctx, { error: (status, description) => new OAuthError('invalid_request', description, status) });
    const presented = presentedCredentials(ctx.get('Authorization'), form);
    const expected = credentials.get(presented.clientId);
    if (!expected || !presented.secret || !secretMatchesHash(presented.secret, expected)) {
      throw new InvalidClient('Resource server authentication failed.', { basic: presented.method === 'client_secret_basic' });
    }
    if (!form.token) throw new InvalidRequest('token is required.');

    const access = await checkAccessToken(form.token, deps);
    if (access?.active) {
      // A resource server acts on "active": the grant's newest event (a rotation, a revocation) is read
      // from the log and applied here before saying so, as it may have been written a moment ago.
      await catchUpWithSubject(deps.store, deps.projector, subjects.grant(access.claims.grant_id));
      access.active = accessTokenActive(access.claims, deps);
    }
    if (access) {
      const { claims, active } = access;
      ctx.body = active
        ? { active: true, token_type: 'Bearer', scope: claims.scope, client_id: claims.client_id, sub: claims.sub, aud: claims.aud, iss: claims.iss, exp: claims.exp, iat: claims.iat, jti: claims.jti, grant_id: claims.grant_id }
        : { active: false };
      return;
    }
    const hash = await resolveCredential(form.token, deps, 1_000).catch(() => null);
    const grantId = hash ? deps.refreshTokens.token(hash)?.grantId : undefined;
    if (grantId) await catchUpWithSubject(deps.store, deps.projector, subjects.grant(grantId));
    const refresh = hash ? deps.refreshTokens.token(hash) : null;
    const grant = refresh ? deps.grants.find(refresh.grantId) : null;
    const current = refresh !== null && refresh.spentAtMs === null;
    ctx.body =
      grant && current && grantIsActive(grant, Math.floor(Date.now() / 1000))
        ? { active: true, token_type: 'refresh_token', scope: grant.scopes.join(' '), client_id: grant.clientId, sub: grant.userId, aud: grant.resource, exp: grant.expiresAt, grant_id: grant.grantId }
        : { active: false };
  });
  return router;
}
