import { Readable } from 'node:stream';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import type { Context } from 'koa';
import { classifyInboundRequest, createMcpHandler, type AuthInfo, type Server } from '@modelcontextprotocol/server';
import type { Logger } from '@mcp-auth/event-store';
import type { McpCall } from './protocol-eras.ts';

/** The request headers the SDK reads; the Authorization header is never among them. */
const SDK_HEADERS = ['content-type', 'accept', 'mcp-protocol-version', 'mcp-method', 'mcp-name', 'mcp-session-id', 'last-event-id'];
const CLASSIFIED_HEADERS = [
  ['mcp-protocol-version', 'protocolVersionHeader'],
  ['mcp-method', 'mcpMethodHeader'],
  ['mcp-name', 'mcpNameHeader'],
] as const;

export type ModernLeg = {
  /** Whether the SDK classifies the request as of the 2025 era. */
  isLegacy(ctx: Context, body: unknown): boolean;
  serve(ctx: Context, body: unknown, call: McpCall): Promise<void>;
};

/**
 * MCP 2026-07-28 through createMcpHandler of @modelcontextprotocol/server 2.x, which also refuses malformed modern
 * requests (e.g. an Mcp-Name header that disagrees with the body, -32020). Its own 2025 fallback is not used: it
 * answers with an event stream, where this server answers JSON.
 */
export function modernLeg(options: { path: string; serverFor(call: McpCall): Server; logger: Logger }): ModernLeg {
  // The SDK sees a URL of its own making: the Host header is the client's to choose, and nothing in it is used.
  const url = `http://mcp.localhost${options.path}`;
  const handler = createMcpHandler(({ authInfo }) => options.serverFor(callOf(authInfo)), {
    legacy: 'reject',
    // JSON unless a tool sends something before its result (then an event stream, as the revision requires).
    responseMode: 'auto',
    onerror: (err) => options.logger.warn({ err: String(err) }, 'MCP request failed in the SDK'),
  });
  return {
    isLegacy: (ctx, body) => classifyInboundRequest({ httpMethod: 'POST', ...classifiedHeaders(ctx), body }).kind === 'legacy',
    async serve(ctx, body, call) {
      const headers = new Headers();
      for (const name of SDK_HEADERS) {
        const value = ctx.get(name);
        if (value) headers.set(name, value);
      }
      // A client that goes away aborts its call, and the tool sees it through the request's signal.
      const gone = new AbortController();
      ctx.res.once('close', () => {
        if (!ctx.res.writableFinished) gone.abort();
      });
      await answer(ctx, await handler.fetch(new Request(url, { method: 'POST', headers, signal: gone.signal }), { parsedBody: body, authInfo: authInfoOf(call) }));
    },
  };
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
