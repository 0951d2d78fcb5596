import type { Context, Next } from 'koa';
import type { Logger } from '@mcp-auth/contracts';

/**
 * An error that knows its HTTP answer. Protocol errors (OAuth, RFC 7591, RFC 6750) extend it,
 * so a route throws and the error middleware writes the right status, headers and JSON body.
 */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: Record<string, unknown>,
    readonly headers: Record<string, string> = {},
  ) {
    super(typeof body.error_description === 'string' ? body.error_description : String(body.error ?? status));
    this.name = 'HttpError';
  }
}

/** Implemented by errors of other libraries that map themselves to an HTTP answer (e.g. the event store being down). */
type SelfDescribing = { name: string; retryAfterSeconds?: number };

function isEventStoreUnavailable(err: unknown): err is SelfDescribing {
  return err instanceof Error && err.name === 'EventStoreUnavailable';
}

function isConcurrencyConflict(err: unknown): boolean {
  return err instanceof Error && err.name === 'ConcurrencyConflict';
}

/** Errors from koa/co-body/http-errors carry a 4xx `status` and `expose: true`. */
function clientErrorStatus(err: unknown): number | null {
  if (typeof err !== 'object' || err === null) return null;
  const { status, expose } = err as { status?: unknown; expose?: unknown };
  return typeof status === 'number' && status >= 400 && status < 500 && expose === true ? status : null;
}

/**
 * Turns every thrown error into a JSON answer. Nothing the network sends may produce a stack trace:
 * unknown errors are logged with their stack and answered with a bare 500 `server_error`.
 */
export function errorHandler(logger: Logger) {
  return async function handleErrors(ctx: Context, next: Next): Promise<void> {
    try {
      await next();
    } catch (err) {
      const requestId = ctx.state.requestId as string | undefined;
      if (err instanceof HttpError) {
        respond(ctx, err.status, err.body, err.headers);
      } else if (isEventStoreUnavailable(err)) {
        logger.warn({ requestId, err: String(err) }, 'event store unavailable');
        respond(ctx, 503, { error: 'temporarily_unavailable', error_description: 'The event store is unreachable; retry shortly.' }, {
          'Retry-After': String(err.retryAfterSeconds ?? 2),
        });
      } else if (isConcurrencyConflict(err)) {
        respond(ctx, 409, { error: 'conflict', error_description: 'The resource was changed concurrently; retry.' });
      } else {
        const status = clientErrorStatus(err);
        if (status !== null) {
          const message = status === 413 ? 'Request body too large.' : status === 415 ? 'Unsupported content type.' : 'Malformed request.';
          respond(ctx, status, { error: 'invalid_request', error_description: message });
        } else {
          logger.error({ requestId, err }, 'unhandled error');
          respond(ctx, 500, { error: 'server_error', error_description: 'Internal error.' });
        }
      }
    }
  };
}

function respond(ctx: Context, status: number, body: Record<string, unknown>, headers: Record<string, string> = {}): void {
  ctx.status = status;
  for (const [name, value] of Object.entries(headers)) ctx.set(name, value);
  ctx.set('Cache-Control', 'no-store');
  ctx.body = body;
}
