import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { EventStore, type Logger } from '@mcp-auth/event-store';
import { makePrivateFolder } from './private-files.ts';
import type { Projection } from './projection.ts';
import { Projector } from './projector.ts';

export type RuntimeSettings = {
  NATS_URL: string;
  NATS_STREAM_REPLICAS: number;
  DATA_DIR: string;
  PROJECTION_FILE?: string | undefined;
};

/** A PROJECTION_FILE that is no file: the projection lives in memory and is rebuilt from the stream at each start. */
export const IN_MEMORY_PROJECTION = ':memory:';

/**
 * What every service starts with: its connection to the event stream, and its own projections in its own
 * SQLite file (DATA_DIR/<service>.sqlite), consuming from their checkpoint.
 */
export async function startEventSourcedRuntime(service: string, settings: RuntimeSettings, projections: readonly Projection[], logger: Logger) {
  const file = settings.PROJECTION_FILE ?? join(settings.DATA_DIR, `${service}.sqlite`);
  if (file !== IN_MEMORY_PROJECTION) {
    makePrivateFolder(settings.DATA_DIR);
    makePrivateFolder(dirname(file));
  }
  const store = await EventStore.connect({
    servers: settings.NATS_URL,
    replicas: settings.NATS_STREAM_REPLICAS,
    connectionName: `${service}@${hostname()}:${process.pid}`,
    logger,
  });
  const projector = new Projector({ store, file, projections, logger });
  projector.start();
  return { store, projector };
}
