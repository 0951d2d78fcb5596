import { z } from 'zod';
import { env, serviceConfig } from '@mcp-auth/http';
import { clientMetadataTargetsConfig, privateTargetsOnlyOnLoopback } from '@mcp-auth/oauth';

/** Every setting of the registration service; the keys are the environment variable names. */
export const registrationConfigSchema = z.object({
  ...serviceConfig(3002),
  /** The public base URL of this service: registration_client_uri is built from it. */
  REGISTRATION_BASE_URL: env.url('http://localhost:3002'),
  /** New clients per client address per minute (0 = unlimited). Re-registrations of an existing public client are not counted here. */
  REGISTRATION_RATE_LIMIT: env.int(60),
  /** Re-registrations of one public client per minute, from any address (0 = unlimited). */
  REREGISTRATION_RATE_LIMIT: env.int(600),
  /** Re-registrations of any public clients from one address per minute (0 = unlimited). */
  REREGISTRATION_RATE_LIMIT_PER_ADDRESS: env.int(300),
  /**
   * Re-registrations of one public client from one address per minute (0 = unlimited): counted before the
   * client's own budget, so that one address cannot spend the budget every install of that client shares.
   */
  REREGISTRATION_RATE_LIMIT_PER_CLIENT_AND_ADDRESS: env.int(60),
  /** Largest registration body, as the body parser reads sizes: 64kb, 1mb, or a number of bytes. */
  REGISTRATION_MAX_BODY: z.string().regex(/^\d+(b|kb|mb)?$/i, 'a size such as 64kb, 1mb or 65536').default('64kb'),
  /** A private_key_jwt client's jwks_uri may name a loopback or private host over http (development only). */
  ...clientMetadataTargetsConfig,
}).superRefine(privateTargetsOnlyOnLoopback('REGISTRATION_BASE_URL'));

export type RegistrationConfig = z.infer<typeof registrationConfigSchema>;
