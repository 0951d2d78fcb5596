import { z } from 'zod';
import { env, serviceConfig } from '@mcp-auth/http';
import { clientMetadataTargetsConfig, deploymentUrlsConfig, scopeConfig, defaultScopesInCatalogue, privateTargetsOnlyOnLoopback, withNonToolScopes } from '@mcp-auth/oauth';

/** Every setting of the authorization service; the keys are the environment variable names. */
export const authorizationConfigSchema = z.object({
  ...serviceConfig(3001),
  ...deploymentUrlsConfig,
  ...scopeConfig,
  /** The deployment's scopes and offline_access, which only this server grants and no tool checks. */
  SCOPES: scopeConfig.SCOPES.transform(withNonToolScopes),
  /**
   * Refuse a request naming a scope outside the catalogue with invalid_scope. Off: such scopes (openid, or a
   * client's guesses) are ignored and the answer names what was granted (RFC 6749 §3.3).
   */
  STRICT_SCOPES: env.bool(false),
  /** Whether the consent page starts with the optional scopes a client asked for ticked; the default scopes are always required. */
  OPTIONAL_SCOPES_PRESELECTED: env.bool(true),
  /** Protected resources clients may ask tokens for (RFC 8707), comma-separated; defaults to MCP_RESOURCE_URL. */
  RESOURCES: z.string().optional(),
  AUTHORIZATION_CODE_TTL_SECONDS: env.seconds(60),
  SESSION_TTL_SECONDS: env.seconds(12 * 3600),
  /** Skip the consent page when the user already consented to the same client, resource and scopes. */
  REMEMBER_CONSENT: env.bool(true),
  /** "alice:password,bob:password": users created at start if they do not exist. */
  SEED_USERS: z.string().optional(),
  SIGNIN_MAX_FAILURES_PER_ACCOUNT: env.int(5),
  SIGNIN_MAX_FAILURES_PER_ADDRESS: env.int(20),
  SIGNIN_THROTTLE_WINDOW_SECONDS: env.seconds(15 * 60),
  /** Sign-in form posts per client address per minute, before any password is checked (0 = unlimited). */
  SIGNIN_RATE_LIMIT: env.int(30),
  /** Bounds on how long a fetched client metadata document is used before it is fetched again, whatever its caching headers say. */
  CLIENT_METADATA_CACHE_MIN_SECONDS: env.seconds(300),
  CLIENT_METADATA_CACHE_MAX_SECONDS: env.seconds(86_400),
  /** Metadata document fetches per client address per minute: an unauthenticated /authorize makes this server fetch a URL (0 = unlimited). */
  CLIENT_METADATA_FETCHES_PER_MINUTE: env.int(30),
  ...clientMetadataTargetsConfig,
})
  .superRefine(defaultScopesInCatalogue)
  // Fetching from private addresses lets anyone who can reach /authorize probe the network behind it.
  .superRefine(privateTargetsOnlyOnLoopback('ISSUER'))
  .superRefine((config, ctx) => {
    if (config.CLIENT_METADATA_CACHE_MIN_SECONDS > config.CLIENT_METADATA_CACHE_MAX_SECONDS) {
      ctx.addIssue({ code: 'custom', path: ['CLIENT_METADATA_CACHE_MIN_SECONDS'], message: 'must not exceed CLIENT_METADATA_CACHE_MAX_SECONDS' });
    }
  });

export type AuthorizationConfig = z.infer<typeof authorizationConfigSchema>;

export function knownResources(config: AuthorizationConfig): string[] {
  return config.RESOURCES ? config.RESOURCES.split(',').map((r) => r.trim()).filter(Boolean) : [config.MCP_RESOURCE_URL];
}
