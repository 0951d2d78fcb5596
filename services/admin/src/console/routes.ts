import Router from '@koa/router';
import type { AdminDeps } from '../deps.ts';

// STUB — to be written (console).
export function consoleRoutes(_deps: AdminDeps): Router {
  return new Router();
}
