import Router from '@koa/router';
import type { McpToolsConfig } from '../config.ts';

/** RFC 9728 §3.1: the metadata URL inserts the well-known segment between the host and the resource's path. */
export function resourceMetadataUrl(config: McpToolsConfig): string {
  const resource = new URL(config.MCP_RESOURCE_URL);
  const path = resource.pathname === '/' ? '' : resource.pathname.replace(/\/$/, '');
  return `${resource.origin}/.well-known/oauth-protected-resource${path}`;
}

export function protectedResourceMetadata(config: McpToolsConfig): Record<string, unknown> {
  return {
    resource: config.MCP_RESOURCE_URL,
    authorization_servers: [config.ISSUER],
    // The minimal set for basic use; tools that need more answer insufficient_scope and the client steps up.
    scopes_supported: config.DEFAULT_SCOPES,
    bearer_methods_supported: ['header'],
    resource_name: config.RESOURCE_NAME,
  };
}

export function protectedResourceRoutes(config: McpToolsConfig): Router {
  const router = new Router();
  const body = protectedResourceMetadata(config);
  const paths = new Set([new URL(resourceMetadataUrl(config)).pathname, '/.well-known/oauth-protected-resource']);
  for (const path of paths) {
    router.get(path, (ctx) => {
      ctx.set('Cache-Control', 'public, max-age=300');
      ctx.body = body;
    });
  }
  return router;
}
