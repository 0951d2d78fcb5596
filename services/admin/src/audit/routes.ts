import Router from '@koa/router';
import type { AdminDeps } from '../deps.ts';

// STUB — to be written (audit feature).
export function auditRoutes(_deps: AdminDeps): Router {
  return new Router();
}
