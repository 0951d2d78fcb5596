import Koa from 'koa';
import helmet from 'koa-helmet';
import type { Logger } from 'pino';
import { errorHandler } from './errors.ts';
import { requestContext } from './request-context.ts';

export type ServiceAppOptions = {
  logger: Logger;
  /** Trust X-Forwarded-* from the edge proxy. Only true behind a proxy you run. */
  trustProxy: boolean;
  /** Serve Strict-Transport-Security: the public origin is https. */
  https: boolean;
};

/** The Koa app every service starts from: request ids and logs, JSON errors, security headers. */
export function createServiceApp({ logger, trustProxy, https }: ServiceAppOptions): Koa {
  const app = new Koa({ proxy: trustProxy });
  app.silent = true;
  app.use(requestContext(logger));
  app.use(errorHandler(logger));
  app.use(
    helmet({
      // JSON APIs by default; HTML pages set their own policy.
      contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } },
      frameguard: { action: 'deny' },
      crossOriginResourcePolicy: { policy: 'cross-origin' },
      referrerPolicy: { policy: 'no-referrer' },
      strictTransportSecurity: https ? { maxAge: 31_536_000 } : false,
    }),
  );
  app.on('error', (err) => logger.error({ err }, 'koa error'));
  return app;
}
