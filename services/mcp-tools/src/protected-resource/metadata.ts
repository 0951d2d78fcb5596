import Router from '@koa/router';
import type { McpToolsConfig } from '../config.ts';
import type { ToolRegistry } from '../tools/registry.ts';

/** RFC 9728 §3.1: the metadata URL inserts the well-known segment between the host and the resource's path. */
export function resourceMetadataUrl(config: McpToolsConfig): string {
  const resource = new URL(config.MCP_RESOURCE_URL);
  const path = resource.pathname === '/' ? '' : resource.pathname.replace(/\/$/, '');
  return `${resource.origin}/.well-known/oauth-protected-resource${path}`;
}

/**
 * Every scope this resource accepts: the defaults and each scope a served tool needs, in the catalogue's order
 * (a scope outside the catalogue could not be granted, and non-tool scopes such as offline_access are not the
 * resource's to name). Clients ask for what the metadata and the 401 challenge name (MCP 2025-11-25 "Scope
 * Selection Strategy"), so naming every tool's scope makes every tool reachable; the user still narrows it on the
 * consent page, where the scopes beyond the defaults are optional.
 */
export function resourceScopes(config: McpToolsConfig, registry: ToolRegistry): string[] {
  const wanted = new Set([...config.DEFAULT_SCOPES, ...registry.all().flatMap((tool) => tool.requiredScopes)]);
  return config.SCOPES.map((s) => s.name).filter((name) => wanted.has(name));
}

export function protectedResourceMetadata(config: McpToolsConfig, scopes: readonly string[]): Record<string, unknown> {
  return {
    resource: config.MCP_RESOURCE_URL,
    authorization_servers: [config.ISSUER],
    scopes_supported: scopes,
    bearer_methods_supported: ['header'],
    resource_name: config.RESOURCE_NAME,
  };
}

export function protectedResourceRoutes(config: McpToolsConfig, scopes: readonly string[]): Router {
  const router = new Router();
  const body = protectedResourceMetadata(config, scopes);
  const paths = new Set([new URL(resourceMetadataUrl(config)).pathname, '/.well-known/oauth-protected-resource']);
  for (const path of paths) {
    router.get(path, (ctx) => {
      ctx.set('Cache-Control', 'public, max-age=300');
      ctx.body = body;
    });
  }
  return router;
}
