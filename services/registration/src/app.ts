import Router from '@koa/router';
import type Koa from 'koa';
import { createServiceApp, healthRoutes, publicCors, type Logger } from '@mcp-auth/http';
import type { EventStore } from '@mcp-auth/event-store';
import { readiness, type Projector } from '@mcp-auth/event-sourcing';
import type { RegistrationConfig } from './config.ts';
import { clientRegistrationRoutes } from './clients/routes.ts';

export function createRegistrationApp(deps: { config: RegistrationConfig; store: EventStore; projector: Projector; logger: Logger }): Koa {
  const app = createServiceApp({
    logger: deps.logger,
    proxy: deps.config,
    https: deps.config.REGISTRATION_BASE_URL.startsWith('https:'),
  });
  // Browser-based clients (the MCP Inspector) register from their own page.
  app.use(publicCors((path) => path === '/register' || path.startsWith('/register/')));
  const health = new Router();
  healthRoutes(health, readiness(deps.store, deps.projector));
  const registration = clientRegistrationRoutes(deps);
  app.use(health.routes());
  app.use(registration.routes());
  app.use(registration.allowedMethods());
  return app;
}
