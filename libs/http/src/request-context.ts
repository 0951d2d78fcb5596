import { randomUUID } from 'node:crypto';
import type { Context, Next } from 'koa';
import type { Logger } from '@mcp-auth/contracts';
import { Counter, Histogram } from 'prom-client';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,100}$/;

const httpRequests = new Counter({
  name: 'http_requests_total',
  help: 'HTTP requests by route and status',
  labelNames: ['method', 'route', 'status'] as const,
});

const httpDuration = new Histogram({
  name: 'http_request_duration_seconds',
  help: 'HTTP request duration by route',
  labelNames: ['method', 'route'] as const,
  buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
});

/**
 * Gives each request an id (a well-formed incoming X-Request-Id is kept, so ids follow a request
 * through the edge proxy), an access-log line carrying it, and metrics. The id goes into each line's
 * fields rather than a child logger: making one per request repeats the redaction set-up, logged or not. Query strings are never logged: they can carry authorization codes and state.
 */
export function requestContext(logger: Logger) {
  return async function withRequestContext(ctx: Context, next: Next): Promise<void> {
    const incoming = ctx.get('X-Request-Id');
    const requestId = REQUEST_ID.test(incoming) ? incoming : randomUUID();
    ctx.state.requestId = requestId;
    ctx.set('X-Request-Id', requestId);
    const started = process.hrtime.bigint();
    try {
      await next();
    } finally {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const route = (ctx as Context & { _matchedRoute?: string })._matchedRoute ?? 'unmatched';
      httpRequests.inc({ method: ctx.method, route: String(route), status: String(ctx.status) });
      httpDuration.observe({ method: ctx.method, route: String(route) }, seconds);
      if (ctx.path !== '/healthz' && ctx.path !== '/readyz' && ctx.path !== '/metrics') {
        logger.info(
          { requestId, method: ctx.method, path: ctx.path, status: ctx.status, ms: Math.round(seconds * 1e4) / 10 },
          'request',
        );
      }
    }
  };
}

export type RequestOrigin = { requestId?: string; sourceAddress?: string };

/**
 * What an event caused by this request records of where it came from: the request id and the address
 * (ctx.ip honours X-Forwarded-For only when the app trusts its proxy).
 */
export function requestOrigin(ctx: Context): RequestOrigin {
  const requestId = ctx.state.requestId as string | undefined;
  const sourceAddress = ctx.ip || undefined;
  return { ...(requestId ? { requestId } : {}), ...(sourceAddress ? { sourceAddress } : {}) };
}

/** The context of an event caused by this request: its actor and where the request came from. */
export function eventContextOf<A>(ctx: Context, actor: A): { actor: A } & RequestOrigin {
  return { actor, ...requestOrigin(ctx) };
}
