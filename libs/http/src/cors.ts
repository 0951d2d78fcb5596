import cors from '@koa/cors';
import type { Context, Middleware, Next } from 'koa';

/**
 * CORS for public protocol endpoints (metadata, /register, /token, /revoke): any origin may call them,
 * never with cookies, so a browser-based client such as the MCP Inspector can use them from its page.
 */
export function publicCors(matches: (path: string) => boolean, exposeHeaders: string[] = []): Middleware {
  const handle = cors({
    origin: '*',
    credentials: false,
    allowMethods: ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS'],
    allowHeaders: ['Authorization', 'Content-Type', 'Accept', 'MCP-Protocol-Version', 'Mcp-Session-Id', 'Last-Event-ID', 'X-Request-Id'],
    exposeHeaders: ['WWW-Authenticate', 'Retry-After', 'X-Request-Id', ...exposeHeaders],
    maxAge: 600,
  });
  return async function corsForPublicEndpoints(ctx: Context, next: Next) {
    if (matches(ctx.path)) return handle(ctx, next);
    return next();
  };
}
