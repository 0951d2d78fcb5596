import Router from '@koa/router';
import type { AdminDeps } from '../deps.ts';

// STUB — to be written (webhooks feature).
export function webhookRoutes(_deps: AdminDeps): Router {
  return new Router();
}
