import type { Context } from 'koa';
import { z } from 'zod';
import { HttpError } from '@mcp-auth/http';

/** Validates a request's query string with a schema: anything else is a 400 invalid_request, never a 500. */
export function parseQuery<S extends z.ZodType>(ctx: Context, schema: S): z.infer<S> {
  const result = schema.safeParse(ctx.query);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new HttpError(400, { error: 'invalid_request', error_description: `${issue?.path.join('.') || 'query'}: ${issue?.message ?? 'invalid'}` });
  }
  return result.data;
}

/** limit and offset of a listing. */
export const page = {
  limit: z.coerce.number().int().min(1).max(500).default(50),
  offset: z.coerce.number().int().min(0).max(1_000_000).default(0),
};

/** A search text from the query string. */
export const searchText = z.string().max(200).default('');

export function notFound(what: string): HttpError {
  return new HttpError(404, { error: 'not_found', error_description: `No such ${what}.` });
}

export const nowSeconds = (): number => Math.floor(Date.now() / 1000);
