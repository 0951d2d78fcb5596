import { homedir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { env } from '@mcp-auth/http';

/** Settings of `mcp-tools --stdio` only, on top of the service's own; the keys are the environment variable names. */
export const stdioSettingsSchema = z
  .object({
    /**
     * A refresh token to start from instead of signing in through the browser (from an OAuth flow of this
     * deployment). It seeds the stored credential once; after that the stored, rotated one is used.
     */
    STDIO_REFRESH_TOKEN: z.string().optional(),
    /** The client the refresh token was issued to: a public client's refresh needs its client_id. */
    STDIO_CLIENT_ID: z.string().optional(),
    /** The folder (0700) of the stored credentials, one file (0600) per MCP URL. */
    STDIO_CREDENTIALS_DIR: z.string().optional(),
    /** Open the sign-in page in the browser (it is always printed on stderr too). */
    STDIO_OPEN_BROWSER: env.bool(true),
    /** Scopes to ask for; unset: those the served tools need that the authorization server offers. */
    STDIO_SCOPE: z.string().optional(),
    /** Read only to refuse it with a pointer: one access token would stop working when it expires. */
    MCP_ACCESS_TOKEN: z.string().optional(),
  })
  .superRefine((settings, ctx) => {
    if (settings.STDIO_REFRESH_TOKEN && !settings.STDIO_CLIENT_ID) {
      ctx.addIssue({ code: 'custom', path: ['STDIO_CLIENT_ID'], message: 'needed with STDIO_REFRESH_TOKEN: the client_id the refresh token was issued to' });
    }
    if (settings.MCP_ACCESS_TOKEN) {
      ctx.addIssue({
        code: 'custom',
        path: ['MCP_ACCESS_TOKEN'],
        message: 'mcp-tools --stdio does not take an access token (it would stop working when it expires): unset it, and either give nothing (it signs you in through the browser) or STDIO_REFRESH_TOKEN with STDIO_CLIENT_ID',
      });
    }
  });

export type StdioSettings = z.infer<typeof stdioSettingsSchema>;

/** Where a per-user program keeps state that must survive restarts, by the platform's convention. */
export function defaultCredentialsDir(environment: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): string {
  if (platform === 'win32') return join(environment.LOCALAPPDATA || join(homedir(), 'AppData', 'Local'), 'mcp-tools');
  if (platform === 'darwin') return join(homedir(), 'Library', 'Application Support', 'mcp-tools');
  return join(environment.XDG_STATE_HOME || join(homedir(), '.local', 'state'), 'mcp-tools');
}
