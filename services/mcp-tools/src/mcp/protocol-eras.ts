import type { IncomingMessage } from 'node:http';
import type { Context } from 'koa';
import type { Server as LegacyServer } from '@modelcontextprotocol/sdk/server/index.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { Logger } from '@mcp-auth/event-store';
import type { RequestOrigin } from '@mcp-auth/http';
import type { ToolIdentity } from '../tools/tool.ts';
import type { ModernLeg } from './modern-leg.ts';

/** What the route decided about a request before the SDK sees it. */
export type McpCall = { identity: ToolIdentity | null; origin: RequestOrigin };

/**
 * Serves a checked, parsed POST in the protocol era of the request, with the same tools behind two legs:
 * - the 2025 era (initialize, then requests; batches) through a per-request Node transport of
 *   @modelcontextprotocol/sdk 1.x that answers JSON, as stateless servers do;
 * - 2026-07-28 (no initialize, the revision in each request's _meta and headers, server/discover) through
 *   @modelcontextprotocol/server 2.x (modern-leg.ts), loaded on the first request that is not plainly of an
 *   earlier revision: loaded at all, the 2.x SDK makes every 2025-era call slower too (README, Performance).
 * A request that names a 2024 or 2025 revision and no Mcp-Method header is of the 2025 era; any other is
 * classified by the 2.x SDK, whose leg answers a refusal in the SDK's words.
 */
export function protocolEras(options: { path: string; modernLeg(): Promise<ModernLeg>; legacyServerFor(call: McpCall): LegacyServer; logger: Logger }) {
  const legacy = async (ctx: Context, body: unknown, call: McpCall): Promise<void> => {
    const server = options.legacyServerFor(call);
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
    withoutCredentials(ctx.req);
    ctx.respond = false;
    // A client that goes away aborts its call: closing the request's transport ends its server, and the tool sees its signal.
    ctx.res.once('close', () => closeWithoutStackTraces(transport, options.logger));
    await server.connect(transport);
    await transport.handleRequest(ctx.req, ctx.res, body);
  };
  return async (ctx: Context, body: unknown, call: McpCall): Promise<void> => {
    if (isEarlierRevision(ctx)) return legacy(ctx, body, call);
    const modern = await options.modernLeg();
    if (modern.isLegacy(ctx, body)) return legacy(ctx, body, call);
    await modern.serve(ctx, body, call);
  };
}

/**
 * A request of a 2024 or 2025 revision by its MCP-Protocol-Version header, and without the Mcp-Method header
 * that only 2026-07-28 sends: the era without classifyInboundRequest, which validates the whole body against the
 * SDK's schemas and costs a tool call several percent of its CPU. Anything else is classified in full.
 */
function isEarlierRevision(ctx: Context): boolean {
  const revision = ctx.get('mcp-protocol-version');
  return (revision.startsWith('2024-') || revision.startsWith('2025-')) && !ctx.get('mcp-method');
}

/**
 * Takes the Authorization header out of what the 1.x SDK reads. It copies every header into a WHATWG Headers,
 * checking each byte in JavaScript, for nothing: the route has checked the token and hands its identity to the
 * server it makes. Tools (requestInfo) then never see the raw credential either.
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
 * are any or not: a stateless server never sends one, so the error is never seen, and capturing its stack is
 * work for nothing on every call. The close runs synchronously, so stack traces are off for exactly that long
 * (an aborted tool's abort listeners run inside it, and their errors carry no stack).
 */
export function closeWithoutStackTraces(transport: { close(): Promise<void> }, logger: Logger): void {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    // A failed close must not become an unhandled rejection, which would end the process.
    transport.close().catch((err: unknown) => logger.warn({ err: String(err) }, 'closing an MCP transport failed'));
  } finally {
    Error.stackTraceLimit = limit;
  }
}
