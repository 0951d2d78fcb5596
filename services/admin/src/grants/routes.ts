import Router from '@koa/router';
import { z } from 'zod';
import { eventContextOf } from '@mcp-auth/http';
import { notFound, nowSeconds, page, parseQuery } from '../api/query.ts';
import { grantJson } from '../api/presenters.ts';
import type { AdminDeps } from '../deps.ts';
import { GrantNotFound, revokeGrant } from './revoke-grant.ts';

const ListGrants = z.object({
  user: z.string().max(200).optional(),
  client: z.string().max(200).optional(),
  live: z.enum(['true', 'false']).default('false'),
  ...page,
});

/** GET /grants (by user, client, live only), POST /grants/:id/revoke. */
export function grantRoutes(deps: AdminDeps): Router {
  const router = new Router();

  router.get('/grants', (ctx) => {
    const { user, client, live, limit, offset } = parseQuery(ctx, ListGrants);
    ctx.set('Cache-Control', 'no-store');
    ctx.body = {
      grants: deps.grantList.list({ userId: user ?? null, clientId: client ?? null, liveOnly: live === 'true', nowSeconds: nowSeconds(), limit, offset }).map(grantJson),
    };
  });

  router.post('/grants/:grantId/revoke', async (ctx) => {
    const { grantId } = ctx.params as { grantId: string };
    try {
      const outcome = await revokeGrant(deps, grantId, eventContextOf(ctx, ctx.state.actor));
      const [grant] = deps.grantList.list({ grantId, nowSeconds: nowSeconds(), limit: 1 });
      ctx.body = { outcome, ...(grant ? { grant: grantJson(grant) } : {}) };
    } catch (err) {
      if (err instanceof GrantNotFound) throw notFound('grant');
      throw err;
    }
  });

  return router;
}
