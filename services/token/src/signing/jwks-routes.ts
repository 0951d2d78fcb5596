import Router from '@koa/router';
import type { SigningKeysReadModel } from '@mcp-auth/read-models';

/** Every published key that may still have live tokens, from whichever replica made it. */
export function jwksRoutes(keys: SigningKeysReadModel): Router {
  const router = new Router();
  router.get('/jwks.json', (ctx) => {
    ctx.set('Cache-Control', 'public, max-age=60');
    ctx.body = { keys: keys.usable(Math.floor(Date.now() / 1000)).map((k) => k.publicJwk) };
  });
  return router;
}
