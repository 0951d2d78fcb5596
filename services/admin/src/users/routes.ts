import Router from '@koa/router';
import type { AdminDeps } from '../deps.ts';

// STUB — to be written (users).
export function userRoutes(_deps: AdminDeps): Router {
  return new Router();
}
