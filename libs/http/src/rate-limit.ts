import type { Context, Middleware, Next } from 'koa';
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { HttpError } from './errors.ts';

export type RateLimitOptions = {
  name: string;
  /** Requests allowed per key in each window. 0 disables the limit. */
  points: number;
  windowSeconds: number;
  /** One or more keys; a request must be within the limit for every one of them. */
  keys: (ctx: Context) => string[] | Promise<string[]>;
  description?: string;
};

/** A per-replica limiter that answers 429 with Retry-After once any of a request's keys is over its limit. */
export function rateLimit(options: RateLimitOptions): Middleware {
  if (options.points <= 0) return (_ctx, next) => next();
  const limiter = new RateLimiterMemory({ keyPrefix: options.name, points: options.points, duration: options.windowSeconds });
  return async function limitRate(ctx: Context, next: Next) {
    for (const key of await options.keys(ctx)) {
      try {
        await limiter.consume(key);
      } catch (rejection) {
        if (!(rejection instanceof RateLimiterRes)) throw rejection;
        throw tooManyRequests(Math.ceil(rejection.msBeforeNext / 1000), options.description);
      }
    }
    await next();
  };
}

export function tooManyRequests(retryAfterSeconds: number, description = 'Too many requests; retry later.'): HttpError {
  return new HttpError(
    429,
    { error: 'too_many_requests', error_description: description },
    { 'Retry-After': String(Math.max(1, retryAfterSeconds)) },
  );
}
