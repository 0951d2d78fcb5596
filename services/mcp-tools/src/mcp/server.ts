import { ProtocolError, ProtocolErrorCode, Server, type CallToolResult, type Tool } from '@modelcontextprotocol/server';
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/server/validators/ajv';
import type { Logger } from '@mcp-auth/event-store';
import { checkToolScopes } from '../access/scope-check.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { RequestOrigin } from '@mcp-auth/http';
import type { ToolRegistry } from '../tools/registry.ts';
import { ToolError, type ToolIdentity, type ToolResult } from '../tools/tool.ts';

export const SERVER_INFO = { name: 'mcp-auth-tools', version: '0.1.0' };
const sharedValidator = new AjvJsonSchemaValidator();

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

/**
 * An MCP server over the tool registry, for every protocol revision the SDK serves (2026-07-28 and the
 * 2025 era alike: the SDK shapes the answers for the revision of the request). tools/list shows every tool with the scopes it needs; tools/call
 * checks scopes (checkToolScopes, which the HTTP route runs first to answer 403), quota and
 * arguments, runs the handler and records the outcome, with where the request came from (`origin`, over
 * HTTP). Errors an agent can act on are tool results with isError, so the model reads them.
 */
export function createMcpServer(registry: ToolRegistry, policy: CallPolicy, origin: RequestOrigin = {}): Server {
  const server = new Server(SERVER_INFO, {
    // One validator for every per-request server: building an Ajv instance per request was a tenth of the CPU.
    jsonSchemaValidator: sharedValidator,
    capabilities: { tools: { listChanged: false } },
    instructions: 'Tools of this server need OAuth scopes; each tool lists them in _meta.requiredScopes.',
  });

  server.setRequestHandler('tools/list', () => ({
    tools: registry.all().map((tool) => ({
      name: tool.name,
      ...(tool.title ? { title: tool.title } : {}),
      description: tool.requiredScopes.length > 0 ? `${tool.description} (Requires scope: ${tool.requiredScopes.join(' ')})` : tool.description,
      // Checked at registration to be a JSON Schema object (ToolRegistry.add); the SDK's type wants JSON values.
      inputSchema: tool.inputSchema as Tool['inputSchema'],
      _meta: { requiredScopes: tool.requiredScopes },
    })),
  }));

  server.setRequestHandler('tools/call', async (request, ctx): Promise<CallToolResult> => {
    const tool = registry.get(request.params.name);
    if (!tool) throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Unknown tool: ${request.params.name.slice(0, 64)}`);
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
    const args = request.params.arguments ?? {};
    if (!tool.validate(args)) {
      const problem = tool.validate.errors?.[0];
      return errorResult(`Invalid arguments: ${problem ? `${problem.instancePath || '(arguments)'} ${problem.message}` : 'rejected'}.`);
    }
    const started = performance.now();
    try {
      const result = toCallToolResult(await tool.handler(args, { identity: identity ?? anonymous, signal: ctx.mcpReq.signal }));
      policy.audit.invoked(tool.name, identity, result.isError ? 'error' : 'success', performance.now() - started, origin);
      return result;
    } catch (err) {
      policy.audit.invoked(tool.name, identity, 'error', performance.now() - started, origin);
      if (err instanceof ToolError) return errorResult(err.message);
      policy.logger.error({ err: String(err), tool: tool.name }, 'tool failed');
      return errorResult('The tool failed unexpectedly.');
    }
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
