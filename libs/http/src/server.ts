import { createServer, type Server } from 'node:http';
import type Koa from 'koa';
import type { Logger } from 'pino';

export type RunningServer = { server: Server; url: string; close(): Promise<void> };

export async function listen(app: Koa, { port, host }: { port: number; host: string }): Promise<RunningServer> {
  const server = createServer(app.callback());
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
