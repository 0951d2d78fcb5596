import coBody from 'co-body';
import type { Context } from 'koa';

const MAX_BODY = '1mb';

/**
 * Reads the JSON-RPC body. Malformed JSON gets a JSON-RPC parse error here (400), a wrong content type
 * 415, an oversized body 413: the SDK only ever sees parsed JSON. Returns undefined once it has answered.
 */
export async function readJsonBody(ctx: Context): Promise<unknown> {
  if (!ctx.is('application/json')) {
    ctx.status = 415;
    ctx.body = { jsonrpc: '2.0', error: { code: -32000, message: 'Content-Type must be application/json.' }, id: null };
    return undefined;
  }
  try {
    return await coBody.json(ctx.req, { limit: MAX_BODY, strict: true });
  } catch (err) {
    const tooLarge = (err as { status?: number }).status === 413;
    ctx.status = tooLarge ? 413 : 400;
    ctx.body = { jsonrpc: '2.0', error: { code: tooLarge ? -32000 : -32700, message: tooLarge ? 'Request body too large.' : 'Parse error.' }, id: null };
    return undefined;
  }
}
