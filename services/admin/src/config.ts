import { z } from 'zod';
import { env, serviceConfig } from '@mcp-auth/http';

const SECRETS_KEY = /^[A-Za-z0-9+/_-]{43}=?$/;

/** Every setting of the admin service (audit trail, webhooks, client reaping, admin API and console); the keys are the environment variable names. */
export const adminConfigSchema = z.object({
  ...serviceConfig(3004),
  /** The public base URL of the console (forms post to it; https makes its cookies Secure). */
  ADMIN_BASE_URL: env.url('http://localhost:3004'),
  /**
   * The admin credential: `Authorization: Bearer <ADMIN_TOKEN>` on the API, typed once into the console's
   * sign-in form. At least 32 characters; `npm start` generates one into the data folder. Unset, the API and
   * the console are off (the audit trail, webhook deliveries and reaping still run).
   */
  ADMIN_TOKEN: z.string().min(32, 'at least 32 characters (for example: openssl rand -base64 32)').optional(),
  /** How long a console sign-in lasts. */
  ADMIN_SESSION_MINUTES: z.coerce.number().int().positive().default(60),
  /**
   * 32 random bytes in base64 (openssl rand -base64 32): encrypts webhook signing secrets in the event log,
   * so every replica can sign and the log never holds them in clear. Keep it: webhooks registered under a
   * key cannot be signed without it. Unset, no webhook can be registered.
   */
  WEBHOOK_SECRETS_KEY: z.string().regex(SECRETS_KEY, '32 bytes in base64 (openssl rand -base64 32)').optional(),
  /** Deliver to loopback and private-network addresses, and over plain http (development and tests only). */
  WEBHOOK_ALLOW_PRIVATE_TARGETS: env.bool(false),
  /** One delivery try gives up after this long (connect, headers and body). */
  WEBHOOK_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(10_000),
  /** Tries per delivery before it is dead-lettered. */
  WEBHOOK_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(50).default(8),
  /** Wait before the second try; doubled for each further try, up to WEBHOOK_RETRY_MAX_MS. */
  WEBHOOK_RETRY_BASE_MS: z.coerce.number().int().min(10).default(5_000),
  WEBHOOK_RETRY_MAX_MS: z.coerce.number().int().min(10).default(3_600_000),
  /** Clients with no live grant and no use for this many days are expired (ClientExpired). 0 turns reaping off. */
  CLIENT_IDLE_DAYS: z.coerce.number().min(0).default(90),
  /** How often this replica looks for idle clients. */
  CLIENT_REAP_INTERVAL_SECONDS: z.coerce.number().int().min(1).default(3600),
});

export type AdminConfig = z.infer<typeof adminConfigSchema>;
