import Router from '@koa/router';
import { z } from 'zod';
import { notFound, nowSeconds, page, parseQuery, searchText } from '../api/query.ts';
import { grantJson, userJson } from '../api/presenters.ts';
import type { AdminDeps } from '../deps.ts';

const ListUsers = z.object({ q: searchText, ...page });

/** GET /users (search by username), GET /users/:id (with the user's grants). */
export function userRoutes(deps: AdminDeps): Router {
  const router = new Router();

  router.get('/users', (ctx) => {
    const { q, limit, offset } = parseQuery(ctx, ListUsers);
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { users: deps.users.search(q, limit, offset).map(userJson) };
  });

  router.get('/users/:userId', (ctx) => {
    const { userId } = ctx.params as { userId: string };
    const user = userId.length <= 200 ? deps.users.find(userId) : null;
    if (!user) throw notFound('user');
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { ...userJson(user), grants: deps.grantList.list({ userId, nowSeconds: nowSeconds(), limit: 500 }).map(grantJson) };
  });

  return router;
}
