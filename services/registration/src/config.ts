import { z } from 'zod';
import { env } from '@mcp-auth/http';

/** Every setting of the registration service; the keys are the environment variable names. */
export const registrationConfigSchema = z.object({
  HOST: z.string().default('127.0.0.1'),
  PORT: env.port(3002),
  NATS_URL: z.string().default('nats://127.0.0.1:4222'),
  DATA_DIR: z.string().default('./data'),
  /** This replica's projection file; defaults to DATA_DIR/registration.sqlite. */
  PROJECTION_FILE: z.string().optional(),
  /** The public base URL of this service: registration_client_uri is built from it. */
  REGISTRATION_BASE_URL: env.url('http://localhost:3002'),
  /** New clients per client address per minute (0 = unlimited). Re-registrations of an existing public client are not counted here. */
  REGISTRATION_RATE_LIMIT: env.int(60),
  /** Re-registrations of one public client per minute, from any address (0 = unlimited). */
  REREGISTRATION_RATE_LIMIT: env.int(600),
  REGISTRATION_MAX_BODY: z.string().default('64kb'),
  TRUST_PROXY: env.bool(false),
  LOG_LEVEL: z.string().default('info'),
});

export type RegistrationConfig = z.infer<typeof registrationConfigSchema>;
