import Router from '@koa/router';
import type Koa from 'koa';
import { createServiceApp, healthRoutes } from '@mcp-auth/http';
import { readiness } from '@mcp-auth/event-sourcing';
import { siteIcon } from '@mcp-auth/web';
import { requireAdminBearer } from './access/admin-credential.ts';
import { auditRoutes } from './audit/routes.ts';
import { clientRoutes } from './clients/routes.ts';
import { consoleRoutes } from './console/routes.ts';
import type { AdminDeps } from './deps.ts';
import { grantRoutes } from './grants/routes.ts';
import { signingKeyRoutes } from './keys/routes.ts';
import { userRoutes } from './users/routes.ts';
import { webhookRoutes } from './webhooks/routes.ts';

/** The admin service's HTTP face: the JSON admin API under /admin/api (bearer ADMIN_TOKEN) and the console under /admin. */
export function createAdminApp(deps: AdminDeps): Koa {
  const app = createServiceApp({
    logger: deps.logger,
    proxy: deps.config,
    https: deps.config.ADMIN_BASE_URL.startsWith('https:'),
  });
  const health = new Router();
  healthRoutes(health, readiness(deps.store, deps.projector));
  app.use(health.routes());
  app.use(siteIcon);

  const api = new Router({ prefix: '/admin/api' });
  api.use(requireAdminBearer(deps.credential));
  for (const feature of [clientRoutes(deps), userRoutes(deps), grantRoutes(deps), signingKeyRoutes(deps), auditRoutes(deps), webhookRoutes(deps)]) {
    api.use(feature.routes(), feature.allowedMethods());
  }
  app.use(api.routes());
  app.use(api.allowedMethods());

  const pages = consoleRoutes(deps);
  app.use(pages.routes());
  app.use(pages.allowedMethods());
  return app;
}
