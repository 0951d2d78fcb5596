import { ProtocolError, ProtocolErrorCode, Server, type CallToolResult } from '@modelcontextprotocol/server';
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/server/validators/ajv';
import type { RequestOrigin } from '@mcp-auth/http';
import type { ToolRegistry } from '../tools/registry.ts';
import { INSTRUCTIONS, SERVER_INFO, callTool, listedTools, unknownTool, type CallPolicy } from './server.ts';

// This module, and @modelcontextprotocol/server 2.x with it, is loaded on the first 2026-07-28 request
// (protocol-eras.ts): loaded at all, the 2.x SDK makes every 2025-era call slower too (see the README's Performance).
const sharedValidator = new AjvJsonSchemaValidator();

/** The MCP server of MCP 2026-07-28 (@modelcontextprotocol/server 2.x): the same tools and checks as the 2025 one. */
export function createMcpServer(registry: ToolRegistry, policy: CallPolicy, origin: RequestOrigin = {}): Server {
  const server = new Server(SERVER_INFO, {
    // One validator for every per-request server: an Ajv instance per request would cost more than the call.
    jsonSchemaValidator: sharedValidator,
    capabilities: { tools: { listChanged: false } },
    instructions: INSTRUCTIONS,
  });
  server.setRequestHandler('tools/list', () => ({ tools: listedTools(registry) }));
  server.setRequestHandler('tools/call', async (request, ctx): Promise<CallToolResult> => {
    const result = await callTool(registry, policy, origin, request.params, ctx.mcpReq.signal);
    if (!result) throw new ProtocolError(ProtocolErrorCode.InvalidParams, unknownTool(request.params.name));
    return result;
  });
  return server;
}

