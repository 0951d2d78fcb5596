import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import type { ServiceIdentity } from '@mcp-auth/contracts';
import {
  CredentialFileError,
  DURABLE_NATS_VERSION,
  EventStore,
  EventStoreUnavailable,
  NatsAccessRefused,
  StreamNotSetUp,
  isDurableNatsVersion,
  type EventStoreOptions,
  type Logger,
} from '@mcp-auth/event-store';
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

export type StartOptions = {
  /** Told what the service waits for while it waits (for /readyz), and null once it waits no more. */
  waiting?: (what: string | null) => void;
};

/** Longest pause between two tries to reach NATS at start. */
const MAX_BACKOFF_MS = 5_000;
/** When a service still waiting for its first connection first says so, and then how often. */
const STILL_WAITING_FIRST_MS = 1_000;
const STILL_WAITING_EVERY_MS = 5_000;

/**
 * What every service starts with: its connection to the event stream, and its own projections in its own
 * SQLite file (DATA_DIR/<service>.sqlite), consuming from their checkpoint. It waits for NATS as long as it
 * takes (a server still starting, a cluster electing its leader, a stream not created yet), saying what it
 * waits for; only what waiting cannot mend (a refused credential, a stream configured otherwise) ends the process.
 */
export async function startEventSourcedRuntime(service: ServiceIdentity, settings: RuntimeSettings, projections: readonly Projection[], logger: Logger, options: StartOptions = {}) {
  const file = settings.PROJECTION_FILE ?? join(settings.DATA_DIR, `${service}.sqlite`);
  if (file !== IN_MEMORY_PROJECTION) {
    makePrivateFolder(settings.DATA_DIR);
    makePrivateFolder(dirname(file));
  }
  const store = await connectWhenAvailable(
    service,
    {
      servers: settings.NATS_URL,
      replicas: settings.NATS_STREAM_REPLICAS,
      connectionName: `${service}@${hostname()}:${process.pid}`,
      identity: service,
      credentialsFile: settings.NATS_CREDENTIALS_FILE,
      tls: { ca: settings.NATS_TLS_CA, cert: settings.NATS_TLS_CERT, key: settings.NATS_TLS_KEY },
      logger,
    },
    logger,
    options.waiting,
  );
  warnIfNatsMayLoseWrites(store, logger);
  const projector = new Projector({ store, file, projections, logger });
  projector.start();
  return { store, projector };
}

async function connectWhenAvailable(service: string, connection: EventStoreOptions, logger: Logger, waiting: StartOptions['waiting']): Promise<EventStore> {
  const servers = connection.servers;
  let backoffMs = 250;
  for (let attempt = 1; ; attempt++) {
    waiting?.(`NATS at ${servers}`);
    const started = Date.now();
    // The client waits for a first server by itself, silently: say so while it does.
    let stillWaiting: NodeJS.Timeout;
    const sayStillWaiting = (afterMs: number) => {
      stillWaiting = setTimeout(() => {
        logger.warn({ servers, waitedSeconds: Math.round((Date.now() - started) / 1000) }, 'waiting for NATS: no server and stream reached yet');
        sayStillWaiting(STILL_WAITING_EVERY_MS);
      }, afterMs);
    };
    sayStillWaiting(STILL_WAITING_FIRST_MS);
    try {
      const store = await EventStore.connect(connection);
      waiting?.(null);
      if (attempt > 1) logger.info({ servers, attempts: attempt }, 'reached NATS and the stream');
      return store;
    } catch (err) {
      const fatal = cannotStartBecause(err);
      if (fatal) {
        process.stderr.write(`${service}: ${fatal.line}\n`);
        process.exit(fatal.exitCode);
      }
      if (err instanceof StreamNotSetUp) {
        waiting?.(`the ${err.stream} stream, which the NATS setup step creates`);
        logger.warn({ servers, attempt, retryInMs: backoffMs }, `waiting for NATS: ${err.message}`);
      } else {
        logger.warn({ servers, attempt, retryInMs: backoffMs, err: String(err) }, 'waiting for NATS: the stream cannot be reached yet (a server or cluster still starting); retrying');
      }
      await sleep(backoffMs);
      backoffMs = Math.min(backoffMs * 2, MAX_BACKOFF_MS);
    } finally {
      clearTimeout(stillWaiting!);
    }
  }
}

/**
 * Errors that waiting does not mend, each said in one line with the exit code of an invalid configuration: NATS
 * refused this service's credential (naming the variable to set), the credential file cannot be read, NATS
 * refused a permission, or the stream exists with another configuration. Everything else at start is NATS not
 * being there yet (a stream the setup step has not created yet included), and is waited out.
 */
function cannotStartBecause(err: unknown): { line: string; exitCode: number } | null {
  if (err instanceof NatsAccessRefused) return { line: err.hint(), exitCode: 2 };
  if (err instanceof CredentialFileError) return { line: err.message, exitCode: 2 };
  const name = err instanceof Error ? err.name : '';
  const message = err instanceof Error ? err.message : String(err);
  if (name === 'AuthorizationError' || name === 'UserAuthenticationExpiredError' || name === 'PermissionViolationError') {
    return { line: `NATS refused this service's credential or permissions: ${message}`, exitCode: 2 };
  }
  if (name === 'EventStoreMisconfigured') return { line: message, exitCode: 2 };
  return null;
}

/** NATS before 2.10.23 can lose acknowledged writes when its process crashes: the operator must know. */
export function warnIfNatsMayLoseWrites(store: EventStore, logger: Logger): void {
  if (isDurableNatsVersion(store.serverVersion)) return;
  logger.warn(
    { nats: store.serverVersion, safeFrom: DURABLE_NATS_VERSION },
    `UNSAFE NATS: nats-server ${store.serverVersion} is older than ${DURABLE_NATS_VERSION}; a crash of the NATS process can lose writes it has already acknowledged (tokens issued, revocations). Upgrade it: see the README, "Failure and recovery"`,
  );
}

/**
 * Runs a start-up write (seed users, publish a signing key) until NATS takes it: an EventStoreUnavailable
 * (NATS down, a cluster without a leader yet) is waited out with backoff and logged; any other error is thrown.
 */
export async function untilStored<T>(what: string, write: () => Promise<T>, logger: Logger, waiting?: StartOptions['waiting']): Promise<T> {
  let backoffMs = 250;
  for (let attempt = 1; ; attempt++) {
    try {
      const result = await write();
      waiting?.(null);
      return result;
    } catch (err) {
      if (!(err instanceof EventStoreUnavailable)) throw err;
      waiting?.(`NATS to store ${what}`);
      logger.warn({ attempt, retryInMs: backoffMs, err: err.message }, `waiting for NATS to store ${what}; retrying`);
      await sleep(backoffMs);
      backoffMs = Math.min(backoffMs * 2, MAX_BACKOFF_MS);
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
