import { Readable } from 'node:stream';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import type { Context } from 'koa';
import type { IncomingMessage } from 'node:http';
import { Server, classifyInboundRequest, createMcpHandler, type AuthInfo } from '@modelcontextprotocol/server';
import type { Server as LegacyServer } from '@modelcontextprotocol/sdk/server/index.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { Logger } from '@mcp-auth/event-store';
import type { RequestOrigin } from '@mcp-auth/http';
import type { ToolIdentity } from '../tools/tool.ts';

/** What the route decided about a request before the SDK sees it. */
export type McpCall = { identity: ToolIdentity | null; origin: RequestOrigin };

/** The request headers the SDK reads; the Authorization header is never among them. */
const SDK_HEADERS = ['content-type', 'accept', 'mcp-protocol-version', 'mcp-method', 'mcp-name', 'mcp-session-id', 'last-event-id'];
const CLASSIFIED_HEADERS = [
  ['mcp-protocol-version', 'protocolVersionHeader'],
  ['mcp-method', 'mcpMethodHeader'],
  ['mcp-name', 'mcpNameHeader'],
] as const;

/**
 * Serves a checked, parsed POST in the protocol era of the request, with the same tools behind two legs:
 * - 2026-07-28 (no initialize, the revision in each request's _meta and headers, server/discover) through
 *   createMcpHandler of @modelcontextprotocol/server 2.x, which also refuses malformed modern requests (e.g. an
 *   Mcp-Name header that disagrees with the body, -32020). Its own 2025 fallback is not used: it answers with
 *   an event stream, where this server answers JSON.
 * - the 2025 era (initialize, then requests; batches) through a per-request Node transport of
 *   @modelcontextprotocol/sdk 1.x that answers JSON, as stateless servers do: it works on the request and
 *   response as Node has them, where the 2.x transport builds web Request and Response objects for each call.
 * The era comes from classifyInboundRequest, from the headers and the parsed body; a request it refuses goes
 * to the modern leg, which answers the refusal in the SDK's words.
 */
export function protocolEras(options: { path: string; serverFor(call: McpCall): Server; legacyServerFor(call: McpCall): LegacyServer; logger: Logger }) {
  // The SDK sees a URL of its own making: the Host header is the client's to choose, and nothing in it is used.
  const url = `http://mcp.localhost${options.path}`;
  const modern = createMcpHandler(({ authInfo }) => options.serverFor(callOf(authInfo)), {
    legacy: 'reject',
    // JSON unless a tool sends something before its result (then an event stream, as the revision requires).
    responseMode: 'auto',
    onerror: (err) => options.logger.warn({ err: String(err) }, 'MCP request failed in the SDK'),
  });

  return async (ctx: Context, body: unknown, call: McpCall): Promise<void> => {
    const era = isEarlierRevision(ctx) ? LEGACY : classifyInboundRequest({ httpMethod: 'POST', ...classifiedHeaders(ctx), body });

    // A client that goes away aborts its call, and the tool sees its signal: on the 2025 leg through closing the
    // request's transport (which ends its server), on the modern leg through the request's signal.
    if (era.kind === 'legacy') {
      const server = options.legacyServerFor(call);
      const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
      withoutCredentials(ctx.req);
      ctx.respond = false;
      ctx.res.once('close', () => closeWithoutStackTraces(transport, options.logger));
      await server.connect(transport);
      await transport.handleRequest(ctx.req, ctx.res, body);
      return;
    }
    const headers = new Headers();
    for (const name of SDK_HEADERS) {
      const value = ctx.get(name);
      if (value) headers.set(name, value);
    }
    const gone = new AbortController();
    ctx.res.once('close', () => {
      if (!ctx.res.writableFinished) gone.abort();
    });
    await answer(ctx, await modern.fetch(new Request(url, { method: 'POST', headers, signal: gone.signal }), { parsedBody: body, authInfo: authInfoOf(call) }));
  };
}

const LEGACY = { kind: 'legacy' } as const;

/**
 * A request of a 2024 or 2025 revision by its MCP-Protocol-Version header, and without the Mcp-Method header
 * that only 2026-07-28 sends: the era without classifyInboundRequest, which validates the whole body against the
 * SDK's schemas and costs a tool call several percent of its CPU. Anything else is classified in full.
 */
function isEarlierRevision(ctx: Context): boolean {
  const revision = ctx.get('mcp-protocol-version');
  return (revision.startsWith('2024-') || revision.startsWith('2025-')) && !ctx.get('mcp-method');
}

function classifiedHeaders(ctx: Context): Record<string, string> {
  const classified: Record<string, string> = {};
  for (const [name, field] of CLASSIFIED_HEADERS) {
    const value = ctx.get(name);
    if (value) classified[field] = value;
  }
  return classified;
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
 * The route's verdict, carried to the modern leg's server factory in the one place the SDK passes through.
 * The token itself is not in it: the SDK and the tools never see the credential.
 */
function authInfoOf(call: McpCall): AuthInfo {
  return { token: '', clientId: call.identity?.clientId ?? '', scopes: call.identity?.scopes ?? [], extra: { call } };
}

function callOf(authInfo: AuthInfo | undefined): McpCall {
  const call = authInfo?.extra?.call as McpCall | undefined;
  // Every request reaches the modern leg with the route's verdict; anything else is a wiring mistake.
  if (!call) throw new Error('an MCP request reached the SDK without the route having checked it');
  return call;
}

/** Writes the SDK's web Response through Koa: a JSON answer as bytes, an event stream as a stream. */
async function answer(ctx: Context, response: Response): Promise<void> {
  response.headers.forEach((value, name) => {
    if (name !== 'content-length') ctx.set(name, value);
  });
  if (!response.body) {
    // Before the status: Koa turns a null body into 204, and a notification's answer is 202 Accepted.
    ctx.body = null;
    ctx.status = response.status;
    return;
  }
  ctx.status = response.status;
  if ((response.headers.get('content-type') ?? '').startsWith('text/event-stream')) {
    ctx.body = Readable.fromWeb(response.body as NodeReadableStream);
  } else {
    ctx.body = Buffer.from(await response.arrayBuffer());
  }
}

/**
 * Ends a request's transport, and with it its server (the transport's close is the server's). On every close
 * the SDK makes a "Connection closed" error for the requests the server itself still awaits, whether there
 * are any or not: a stateless server never sends one, so the error is never seen, and capturing its stack is
 * work for nothing on every call. The close runs synchronously, so stack traces are off for exactly that long
 * (an aborted tool's abort listeners run inside it, and their errors carry no stack).
 */
function closeWithoutStackTraces(transport: { close(): Promise<void> }, logger: Logger): void {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    // A failed close must not become an unhandled rejection, which would end the process.
    transport.close().catch((err: unknown) => logger.warn({ err: String(err) }, 'closing an MCP transport failed'));
  } finally {
    Error.stackTraceLimit = limit;
  }
}
