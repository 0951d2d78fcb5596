import Router from '@koa/router';
import type Koa from 'koa';
import { createServiceApp, healthRoutes, publicCors } from '@mcp-auth/http';
import type { EventStore } from '@mcp-auth/event-store';
import { readiness, type Projector } from '@mcp-auth/event-sourcing';
import type { Logger } from '@mcp-auth/http';
import { allowsLoopbackOrigins, type McpToolsConfig } from './config.ts';
import { originPolicy } from './access/origin-guard.ts';
import type { TokenVerifier } from './access/token-verifier.ts';
import { bearerAuthentication, withoutAuthentication } from './mcp/authentication.ts';
import { mcpRoutes } from './mcp/http-route.ts';
import type { CallPolicy } from './mcp/server.ts';
import { protectedResourceRoutes, resourceMetadataUrl, resourceScopes } from './protected-resource/metadata.ts';
import type { ToolRegistry } from './tools/registry.ts';

export type McpToolsDeps = {
  config: McpToolsConfig;
  store: EventStore;
  projector: Projector;
  logger: Logger;
  registry: ToolRegistry;
  verifier: TokenVerifier;
  policy: Omit<CallPolicy, 'identify'>;
};

export function createMcpToolsApp(deps: McpToolsDeps): Koa {
  const { config } = deps;
  const app = createServiceApp({ logger: deps.logger, proxy: config, https: config.MCP_RESOURCE_URL.startsWith('https:') });
  app.use(publicCors((path) => path.startsWith('/.well-known/oauth-protected-resource')));
  const health = new Router();
  healthRoutes(health, readiness(deps.store, deps.projector));
  const scopes = resourceScopes(config, deps.registry);
  const metadataUrl = resourceMetadataUrl(config);
  const mcp = mcpRoutes({
    path: new URL(config.MCP_RESOURCE_URL).pathname,
    resourceMetadataUrl: metadataUrl,
    registry: deps.registry,
    authenticate: config.UNSAFE_BENCHMARK_WITHOUT_AUTH
      ? withoutAuthentication
      : bearerAuthentication({ verifier: deps.verifier, resourceMetadataUrl: metadataUrl, challengeScopes: scopes }),
    isAllowedOrigin: originPolicy({
      ownOrigins: [new URL(config.MCP_RESOURCE_URL).origin, new URL(config.ISSUER).origin],
      extraOrigins: config.ALLOWED_ORIGINS,
      allowLoopback: allowsLoopbackOrigins(config),
    }),
    policy: deps.policy,
  });
  for (const router of [health, protectedResourceRoutes(config, scopes), mcp]) {
    app.use(router.routes());
    app.use(router.allowedMethods());
  }
  return app;
}
