import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import type { Logger } from '@mcp-auth/http';
import type { McpToolsConfig } from '../config.ts';
import type { startRuntime } from '../runtime.ts';
import { createMcpServer } from './server.ts';

/**
 * `mcp-tools --stdio`: the same tools for a local agent, acting for the access token in MCP_ACCESS_TOKEN
 * (obtained through the OAuth flow). The token is validated exactly as on HTTP, at start and on every call.
 * Returns the exit code; the caller closes the runtime.
 */
export async function runStdio(config: McpToolsConfig, runtime: Awaited<ReturnType<typeof startRuntime>>, logger: Logger): Promise<number> {
  const token = process.env.MCP_ACCESS_TOKEN ?? '';
  const { lastSequence } = await runtime.store.streamState();
  await runtime.projector.waitFor(lastSequence, 60_000);
  const first = await runtime.verifier.check(token);
  if (!first.ok) {
    process.stderr.write(`MCP_ACCESS_TOKEN is not valid for ${config.MCP_RESOURCE_URL}: ${first.description}\n`);
    return 1;
  }
  logger.info({ userId: first.identity.userId, clientId: first.identity.clientId, scopes: first.identity.scopes }, 'serving MCP over stdio');
  const server = createMcpServer(runtime.registry, {
    ...runtime.policy,
    identify: async () => {
      const check = await runtime.verifier.check(token);
      return check.ok ? check.identity : `The access token is no longer valid: ${check.description}`;
    },
  });
  const transport = new StdioServerTransport();
  const closed = new Promise<void>((resolve) => {
    transport.onclose = () => resolve();
    process.stdin.once('end', () => resolve());
  });
  await server.connect(transport);
  await closed;
  return 0;
}
