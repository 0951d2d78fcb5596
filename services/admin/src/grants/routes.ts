import Router from '@koa/router';
import type { AdminDeps } from '../deps.ts';

// STUB — to be written (grants).
export function grantRoutes(_deps: AdminDeps): Router {
  return new Router();
}
