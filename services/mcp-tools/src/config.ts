import { z } from 'zod';
import { env, serviceConfig } from '@mcp-auth/http';
import { deploymentUrlsConfig, isLoopbackHost, scopeConfig, defaultScopesInCatalogue } from '@mcp-auth/oauth';

/** Every setting of the MCP tools service; the keys are the environment variable names. */
export const mcpToolsConfigSchema = z.object({
  ...serviceConfig(3000),
  ...deploymentUrlsConfig,
  ...scopeConfig,
  /** Shown to users and agents as the resource's name (RFC 9728 resource_name). */
  RESOURCE_NAME: z.string().default('MCP tools'),
  /** Extra browser origins allowed to call /mcp, comma-separated. The deployment's own origins always are. */
  ALLOWED_ORIGINS: env.list(''),
  /** Allow any http://localhost / 127.0.0.1 / [::1] origin (the MCP Inspector). Defaults to on when the MCP URL itself is loopback. */
  ALLOW_LOOPBACK_ORIGINS: z.enum(['true', 'false', 'auto']).default('auto'),
  /** Operator tool modules to load, comma-separated paths (see examples/tools). */
  TOOL_MODULES: env.list(''),
  /** Tool calls per grant per minute, and per user per minute, on each replica (0 = unlimited). */
  TOOL_CALLS_PER_MINUTE_PER_GRANT: env.int(600),
  TOOL_CALLS_PER_MINUTE_PER_USER: env.int(1200),
  /** How long a request may wait for the projection to learn of a token issued a moment ago. */
  TOKEN_CATCH_UP_MS: env.int(2000),
  /** Benchmarks only: serve tools without checking tokens, to measure what the check costs. Never in production. */
  UNSAFE_BENCHMARK_WITHOUT_AUTH: env.bool(false),
})
  .superRefine(defaultScopesInCatalogue)
  .superRefine((config, ctx) => {
    // A tools server without token checks must never be reachable from anywhere but this machine.
    if (config.UNSAFE_BENCHMARK_WITHOUT_AUTH && !(isLoopbackHost(new URL(config.MCP_RESOURCE_URL).hostname) && isLoopbackHost(config.HOST))) {
      ctx.addIssue({ code: 'custom', path: ['UNSAFE_BENCHMARK_WITHOUT_AUTH'], message: 'only for benchmarks, listening on loopback (HOST) with a loopback MCP_RESOURCE_URL' });
    }
  });

export type McpToolsConfig = z.infer<typeof mcpToolsConfigSchema>;

export function allowsLoopbackOrigins(config: McpToolsConfig): boolean {
  if (config.ALLOW_LOOPBACK_ORIGINS !== 'auto') return config.ALLOW_LOOPBACK_ORIGINS === 'true';
  return isLoopbackHost(new URL(config.MCP_RESOURCE_URL).hostname);
}
