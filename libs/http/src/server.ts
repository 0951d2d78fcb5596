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

/** Stops cleanly on SIGINT/SIGTERM: no new requests, in-flight ones finish, then the given steps run in order. */
export function stopOnSignals(logger: Logger, steps: Array<() => Promise<void> | void>): void {
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping');
    for (const step of steps) {
      try {
        await step();
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
