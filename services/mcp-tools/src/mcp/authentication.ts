import type { Context } from 'koa';
import { bearerChallenge } from '../access/challenges.ts';
import type { TokenVerifier } from '../access/token-verifier.ts';
import type { ToolIdentity } from '../tools/tool.ts';

/**
 * Who sends a request to /mcp, chosen once when the route is wired: the identity, null for nobody (only
 * without a token check), or undefined once it has answered the request itself (a 401 challenge).
 */
export type Authentication = (ctx: Context) => Promise<ToolIdentity | null | undefined>;

/**
 * RFC 6750 bearer tokens, checked by the verifier. Any method without a valid token gets the 401 challenge
 * pointing at the protected-resource metadata (RFC 9728 §5.1), with the scopes to ask for.
 */
export function bearerAuthentication(options: { verifier: TokenVerifier; resourceMetadataUrl: string; challengeScopes: readonly string[] }): Authentication {
  const unauthorized = (ctx: Context, error: 'invalid_token' | 'invalid_request' | null, description: string, status = 401) => {
    ctx.status = status;
    ctx.set('WWW-Authenticate', bearerChallenge({ resourceMetadata: options.resourceMetadataUrl, scope: options.challengeScopes, ...(error ? { error, description } : {}) }));
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { error: error ?? 'unauthorized', error_description: description };
    return undefined;
  };
  return async (ctx) => {
    if ('access_token' in ctx.query) return unauthorized(ctx, 'invalid_request', 'Send the access token in the Authorization header, never in the URL.', 400);
    const header = ctx.get('Authorization');
    if (!header) return unauthorized(ctx, null, 'An access token is required.');
    const bearer = bearerToken(header);
    if (bearer === null) return unauthorized(ctx, 'invalid_token', 'The Authorization header must be "Bearer <token>".');
    const check = await options.verifier.check(bearer);
    return check.ok ? check.identity : unauthorized(ctx, 'invalid_token', check.description);
  };
}

/** Benchmarks only (UNSAFE_BENCHMARK_WITHOUT_AUTH): nobody is identified, and tools that need someone refuse. */
export const withoutAuthentication: Authentication = async () => null;

/**
 * The token of an RFC 6750 "Bearer <token>" header, or null. Its characters are not checked here: a token
 * already verified is found as it is, and any other goes through verification, which refuses anything but
 * a well-formed compact JWS, so no regular expression runs over the whole token on every call.
 */
function bearerToken(header: string): string | null {
  if (header.length < 8 || header.charCodeAt(6) !== 32 || header.slice(0, 6).toLowerCase() !== 'bearer') return null;
  const token = header.slice(7).trim();
  return token.length > 0 && token.indexOf(' ') === -1 ? token : null;
}
