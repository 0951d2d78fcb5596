import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import type { ServiceIdentity } from '@mcp-auth/contracts';
import { CredentialFileError, EventStore, NatsAccessRefused, type Logger } from '@mcp-auth/event-store';
import { makePrivateFolder } from './private-files.ts';
import type { Projection } from './projection.ts';
import { Projector } from './projector.ts';

export type RuntimeSettings = {
  NATS_URL: string;
  NATS_CREDENTIALS_FILE?: string | undefined;
  NATS_TLS_CA?: string | undefined;
  NATS_TLS_CERT?: string | undefined;
  NATS_TLS_KEY?: string | undefined;
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
export async function startEventSourcedRuntime(service: ServiceIdentity, settings: RuntimeSettings, projections: readonly Projection[], logger: Logger) {
  const file = settings.PROJECTION_FILE ?? join(settings.DATA_DIR, `${service}.sqlite`);
  if (file !== IN_MEMORY_PROJECTION) {
    makePrivateFolder(settings.DATA_DIR);
    makePrivateFolder(dirname(file));
  }
  const store = await connectOrExit({
    servers: settings.NATS_URL,
    replicas: settings.NATS_STREAM_REPLICAS,
    connectionName: `${service}@${hostname()}:${process.pid}`,
    identity: service,
    credentialsFile: settings.NATS_CREDENTIALS_FILE,
    tls: { ca: settings.NATS_TLS_CA, cert: settings.NATS_TLS_CERT, key: settings.NATS_TLS_KEY },
    logger,
  });
  const projector = new Projector({ store, file, projections, logger });
  projector.start();
  return { store, projector };
}

/**
 * A credential NATS refuses, or one that cannot be read, is not fixed by waiting: the service says which variable
 * to set, in one line, and exits with code 2 (as for any invalid configuration) instead of retrying.
 */
async function connectOrExit(options: Parameters<typeof EventStore.connect>[0]): Promise<EventStore> {
  try {
    return await EventStore.connect(options);
  } catch (err) {
    if (err instanceof NatsAccessRefused || err instanceof CredentialFileError) {
      process.stderr.write(`${err instanceof NatsAccessRefused ? err.hint() : err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
}
