import { z } from 'zod';
import { env, serviceConfig } from '@mcp-auth/http';
import { deploymentUrlsConfig, scopeConfig, defaultScopesInCatalogue, isLoopbackHost } from '@mcp-auth/oauth';

/** Every setting of the authorization service; the keys are the environment variable names. */
export const authorizationConfigSchema = z.object({
  ...serviceConfig(3001),
  ...deploymentUrlsConfig,
  ...scopeConfig,
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
  /** Development and tests only: fetch metadata documents from loopback and private addresses, and over http from loopback. */
  CLIENT_METADATA_ALLOW_PRIVATE_TARGETS: env.bool(false),
})
  .superRefine(defaultScopesInCatalogue)
  .superRefine((config, ctx) => {
    // Fetching from private addresses lets anyone who can reach /authorize probe the network behind it.
    if (config.CLIENT_METADATA_ALLOW_PRIVATE_TARGETS && !isLoopbackHost(new URL(config.ISSUER).hostname)) {
      ctx.addIssue({ code: 'custom', path: ['CLIENT_METADATA_ALLOW_PRIVATE_TARGETS'], message: 'only for development, with a loopback ISSUER' });
    }
    if (config.CLIENT_METADATA_CACHE_MIN_SECONDS > config.CLIENT_METADATA_CACHE_MAX_SECONDS) {
      ctx.addIssue({ code: 'custom', path: ['CLIENT_METADATA_CACHE_MIN_SECONDS'], message: 'must not exceed CLIENT_METADATA_CACHE_MAX_SECONDS' });
    }
  });

export type AuthorizationConfig = z.infer<typeof authorizationConfigSchema>;

export function knownResources(config: AuthorizationConfig): string[] {
  return config.RESOURCES ? config.RESOURCES.split(',').map((r) => r.trim()).filter(Boolean) : [config.MCP_RESOURCE_URL];
}
