import { z } from 'zod';
import { env, serviceConfig } from '@mcp-auth/http';
import { clientMetadataTargetsConfig, deploymentUrlsConfig, scopeConfig, defaultScopesInCatalogue, privateTargetsOnlyOnLoopback } from '@mcp-auth/oauth';

/** Every setting of the token service; the keys are the environment variable names. */
export const tokenConfigSchema = z.object({
  ...serviceConfig(3003),
  ...deploymentUrlsConfig,
  ...scopeConfig,
  /** Lifetime of access tokens (JWT, RFC 9068). */
  ACCESS_TOKEN_TTL_SECONDS: env.seconds(600),
  /** A spent refresh token presented again this soon after its rotation gets a fresh rotation, not a revoked grant. 0 disables. */
  REFRESH_GRACE_SECONDS: env.seconds(10),
  /** Grace rotations allowed per generation of a refresh-token family. */
  REFRESH_GRACE_MAX_RETRIES: env.int(5),
  /** Absolute lifetime of a grant: after it, the user must consent again. */
  GRANT_LIFETIME_DAYS: z.coerce.number().positive().default(30),
  SIGNING_ALG: z.enum(['ES256', 'EdDSA']).default('ES256'),
  /** Each replica signs with a new key after this long; old keys stay published until their tokens expired. */
  SIGNING_KEY_ROTATION_HOURS: z.coerce.number().positive().default(24),
  /** Resource servers allowed to call /introspect: "id:secret,id:secret". Unset = introspection answers 401 to everyone. */
  INTROSPECTION_CREDENTIALS: z.string().optional(),
  /** A private_key_jwt client's jwks_uri may be fetched over http from loopback and private hosts (development only). */
  ...clientMetadataTargetsConfig,
  /** A client's key set fetched from its jwks_uri is kept at least this long, whatever its caching headers say. */
  CLIENT_KEYS_CACHE_MIN_SECONDS: env.seconds(300),
  /** ... and at most this long. */
  CLIENT_KEYS_CACHE_MAX_SECONDS: env.seconds(86_400),
})
  .superRefine(defaultScopesInCatalogue)
  .superRefine(privateTargetsOnlyOnLoopback('TOKEN_BASE_URL'));

export type TokenConfig = z.infer<typeof tokenConfigSchema>;
