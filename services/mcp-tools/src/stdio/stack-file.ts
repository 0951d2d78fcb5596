import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * What a stack records in <DATA_DIR>/stack.json (`npm start` writes it) for the processes that belong to it
 * without being started by it: the public URLs, its NATS and the settings every service must be given alike.
 * The keys are the environment variables they stand for.
 */
export const STACK_FILE_KEYS = [
  'MCP_RESOURCE_URL',
  'ISSUER',
  'REGISTRATION_BASE_URL',
  'TOKEN_BASE_URL',
  'NATS_URL',
  'NATS_CREDENTIALS_FILE',
  'NATS_TLS_CA',
  'NATS_TLS_CERT',
  'NATS_TLS_KEY',
  'SCOPES',
  'DEFAULT_SCOPES',
  'RESOURCE_NAME',
  'TOOL_MODULES',
] as const;

export type StackFileOutcome = { file: string; adopted: string[] } | { file: string; adopted: null };

/**
 * Fills the variables of STACK_FILE_KEYS that the environment leaves unset (or empty) from the stack file:
 * STACK_FILE, else DATA_DIR/stack.json (DATA_DIR defaults to ./data, as for every service). The environment
 * always wins. A missing file is no error (the environment may say it all, as under docker compose); an
 * unreadable one is, since it would silently point the process at the wrong deployment.
 */
export function adoptStackFile(environment: NodeJS.ProcessEnv): StackFileOutcome {
  const file = environment.STACK_FILE || join(environment.DATA_DIR || './data', 'stack.json');
  if (!existsSync(file)) {
    if (environment.STACK_FILE) throw new Error(`STACK_FILE ${file} does not exist`);
    return { file, adopted: null };
  }
  let recorded: unknown;
  try {
    recorded = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`${file} is not a stack file: ${(err as Error).message}`);
  }
  if (typeof recorded !== 'object' || recorded === null || Array.isArray(recorded)) throw new Error(`${file} is not a stack file: not a JSON object`);
  const adopted: string[] = [];
  for (const key of STACK_FILE_KEYS) {
    const value = (recorded as Record<string, unknown>)[key];
    if (typeof value !== 'string' || value === '' || environment[key]) continue;
    environment[key] = value;
    adopted.push(key);
  }
  return { file, adopted };
}
