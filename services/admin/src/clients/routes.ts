import Router from '@koa/router';
import type { AdminDeps } from '../deps.ts';

// STUB — to be written (clients).
export function clientRoutes(_deps: AdminDeps): Router {
  return new Router();
}
