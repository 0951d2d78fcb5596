import { readFileSync } from 'node:fs';
import { z } from 'zod';

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

/**
 * Parses environment variables with a schema whose keys are the variable names, so the schema is the reference.
 * Any of them can instead be read from a file named by `<NAME>_FILE` (Docker and compose secrets, a mounted
 * Kubernetes secret), so that a secret need not sit in the environment, where `docker inspect` shows it.
 */
export function loadConfig<Shape extends z.ZodRawShape>(schema: z.ZodObject<Shape>, env: NodeJS.ProcessEnv = process.env): z.infer<z.ZodObject<Shape>> {
  const input: Record<string, string> = {};
  const problems: string[] = [];
  for (const key of Object.keys(schema.shape)) {
    const value = env[key];
    const file = env[`${key}_FILE`];
    if (file !== undefined && file !== '') {
      if (value !== undefined && value !== '') {
        problems.push(`${key}: set either ${key} or ${key}_FILE, not both`);
        continue;
      }
      const read = readSettingFile(file);
      if ('problem' in read) problems.push(`${key}_FILE: ${read.problem}`);
      else if (read.value !== '') input[key] = read.value;
    } else if (value !== undefined && value !== '') input[key] = value;
  }
  if (problems.length > 0) throw new ConfigError(problems);
  const result = schema.safeParse(input);
  if (!result.success) {
    throw new ConfigError(result.error.issues.map((issue) => `${issue.path.join('.') || '(config)'}: ${issue.message}`));
  }
  return result.data;
}

/** A setting's value from its file: the content without the line break editors and `echo` leave at the end. */
function readSettingFile(path: string): { value: string } | { problem: string } {
  try {
    return { value: readFileSync(path, 'utf8').replace(/\r?\n$/, '') };
  } catch (err) {
    return { problem: `cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})` };
  }
}

/** Helpers for env values. */
export const env = {
  port: (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback),
  seconds: (fallback: number) => z.coerce.number().int().min(0).default(fallback),
  int: (fallback: number) => z.coerce.number().int().min(0).default(fallback),
  bool: (fallback: boolean) =>
    z
      .enum(['true', 'false', '1', '0', 'yes', 'no'])
      .transform((v) => v === 'true' || v === '1' || v === 'yes')
      .default(fallback),
  url: (fallback: string) =>
    z
      .string()
      .default(fallback)
      .refine((v) => URL.canParse(v), 'must be an absolute URL')
      .transform((v) => v.replace(/\/+$/, '')),
  list: (fallback: string) =>
    z
      .string()
      .default(fallback)
      .transform((v) => v.split(',').map((s) => s.trim()).filter(Boolean)),
};

/** loadConfig for entry points: a clear message on stderr and exit code 2 instead of a stack trace. */
export function loadConfigOrExit<Shape extends z.ZodRawShape>(schema: z.ZodObject<Shape>, env: NodeJS.ProcessEnv = process.env): z.infer<z.ZodObject<Shape>> {
  try {
    return loadConfig(schema, env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
}

/** Settings every service has: where it listens, its NATS, its projection file, proxy trust and logging. */
export function serviceConfig(defaultPort: number) {
  return {
    /** Interface to listen on: 127.0.0.1 by default; 0.0.0.0 in containers. */
    HOST: z.string().default('127.0.0.1'),
    PORT: env.port(defaultPort),
    /** One or more NATS servers, comma-separated. */
    NATS_URL: z.string().default('nats://127.0.0.1:4222'),
    /**
     * This service's NATS credential: a file holding its nkey seed, or a .creds file (nsc). A NATS with authorization
     * refuses a connection without it; npm start and compose give each service its own.
     */
    NATS_CREDENTIALS_FILE: z.string().optional(),
    /** PEM file of the CA that signed NATS's certificate: the connection then requires TLS and checks the server against it. */
    NATS_TLS_CA: z.string().optional(),
    /** PEM files of this service's client certificate and key, for a NATS that verifies clients (tls { verify: true }). */
    NATS_TLS_CERT: z.string().optional(),
    NATS_TLS_KEY: z.string().optional(),
    /** Replicas of the EVENTS stream when this service creates it (3 on a NATS cluster). */
    NATS_STREAM_REPLICAS: z.coerce.number().int().min(1).max(5).default(1),
    DATA_DIR: z.string().default('./data'),
    /** This replica's projection file; defaults to DATA_DIR/<service>.sqlite. */
    PROJECTION_FILE: z.string().optional(),
    /**
     * How many reverse proxies you run in front of the service, each appending the address it received the request
     * from to X-Forwarded-For: the client's address is the entry this many from the right (what the client wrote
     * further left is never read). 0: no proxy, X-Forwarded-* are ignored. Unset: see TRUST_PROXY.
     */
    TRUSTED_PROXY_HOPS: z.coerce.number().int().min(0).max(16).optional(),
    /** Superseded by TRUSTED_PROXY_HOPS: true counts as one hop (see trustedProxyHops). */
    TRUST_PROXY: env.bool(false),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  };
}

export type ProxySettings = { TRUSTED_PROXY_HOPS?: number | undefined; TRUST_PROXY: boolean };

/**
 * The number of trusted proxies, and what to warn about. TRUST_PROXY=true, which TRUSTED_PROXY_HOPS replaces,
 * is read as the one proxy it almost always stands for: never as "the leftmost X-Forwarded-For entry is the
 * client", since that entry is whatever the client wrote there.
 */
export function trustedProxyHops(settings: ProxySettings): { hops: number; warning: string | null } {
  if (settings.TRUSTED_PROXY_HOPS !== undefined) {
    return { hops: settings.TRUSTED_PROXY_HOPS, warning: settings.TRUST_PROXY ? 'TRUST_PROXY is ignored: TRUSTED_PROXY_HOPS is set' : null };
  }
  if (settings.TRUST_PROXY) {
    return { hops: 1, warning: 'TRUST_PROXY=true is read as TRUSTED_PROXY_HOPS=1 (the client is the last X-Forwarded-For entry); set TRUSTED_PROXY_HOPS to the number of proxies in front instead' };
  }
  return { hops: 0, warning: null };
}
