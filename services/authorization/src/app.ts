import Router from '@koa/router';
import type Koa from 'koa';
import type { Context, Next } from 'koa';
import { HttpError, createServiceApp, healthRoutes, publicCors } from '@mcp-auth/http';
import { readiness } from '@mcp-auth/event-sourcing';
import { authorizeRoutes } from './authorize/routes.ts';
import { connectedAppsRoutes } from './connected-apps/routes.ts';
import { metadataRoutes } from './metadata/routes.ts';
import { signInRoutes } from './sign-in/routes.ts';
import type { AuthorizationDeps } from './web/context.ts';
import { sendPage, siteIcon } from '@mcp-auth/web';
import { errorPage } from './web/pages.ts';
import { STYLESHEET } from './web/style.ts';

export function createAuthorizationApp(deps: AuthorizationDeps): Koa {
  const app = createServiceApp({ logger: deps.logger, proxy: deps.config, https: deps.cookies.secure });
  app.use(publicCors((path) => path.startsWith('/.well-known/')));
  app.use(pageErrors);
  app.use(siteIcon);

  const infrastructure = new Router();
  healthRoutes(infrastructure, readiness(deps.store, deps.projector));
  infrastructure.get('/assets/style.css', (ctx) => {
    ctx.type = 'text/css; charset=utf-8';
    ctx.set('Cache-Control', 'public, max-age=3600');
    ctx.body = STYLESHEET;
  });

  for (const router of [infrastructure, metadataRoutes(deps.config), signInRoutes(deps), authorizeRoutes(deps), connectedAppsRoutes(deps)]) {
    app.use(router.routes());
    app.use(router.allowedMethods());
  }
  return app;
}

/** People see pages, not JSON: a refused form post or an oversized body gets an error page (and never a stack trace). */
async function pageErrors(ctx: Context, next: Next): Promise<void> {
  const isPage = !ctx.path.startsWith('/.well-known/') && !['/healthz', '/readyz', '/metrics'].includes(ctx.path);
  if (!isPage) return next();
  try {
    await next();
  } catch (err) {
    if (!(err instanceof HttpError) || err.status >= 500) throw err;
    for (const [name, value] of Object.entries(err.headers)) ctx.set(name, value);
    const description = typeof err.body.error_description === 'string' ? err.body.error_description : 'The request could not be handled.';
    sendPage(ctx, { title: 'Error', status: err.status, body: errorPage(description) });
  }
}
