import type { CallToolResult, Tool } from '@modelcontextprotocol/server';
import { Server as LegacyServer } from '@modelcontextprotocol/sdk/server/index.js';
import { AjvJsonSchemaValidator as LegacyAjvJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/ajv';
import { CallToolRequestSchema, ErrorCode, ListToolsRequestSchema, McpError, type CallToolResult as LegacyCallToolResult, type Tool as LegacyTool } from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from '@mcp-auth/event-store';
import { checkToolScopes } from '../access/scope-check.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { RequestOrigin } from '@mcp-auth/http';
import type { ToolRegistry } from '../tools/registry.ts';
import { ToolError, type ToolIdentity, type ToolResult } from '../tools/tool.ts';

export const SERVER_INFO = { name: 'mcp-auth-tools', version: '0.1.0' };
const sharedLegacyValidator = new LegacyAjvJsonSchemaValidator();
export const INSTRUCTIONS = 'Tools of this server need OAuth scopes; each tool lists them in _meta.requiredScopes.';

export type CallPolicy = {
  /**
   * Who calls, asked at each tools/call: over HTTP the identity the route verified for this request; over
   * stdio the environment's token, checked again on each call so that a revocation applies. A string is a
   * refusal; null only in the benchmark mode without auth.
   */
  identify(): ToolIdentity | null | string | Promise<ToolIdentity | null | string>;
  /** Seconds to wait when the identity is over its quota, else null. */
  quota(identity: ToolIdentity): Promise<number | null>;
  audit: AuditLog;
  logger: Logger;
};

/** tools/list's answer, the same for every revision: each tool with the scopes it needs. */
export function listedTools(registry: ToolRegistry): Tool[] {
  return registry.all().map((tool) => ({
    name: tool.name,
    ...(tool.title ? { title: tool.title } : {}),
    description: tool.requiredScopes.length > 0 ? `${tool.description} (Requires scope: ${tool.requiredScopes.join(' ')})` : tool.description,
    // Checked at registration to be a JSON Schema object (ToolRegistry.add); the SDK's type wants JSON values.
    inputSchema: tool.inputSchema as Tool['inputSchema'],
    _meta: { requiredScopes: tool.requiredScopes },
  }));
}

/**
 * One tools/call, whatever the SDK that carried it: scopes (checkToolScopes, which the HTTP route runs first to
 * answer 403), quota and arguments, then the handler, and the outcome recorded with where the request came from
 * (`origin`, over HTTP). Errors an agent can act on are tool results with isError, so the model reads them.
 * null for a tool that does not exist, which each SDK answers as its own invalid-params error.
 */
export async function callTool(
  registry: ToolRegistry,
  policy: CallPolicy,
  origin: RequestOrigin,
  params: { name: string; arguments?: Record<string, unknown> },
  signal: AbortSignal,
): Promise<CallToolResult | null> {
  const tool = registry.get(params.name);
  if (!tool) return null;
  const identified = await policy.identify();
  if (typeof identified === 'string') return errorResult(identified);
  const identity = identified;
  if (!identity) {
    // Only the benchmark mode without auth gets here; it can run tools that need nobody.
    if (tool.requiredScopes.length > 0) return errorResult('This tool needs a signed-in user.');
  } else {
    // Over HTTP the route has refused these already, with its 403 challenge; over stdio this is the check.
    const refusal = checkToolScopes(tool, identity, policy.audit, origin);
    if (refusal) return errorResult(refusal.description);
    const retryAfter = await policy.quota(identity);
    if (retryAfter !== null) {
      policy.audit.denied(tool.name, identity, 'quota_exceeded', tool.requiredScopes, origin);
      return { ...errorResult(`Quota exceeded for tool calls. Retry in ${retryAfter} seconds.`), _meta: { retryAfterSeconds: retryAfter } };
    }
  }
  const args = params.arguments ?? {};
  if (!tool.validate(args)) {
    const problem = tool.validate.errors?.[0];
    return errorResult(`Invalid arguments: ${problem ? `${problem.instancePath || '(arguments)'} ${problem.message}` : 'rejected'}.`);
  }
  const started = performance.now();
  try {
    const result = toCallToolResult(await tool.handler(args, { identity: identity ?? anonymous, signal }));
    policy.audit.invoked(tool.name, identity, result.isError ? 'error' : 'success', performance.now() - started, origin);
    return result;
  } catch (err) {
    policy.audit.invoked(tool.name, identity, 'error', performance.now() - started, origin);
    if (err instanceof ToolError) return errorResult(err.message);
    policy.logger.error({ err: String(err), tool: tool.name }, 'tool failed');
    return errorResult('The tool failed unexpectedly.');
  }
}

export const unknownTool = (name: string) => `Unknown tool: ${name.slice(0, 64)}`;

/**
 * The MCP server of the 2025 revisions, over HTTP and stdio (@modelcontextprotocol/sdk 1.x): the same tools and
 * checks as the 2026-07-28 one (modern-server.ts), which is loaded only when a 2026-07-28 request arrives.
 */
export function createLegacyMcpServer(registry: ToolRegistry, policy: CallPolicy, origin: RequestOrigin = {}): LegacyServer {
  const server = new LegacyServer(SERVER_INFO, {
    jsonSchemaValidator: sharedLegacyValidator,
    capabilities: { tools: { listChanged: false } },
    instructions: INSTRUCTIONS,
  });
  server.setRequestHandler(ListToolsRequestSchema, () => ({ tools: listedTools(registry) as LegacyTool[] }));
  server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
    const result = await callTool(registry, policy, origin, request.params, extra.signal);
    if (!result) throw new McpError(ErrorCode.InvalidParams, unknownTool(request.params.name));
    return result as LegacyCallToolResult;
  });
  return server;
}

const anonymous: ToolIdentity = { userId: 'anonymous', username: null, clientId: 'anonymous', clientName: null, scopes: [], grantId: 'none', expiresAt: 0 };

function errorResult(text: string): CallToolResult {
  return { content: [{ type: 'text', text }], isError: true };
}

function toCallToolResult(result: ToolResult): CallToolResult {
  if (typeof result === 'string') return { content: [{ type: 'text', text: result }] };
  if (Array.isArray((result as { content?: unknown }).content)) return result as CallToolResult;
  return { content: [{ type: 'text', text: JSON.stringify(result) }], structuredContent: result as Record<string, unknown> };
}
