import Router from '@koa/router';
import type Koa from 'koa';
import { createServiceApp, healthRoutes, publicCors } from '@mcp-auth/http';
import { readiness } from '@mcp-auth/event-sourcing';
import type { TokenDeps } from './deps.ts';
import { introspectionRoutes } from './introspection/routes.ts';
import { revocationRoutes } from './revocation/routes.ts';
import { jwksRoutes } from './signing/jwks-routes.ts';
import { tokenEndpointRoutes } from './token-endpoint/routes.ts';

export function createTokenApp(deps: TokenDeps): Koa {
  const app = createServiceApp({ logger: deps.logger, proxy: deps.config, https: deps.config.TOKEN_BASE_URL.startsWith('https:') });
  // Browser-based clients exchange codes and revoke tokens from their own page; introspection is server-to-server.
  app.use(publicCors((path) => path === '/token' || path === '/revoke' || path === '/jwks.json'));
  const health = new Router();
  healthRoutes(health, readiness(deps.store, deps.projector));
  for (const router of [health, tokenEndpointRoutes(deps), revocationRoutes(deps), introspectionRoutes(deps), jwksRoutes(deps.signingKeys)]) {
    app.use(router.routes());
    app.use(router.allowedMethods());
  }
  return app;
}
