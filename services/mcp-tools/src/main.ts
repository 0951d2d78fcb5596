import { createLogger, gauge, listenWhileStarting, loadConfigOrExit, stopOnSignals } from '@mcp-auth/http';
import { IN_MEMORY_PROJECTION } from '@mcp-auth/event-sourcing';
import { createMcpToolsApp } from './app.ts';
import { mcpToolsConfigSchema } from './config.ts';
import { resourceMetadataUrl } from './protected-resource/metadata.ts';
import { startRuntime } from './runtime.ts';
import { runStdio, say } from './stdio/run.ts';
import { stdioSettingsSchema } from './stdio/settings.ts';
import { adoptStackFile } from './stdio/stack-file.ts';

const stdio = process.argv.includes('--stdio');
// Over stdio the deployment's URLs and NATS come from the stack file of DATA_DIR unless the environment gives them.
const stackFile = stdio ? adoptStackFileOrExit() : null;
const config = loadConfigOrExit(mcpToolsConfigSchema);
// Over stdio, stdout is the protocol channel: logs go to stderr.
const logger = createLogger('mcp-tools', config.LOG_LEVEL, { toStderr: stdio });
if (stackFile) logger.info(stackFile, stackFile.adopted ? 'deployment read from the stack file' : 'no stack file; the deployment comes from the environment');
const stdioSettings = stdio ? loadConfigOrExit(stdioSettingsSchema) : null;

// Over stdio the projection is in memory: never an HTTP replica's file, and never shared by two agents' processes.
if (stdioSettings) {
  const runtime = await startRuntime({ ...config, PROJECTION_FILE: IN_MEMORY_PROJECTION }, logger);
  const code = await runStdio(config, stdioSettings, runtime, logger);
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

function adoptStackFileOrExit() {
  try {
    return adoptStackFile(process.env);
  } catch (err) {
    say(`${(err as Error).message}.`);
    process.exit(2);
  }
}
