/**
 * Issue 22 spike (docs/design/issue-22.md §5): the shape /mcp takes to serve MCP 2026-07-28 beside 2025-era
 * clients with @modelcontextprotocol/server 2.x on Koa. Not wired into the service; the wiring lifts it into
 * services/mcp-tools/src/mcp/http-route.ts. In order: bearer token (401 for every method, GET included), the JSON
 * body, the era (classifyInboundRequest: pure, from the headers and the parsed body), the scopes of a tools/call
 * read from the body (403 insufficient_scope, the same for both eras), then one server factory behind two legs:
 * createMcpHandler (modern only) and a per-request WebStandardStreamableHTTPServerTransport answering JSON (2025).
 */
import { Readable } from 'node:stream';
import Router from '@koa/router';
import type { Context } from 'koa';
import { Server, WebStandardStreamableHTTPServerTransport, classifyInboundRequest, createMcpHandler, type AuthInfo, type CallToolResult } from '@modelcontextprotocol/server';

export type SpikeTool = { name: string; requiredScopes: string[]; run(args: Record<string, unknown>, who: AuthInfo, era: 'legacy' | 'modern'): string };

export type SpikeOptions = {
  path: string;
  resourceMetadata: string;
  tools: SpikeTool[];
  /** Token → who it speaks for, or null. */
  verify(token: string): AuthInfo | null;
};

export function v2Route(options: SpikeOptions): Router {
  const factory = ({ era, authInfo }: { era: 'legacy' | 'modern'; authInfo?: AuthInfo }) => {
    const server = new Server({ name: 'mcp-auth-tools', version: '0.1.0' }, { capabilities: { tools: { listChanged: false } } });
    server.setRequestHandler('tools/list', () => ({
      tools: options.tools.map((t) => ({ name: t.name, description: t.name, inputSchema: { type: 'object' as const }, _meta: { requiredScopes: t.requiredScopes } })),
    }));
    server.setRequestHandler('tools/call', (request): CallToolResult => {
      const tool = options.tools.find((t) => t.name === request.params.name);
      if (!tool) return { content: [{ type: 'text', text: 'unknown tool' }], isError: true };
      return { content: [{ type: 'text', text: tool.run(request.params.arguments ?? {}, authInfo!, era) }] };
    });
    return server;
  };
  const modern = createMcpHandler(factory, { legacy: 'reject', responseMode: 'json' });

  const challenge = (ctx: Context, status: number, params: string) => {
    ctx.status = status;
    ctx.set('WWW-Authenticate', `Bearer ${params}resource_metadata="${options.resourceMetadata}"`);
    ctx.body = { error: status === 401 ? 'invalid_token' : 'insufficient_scope' };
  };

  const router = new Router();
  router.all(options.path, async (ctx) => {
    const token = /^Bearer (\S+)$/i.exec(ctx.get('Authorization'))?.[1];
    const who = token ? options.verify(token) : null;
    if (!who) return challenge(ctx, 401, '');
    let body: unknown;
    if (ctx.method === 'POST') {
      try {
        body = JSON.parse(await readText(ctx));
      } catch {
        ctx.status = 400;
        ctx.body = { jsonrpc: '2.0', error: { code: -32700, message: 'Parse error' }, id: null };
        return;
      }
    }
    const call = body as { method?: string; params?: { name?: string } } | undefined;
    if (call?.method === 'tools/call') {
      const tool = options.tools.find((t) => t.name === call.params?.name);
      const missing = tool?.requiredScopes.filter((s) => !who.scopes.includes(s)) ?? [];
      if (missing.length > 0) return challenge(ctx, 403, `error="insufficient_scope", scope="${[...who.scopes, ...missing].join(' ')}", `);
    }
    const era = classifyInboundRequest({
      httpMethod: ctx.method,
      ...header(ctx, 'mcp-protocol-version', 'protocolVersionHeader'),
      ...header(ctx, 'mcp-method', 'mcpMethodHeader'),
      ...header(ctx, 'mcp-name', 'mcpNameHeader'),
      ...(body !== undefined ? { body } : {}),
    });
    const request = webRequest(ctx, body);
    let response: Response;
    if (era.kind === 'legacy') {
      const server = factory({ era: 'legacy', authInfo: who });
      const transport = new WebStandardStreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
      await server.connect(transport);
      response = await transport.handleRequest(request, { parsedBody: body, authInfo: who });
      ctx.res.on('close', () => void transport.close());
    } else {
      response = await modern.fetch(request, { parsedBody: body, authInfo: who });
    }
    ctx.status = response.status;
    response.headers.forEach((value, name) => ctx.set(name, value));
    ctx.body = response.body ? Readable.fromWeb(response.body as import('node:stream/web').ReadableStream) : null;
  });
  return router;
}

function header(ctx: Context, name: string, key: string): Record<string, string> {
  const value = ctx.get(name);
  return value ? { [key]: value } : {};
}

/** The web Request the SDK reads: the method, the MCP headers and the body; never the Authorization header. */
function webRequest(ctx: Context, body: unknown): Request {
  const headers = new Headers();
  for (const name of ['content-type', 'accept', 'mcp-protocol-version', 'mcp-method', 'mcp-name', 'mcp-session-id', 'last-event-id']) {
    const value = ctx.get(name);
    if (value) headers.set(name, value);
  }
  return new Request(`http://${ctx.host}${ctx.url}`, { method: ctx.method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
}

async function readText(ctx: Context): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of ctx.req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
