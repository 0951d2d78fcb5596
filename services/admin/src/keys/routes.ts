import Router from '@koa/router';
import { nowSeconds } from '../api/query.ts';
import type { AdminDeps } from '../deps.ts';
import { newestFirst } from './order.ts';

export function signingKeyRoutes(deps: AdminDeps): Router {
  const router = new Router();
  router.get('/signing-keys', (ctx) => {
    const now = nowSeconds();
    ctx.set('Cache-Control', 'no-store');
    ctx.body = {
      keys: newestFirst(deps.signingKeys.all()).map((k) => ({
        kid: k.kid,
        alg: k.alg,
        public_jwk: k.publicJwk,
        signs_until: new Date(k.signsUntil * 1000).toISOString(),
        retire_after: new Date(k.retireAfter * 1000).toISOString(),
        retired_at: k.retiredAt,
        state: k.retiredAt ? 'retired' : k.signsUntil > now ? 'signing' : 'verifying',
      })),
    };
  });
  return router;
}
