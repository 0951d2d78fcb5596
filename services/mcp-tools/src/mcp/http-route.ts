import Router from '@koa/router';
import { requestOrigin } from '@mcp-auth/http';
import { readJsonBody } from './json-body.ts';
import { bearerChallenge } from '../access/challenges.ts';
import { checkToolScopes } from '../access/scope-check.ts';
import type { Authentication } from './authentication.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { ToolRegistry } from '../tools/registry.ts';
import { createLegacyMcpServer, type CallPolicy } from './server.ts';
import { protocolEras } from './protocol-eras.ts';

export type McpRouteOptions = {
  path: string;
  resourceMetadataUrl: string;
  registry: ToolRegistry;
  /** bearerAuthentication in production; withoutAuthentication only for the benchmark switch. */
  authenticate: Authentication;
  isAllowedOrigin: (origin: string | undefined) => boolean;
  policy: Omit<CallPolicy, 'identify'> & { audit: AuditLog };
};

const CORS_ALLOW_HEADERS = 'Authorization, Content-Type, Accept, MCP-Protocol-Version, Mcp-Method, Mcp-Name, Mcp-Session-Id, Last-Event-ID';
const CORS_EXPOSE_HEADERS = 'WWW-Authenticate, Mcp-Session-Id';

/**
 * /mcp: Streamable HTTP, stateless (a fresh server per request, so replicas share nothing), for MCP 2026-07-28
 * and the 2025 era at one URL. In order: the Origin (403 for a foreign page, before anything else), the bearer
 * token (401 with a challenge pointing at the protected-resource metadata, whatever the method), the method,
 * the scopes of the tools called (403 insufficient_scope naming what to ask for), then the MCP SDK, whose
 * answer depends on the request's protocol revision (protocolEras). Every check before the SDK is the same for
 * both revisions, and so are the tools, their audit and their quotas.
 */
export function mcpRoutes(options: McpRouteOptions): Router {
  const router = new Router();
  const { resourceMetadataUrl } = options;
  const serve = protocolEras({
    path: options.path,
    modernLeg: once(async () => {
      const [{ modernLeg }, { createMcpServer }] = await Promise.all([import('./modern-leg.ts'), import('./modern-server.ts')]);
      return modernLeg({ path: options.path, serverFor: ({ identity, origin }) => createMcpServer(options.registry, { ...options.policy, identify: () => identity }, origin), logger: options.policy.logger });
    }),
    legacyServerFor: ({ identity, origin }) => createLegacyMcpServer(options.registry, { ...options.policy, identify: () => identity }, origin),
    logger: options.policy.logger,
  });

  router.all(options.path, async (ctx) => {
    const origin = ctx.get('Origin') || undefined;
    if (!options.isAllowedOrigin(origin)) {
      ctx.status = 403;
      ctx.body = { error: 'forbidden', error_description: 'Requests from this origin are not allowed.' };
      return;
    }
    if (origin) {
      ctx.set('Access-Control-Allow-Origin', origin);
      ctx.set('Access-Control-Expose-Headers', CORS_EXPOSE_HEADERS);
      ctx.vary('Origin');
    }
    if (ctx.method === 'OPTIONS') {
      ctx.set('Access-Control-Allow-Methods', 'POST, GET, DELETE, OPTIONS');
      ctx.set('Access-Control-Allow-Headers', CORS_ALLOW_HEADERS);
      ctx.set('Access-Control-Max-Age', '600');
      ctx.status = 204;
      return;
    }

    const identity = await options.authenticate(ctx);
    if (identity === undefined) return;
    // After the token check, so that a client probing with GET (mcp-remote does) starts discovery from the challenge.
    if (ctx.method !== 'POST') {
      // Stateless: no standalone SSE stream (GET) and no session to end (DELETE), in either revision.
      ctx.set('Allow', 'POST, OPTIONS');
      ctx.status = 405;
      ctx.body = { jsonrpc: '2.0', error: { code: -32000, message: 'Method not allowed: this server is stateless; use POST.' }, id: null };
      return;
    }

    const body = await readJsonBody(ctx);
    if (body === undefined) return;

    const callOrigin = requestOrigin(ctx);
    if (identity) {
      for (const call of toolCalls(body)) {
        const tool = options.registry.get(call);
        const refusal = tool ? checkToolScopes(tool, identity, options.policy.audit, callOrigin) : null;
        if (!refusal) continue;
        ctx.status = 403;
        ctx.set('WWW-Authenticate', bearerChallenge({ resourceMetadata: resourceMetadataUrl, scope: refusal.needed, error: 'insufficient_scope', description: refusal.description }));
        ctx.body = { error: 'insufficient_scope', error_description: refusal.description, scope: refusal.needed.join(' ') };
        return;
      }
    }

    await serve(ctx, body, { identity, origin: callOrigin });
  });

  return router;
}

/** Names of the tools a JSON-RPC message (or batch) calls. */
function toolCalls(body: unknown): string[] {
  const messages = Array.isArray(body) ? body : [body];
  const names: string[] = [];
  for (const message of messages) {
    const m = message as { method?: unknown; params?: { name?: unknown } } | null;
    if (m && m.method === 'tools/call' && typeof m.params?.name === 'string') names.push(m.params.name);
  }
  return names;
}

/** The first call's promise, shared by every later one. */
function once<T>(load: () => Promise<T>): () => Promise<T> {
  let loading: Promise<T> | undefined;
  return () => (loading ??= load());
}
