import type { Logger } from '@mcp-auth/http';
import {
  ClientDirectory,
  ClientDocumentsReadModel,
  ClientsReadModel,
  GrantsReadModel,
  SigningKeysReadModel,
  clientDocumentsProjection,
  clientsProjection,
  consentsProjection,
  grantsProjection,
  signingKeysProjection,
} from '@mcp-auth/read-models';
import { startEventSourcedRuntime, type StartOptions } from '@mcp-auth/event-sourcing';
import type { McpToolsConfig } from './config.ts';
import { TokenVerifier } from './access/token-verifier.ts';
import { toolCallQuotas } from './access/quotas.ts';
import { AuditLog } from './audit/audit-log.ts';
import { echo } from './tools/built-in/echo.ts';
import { notesTools } from './tools/built-in/notes.ts';
import { whoami } from './tools/built-in/whoami.ts';
import { NotesReadModel, notesProjection } from './tools/notes-projection.ts';
import { ToolRegistry, loadToolModules } from './tools/registry.ts';

/** Everything both transports (HTTP and stdio) need: the stream, the projection, the tools and the token check. */
export async function startRuntime(config: McpToolsConfig, logger: Logger, options: StartOptions = {}) {
  const { store, projector } = await startEventSourcedRuntime('mcp-tools', config, [clientsProjection, clientDocumentsProjection, consentsProjection, grantsProjection, signingKeysProjection, notesProjection], logger, options);
  const notes = new NotesReadModel(projector.db);
  const directory = new ClientDirectory(new ClientsReadModel(projector.db, projector), new ClientDocumentsReadModel(projector.db, projector));

  const registry = new ToolRegistry();
  for (const tool of [whoami, echo, ...notesTools({ store, projector, notes })]) registry.add(tool);
  const loaded = await loadToolModules(config.TOOL_MODULES, registry);
  if (loaded.length > 0) logger.info({ tools: loaded }, 'operator tools loaded');

  const verifier = new TokenVerifier({
    issuer: config.ISSUER,
    audience: config.MCP_RESOURCE_URL,
    store,
    projector,
    keys: new SigningKeysReadModel(projector.db),
    grants: new GrantsReadModel(projector.db),
    directory,
    notes,
    catchUpMs: config.TOKEN_CATCH_UP_MS,
  });
  const policy = {
    quota: toolCallQuotas({ perGrant: config.TOOL_CALLS_PER_MINUTE_PER_GRANT, perUser: config.TOOL_CALLS_PER_MINUTE_PER_USER }),
    audit: new AuditLog(store, logger),
    logger,
  };
  return { store, projector, registry, verifier, policy };
}
