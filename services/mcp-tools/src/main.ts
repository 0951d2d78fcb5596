import { createLogger, gauge, listenWhileStarting, loadConfigOrExit, stopOnSignals } from '@mcp-auth/http';
import { createMcpToolsApp } from './app.ts';
import { mcpToolsConfigSchema } from './config.ts';
import { runStdio } from './mcp/stdio.ts';
import { resourceMetadataUrl } from './protected-resource/metadata.ts';
import { startRuntime } from './runtime.ts';

const stdio = process.argv.includes('--stdio');
const config = loadConfigOrExit(mcpToolsConfigSchema);
// Over stdio, stdout is the protocol channel: logs go to stderr.
const logger = createLogger('mcp-tools', config.LOG_LEVEL, { toStderr: stdio });
if (stdio && !process.env.MCP_ACCESS_TOKEN) {
  process.stderr.write('mcp-tools --stdio needs an access token in MCP_ACCESS_TOKEN (from the OAuth flow of this deployment).\n');
  process.exit(2);
}

if (stdio) {
  const runtime = await startRuntime(config, logger);
  const code = await runStdio(config, runtime, logger);
  await runtime.projector.stop();
  await runtime.store.close();
  process.exit(code);
} else {
  const server = await listenWhileStarting({ port: config.PORT, host: config.HOST });
  const runtime = await startRuntime(config, logger, { waiting: server.waitingFor });
  if (config.UNSAFE_BENCHMARK_WITHOUT_AUTH) logger.warn({}, 'UNSAFE_BENCHMARK_WITHOUT_AUTH is on: tools are served WITHOUT checking tokens. Benchmarks only.');
  gauge('projection_position', "Stream position applied by this replica's projection", () => runtime.projector.position);
  server.serve(createMcpToolsApp({ config, logger, ...runtime }));
  logger.info({ url: server.url, resource: config.MCP_RESOURCE_URL, resourceMetadata: resourceMetadataUrl(config), tools: runtime.registry.all().map((t) => t.name) }, 'mcp-tools service listening');
  stopOnSignals(logger, [() => server.close(), () => runtime.projector.stop(), () => runtime.store.close()]);
}
