import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type Koa from 'koa';
import type { Logger } from '@mcp-auth/contracts';

export type RunningServer = { server: Server; url: string; close(): Promise<void> };

/** A server listening before its service can serve: what it waits for is on /readyz until serve(). */
export type StartingServer = RunningServer & {
  /** What the service waits for (shown on /readyz); null once it waits for nothing but its own start. */
  waitingFor(what: string | null): void;
  /** Hands every request to the app from now on. */
  serve(app: Koa): void;
};

export async function listen(app: Koa, options: { port: number; host: string }): Promise<RunningServer> {
  const server = await listenWhileStarting(options);
  server.serve(app);
  return server;
}

/**
 * Listens at once, before the service has reached NATS: an orchestrator sees the process alive (/healthz 200)
 * and not ready (/readyz 503, saying what it waits for), and a client that is sent here early gets a 503 with
 * Retry-After (temporarily_unavailable, which agents retry) rather than a refused connection.
 */
export async function listenWhileStarting({ port, host }: { port: number; host: string }): Promise<StartingServer> {
  const starting = 'the service to start';
  let waitingFor = starting;
  let handle: (req: IncomingMessage, res: ServerResponse) => void = (req, res) => answerWhileStarting(req, res, waitingFor);
  const server = createServer((req, res) => handle(req, res));
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  server.requestTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address();
  const actualPort = typeof address === 'object' && address ? address.port : port;
  const displayHost = host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host;
  return {
    server,
    url: `http://${displayHost}:${actualPort}`,
    waitingFor(what) {
      waitingFor = what ?? starting;
    },
    serve(app) {
      handle = app.callback();
    },
    close: () =>
      new Promise<void>((resolve) => {
        const force = setTimeout(() => server.closeAllConnections(), 5_000);
        server.close(() => {
          clearTimeout(force);
          resolve();
        });
        server.closeIdleConnections();
      }),
  };
}

function answerWhileStarting(req: IncomingMessage, res: ServerResponse, waitingFor: string): void {
  const path = (req.url ?? '/').split('?', 1)[0];
  const [status, body] =
    path === '/healthz'
      ? [200, { status: 'ok' }]
      : path === '/readyz'
        ? [503, { status: 'starting', waitingFor }]
        : [503, { error: 'temporarily_unavailable', error_description: `The service is starting (waiting for ${waitingFor}); retry shortly.` }];
  // The body is not read: the answer does not depend on it.
  req.resume();
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
    ...(status === 503 ? { 'Retry-After': '2' } : {}),
  });
  res.end(JSON.stringify(body));
}

/** How long a graceful stop may take before the process exits anyway (orchestrators kill at 30 s). */
const STOP_DEADLINE_MS = 10_000;

/**
 * Stops cleanly on SIGINT/SIGTERM: no new requests, in-flight ones finish, then the given steps run in order.
 * A step that does not finish by the deadline is logged and the process exits with 1: nothing is lost (the
 * stream has every acknowledged write, and the projections commit with their checkpoints), and a stop that
 * never ends would only be killed later, without saying where it hung.
 */
export function stopOnSignals(logger: Logger, steps: Array<() => Promise<void> | void>, deadlineMs = STOP_DEADLINE_MS): void {
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping');
    let step = 0;
    setTimeout(() => {
      logger.error({ step: step + 1, steps: steps.length, deadlineMs }, 'stop step did not finish in time; exiting');
      process.exit(1);
    }, deadlineMs).unref();
    for (; step < steps.length; step++) {
      try {
        await steps[step]!();
      } catch (err) {
        logger.warn({ err: String(err) }, 'error while stopping');
      }
    }
    logger.info({}, 'stopped');
    process.exit(0);
  };
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));
}
