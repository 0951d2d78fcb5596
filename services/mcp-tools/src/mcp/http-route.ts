import type { IncomingMessage } from 'node:http';
import Router from '@koa/router';
import type { Context } from 'koa';
import { requestOrigin } from '@mcp-auth/http';
import type { Logger } from '@mcp-auth/event-store';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { readJsonBody } from './json-body.ts';
import { bearerChallenge } from '../access/challenges.ts';
import { checkToolScopes } from '../access/scope-check.ts';
import type { Authentication } from './authentication.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { ToolRegistry } from '../tools/registry.ts';
import { createMcpServer, type CallPolicy } from './server.ts';

export type McpRouteOptions = {
  path: string;
  resourceMetadataUrl: string;
  registry: ToolRegistry;
  /** bearerAuthentication in production; withoutAuthentication only for the benchmark switch. */
  authenticate: Authentication;
  isAllowedOrigin: (origin: string | undefined) => boolean;
  policy: Omit<CallPolicy, 'identify'> & { audit: AuditLog };
};

const CORS_ALLOW_HEADERS = 'Authorization, Content-Type, Accept, MCP-Protocol-Version, Mcp-Session-Id, Last-Event-ID';
const CORS_EXPOSE_HEADERS = 'WWW-Authenticate, Mcp-Session-Id';

/**
 * /mcp: Streamable HTTP, stateless (a fresh transport and server per request, so replicas share nothing).
 * In order: the Origin (403 for a foreign page, before anything else), the bearer token (401 with a challenge
 * pointing at the protected-resource metadata, whatever the method), the method, the scopes of the tools called
 * (403 insufficient_scope naming what to ask for), then the MCP SDK.
 */
export function mcpRoutes(options: McpRouteOptions): Router {
  const router = new Router();
  const { resourceMetadataUrl } = options;

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
      // Stateless: no standalone SSE stream (GET) and no session to end (DELETE).
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

    if (identity) withoutCredentials(ctx.req);
    // A server per request, so it knows its caller: tools get the identity from it, not from the SDK.
    const server = createMcpServer(options.registry, { ...options.policy, identify: () => identity }, callOrigin);
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
    ctx.respond = false;
    ctx.res.on('close', () => closeWithoutStackTraces(transport, options.policy.logger));
    await server.connect(transport);
    await transport.handleRequest(ctx.req, ctx.res, body);
  });

  return router;
}

/**
 * Takes the Authorization header out of what the MCP SDK reads. The SDK copies every header into a WHATWG
 * Headers, checking each byte in JavaScript: for a 600-byte token that was 3% of a call's CPU, for nothing,
 * since the route has checked the token and hands its identity to the server it makes. Tools (requestInfo) then
 * never see the raw credential either.
 */
function withoutCredentials(req: IncomingMessage): void {
  const raw = req.rawHeaders;
  const kept: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.length !== 13 || raw[i]!.toLowerCase() !== 'authorization') kept.push(raw[i]!, raw[i + 1]!);
  }
  req.rawHeaders = kept;
}

/**
 * Ends a request's transport, and with it its server (the transport's close is the server's). On every close
 * the SDK makes a "Connection closed" error for the requests the server itself still awaits, whether there
 * are any or not: a stateless server never sends one, so the error is never seen, yet capturing its stack was
 * ~3% of a tool call's CPU. The close runs synchronously, so stack traces are off for exactly that long (an
 * aborted tool's abort listeners run inside it, and their errors carry no stack).
 */
function closeWithoutStackTraces(transport: StreamableHTTPServerTransport, logger: Logger): void {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    // A failed close must not become an unhandled rejection, which would end the process.
    transport.close().catch((err: unknown) => logger.warn({ err: String(err) }, 'closing an MCP transport failed'));
  } finally {
    Error.stackTraceLimit = limit;
  }
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
