import Koa from 'koa';
import helmet from 'koa-helmet';
import type { Logger } from '@mcp-auth/contracts';
import { trustedProxyHops, type ProxySettings } from './config.ts';
import { errorHandler } from './errors.ts';
import { requestContext } from './request-context.ts';

export type ServiceAppOptions = {
  logger: Logger;
  /** The service's TRUSTED_PROXY_HOPS (and the TRUST_PROXY it supersedes): which X-Forwarded-For entry is the client. */
  proxy: ProxySettings;
  /** Serve Strict-Transport-Security: the public origin is https. */
  https: boolean;
};

/** The Koa app every service starts from: request ids and logs, JSON errors, security headers. */
export function createServiceApp({ logger, proxy, https }: ServiceAppOptions): Koa {
  const { hops, warning } = trustedProxyHops(proxy);
  if (warning) logger.warn({}, warning);
  // Koa keeps the last maxIpsCount entries of X-Forwarded-For, and ctx.ip is the first of them: the entry the
  // outermost trusted proxy appended. The entries further left are the client's own to write.
  const app = new Koa({ proxy: hops > 0, maxIpsCount: hops });
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
