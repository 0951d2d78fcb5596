import coBody from 'co-body';
import type { Context } from 'koa';
import { HttpError } from './errors.ts';

export type BodyErrorFactory = (status: number, description: string) => HttpError;

const invalidRequest: BodyErrorFactory = (status, description) =>
  new HttpError(status, { error: 'invalid_request', error_description: description });

/** Reads a JSON object body with a size limit. Anything else is a 4xx in the caller's error vocabulary. */
export async function readJsonObject(
  ctx: Context,
  { limit = '64kb', error = invalidRequest }: { limit?: string; error?: BodyErrorFactory } = {},
): Promise<Record<string, unknown>> {
  if (!ctx.is('application/json')) throw error(415, 'The body must be application/json.');
  let parsed: unknown;
  try {
    parsed = await coBody.json(ctx.req, { limit, strict: true });
  } catch (err) {
    throw error(bodyErrorStatus(err), bodyErrorDescription(err, 'The body is not valid JSON.'));
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw error(400, 'The body must be a JSON object.');
  }
  return parsed as Record<string, unknown>;
}

/**
 * Reads an application/x-www-form-urlencoded body into single string values.
 * A parameter sent twice is refused, as RFC 6749 §3.1 requires.
 */
export async function readForm(
  ctx: Context,
  { limit = '16kb', error = invalidRequest }: { limit?: string; error?: BodyErrorFactory } = {},
): Promise<Record<string, string>> {
  if (!ctx.is('application/x-www-form-urlencoded')) {
    throw error(415, 'The body must be application/x-www-form-urlencoded.');
  }
  let text: string;
  try {
    text = await coBody.text(ctx.req, { limit });
  } catch (err) {
    throw error(bodyErrorStatus(err), bodyErrorDescription(err, 'The body could not be read.'));
  }
  const params = new URLSearchParams(text);
  const form: Record<string, string> = Object.create(null);
  for (const [name, value] of params) {
    if (name in form) throw error(400, `The parameter ${safeName(name)} was sent more than once.`);
    form[name] = value;
  }
  return form;
}

function bodyErrorStatus(err: unknown): number {
  const status = (err as { status?: unknown }).status;
  return typeof status === 'number' && status >= 400 && status < 500 ? status : 400;
}

function bodyErrorDescription(err: unknown, fallback: string): string {
  return bodyErrorStatus(err) === 413 ? 'The body is too large.' : fallback;
}

function safeName(name: string): string {
  return /^[A-Za-z0-9_.-]{1,40}$/.test(name) ? name : 'parameter';
}
