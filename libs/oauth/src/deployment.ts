import { z } from 'zod';
import { env } from '@mcp-auth/http';
import { BUILT_IN_DEFAULT_SCOPES, parseScope, parseScopeCatalogue } from './scopes.ts';
import { isLoopbackHost } from './redirect-uris.ts';

/**
 * The public URLs of a deployment. Every URL that appears in metadata comes from here, so the same code
 * runs on separate ports (npm start) or behind one edge origin (docker compose).
 */
export const deploymentUrlsConfig = {
  /** The authorization server's issuer identifier (the authorization service's public base URL). */
  ISSUER: env.url('http://localhost:3001'),
  REGISTRATION_BASE_URL: env.url('http://localhost:3002'),
  TOKEN_BASE_URL: env.url('http://localhost:3003'),
  /** The canonical URL of the protected MCP endpoint: the `resource` and the tokens' `aud`. */
  MCP_RESOURCE_URL: env.url('http://localhost:3000/mcp'),
};

/** Scopes the deployment knows ("name=description,…") and those a client gets when it asks for none. */
export const scopeConfig = {
  SCOPES: z.string().optional().transform((value, ctx) => {
    try {
      return parseScopeCatalogue(value);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: String((err as Error).message) });
      return z.NEVER;
    }
  }),
  DEFAULT_SCOPES: z
    .string()
    .optional()
    .transform((value, ctx) => {
      const scopes = value === undefined ? BUILT_IN_DEFAULT_SCOPES : parseScope(value);
      if (!scopes) {
        ctx.addIssue({ code: 'custom', message: 'not a space-delimited list of scopes' });
        return z.NEVER;
      }
      return scopes;
    }),
};

/** Every default scope must be in the catalogue: a client asking for nothing must get scopes that exist. */
export function defaultScopesInCatalogue(config: { SCOPES: { name: string }[]; DEFAULT_SCOPES: string[] }, ctx: z.RefinementCtx): void {
  const known = new Set(config.SCOPES.map((s) => s.name));
  const unknown = config.DEFAULT_SCOPES.filter((s) => !known.has(s));
  if (unknown.length > 0) ctx.addIssue({ code: 'custom', path: ['DEFAULT_SCOPES'], message: `not in SCOPES: ${unknown.join(' ')}` });
}

/**
 * Development and tests only: client key sets (jwks_uri) and metadata documents may be fetched over http from
 * loopback and private addresses, as WEBHOOK_ALLOW_PRIVATE_TARGETS does for webhooks.
 */
export const clientMetadataTargetsConfig = {
  CLIENT_METADATA_ALLOW_PRIVATE_TARGETS: env.bool(false),
};

/** CLIENT_METADATA_ALLOW_PRIVATE_TARGETS is refused unless the service's public URL (`urlField`) is on loopback: it is never for a deployment. */
export function privateTargetsOnlyOnLoopback<K extends string>(urlField: K) {
  return (config: { CLIENT_METADATA_ALLOW_PRIVATE_TARGETS: boolean } & Record<K, string>, ctx: z.RefinementCtx): void => {
    if (config.CLIENT_METADATA_ALLOW_PRIVATE_TARGETS && !isLoopbackHost(new URL(config[urlField]).hostname)) {
      ctx.addIssue({ code: 'custom', path: ['CLIENT_METADATA_ALLOW_PRIVATE_TARGETS'], message: `development only: ${urlField} must be on loopback` });
    }
  };
}
