// The environment every benchmark gives the stack: loopback URLs built from the ports, one NATS, the bench
// user seeded, and rate limits and quotas (per address, per grant) off, since the bench measures throughput.
// Plain JavaScript: bench-peers loads bench/peers/*.mjs with node alone.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const SETUP = fileURLToPath(new URL('../dist/nats-setup.mjs', import.meta.url));

export const BENCH_USER = { username: 'bench', password: 'bench-password-1' };

/** @param {{ natsPort: number, ports: { registration: number, authorization: number, token: number, 'mcp-tools': number, admin: number } }} where */
export function benchStackEnv({ natsPort, ports }) {
  return {
    NATS_URL: `nats://127.0.0.1:${natsPort}`,
    ISSUER: `http://127.0.0.1:${ports.authorization}`,
    REGISTRATION_BASE_URL: `http://127.0.0.1:${ports.registration}`,
    TOKEN_BASE_URL: `http://127.0.0.1:${ports.token}`,
    MCP_RESOURCE_URL: `http://127.0.0.1:${ports['mcp-tools']}/mcp`,
    ADMIN_BASE_URL: `http://127.0.0.1:${ports.admin}`,
    // As npm start runs it: the admin API on, and webhook workers running (with no endpoint registered).
    ADMIN_TOKEN: 'bench-admin-token-0123456789abcdef0123456789',
    WEBHOOK_SECRETS_KEY: Buffer.alloc(32, 1).toString('base64'),
    SEED_USERS: `${BENCH_USER.username}:${BENCH_USER.password}`,
    REGISTRATION_RATE_LIMIT: '0',
    REREGISTRATION_RATE_LIMIT: '0',
    REREGISTRATION_RATE_LIMIT_PER_ADDRESS: '0',
    REREGISTRATION_RATE_LIMIT_PER_CLIENT_AND_ADDRESS: '0',
    SIGNIN_RATE_LIMIT: '0',
    TOOL_CALLS_PER_MINUTE_PER_GRANT: '0',
    TOOL_CALLS_PER_MINUTE_PER_USER: '0',
    LOG_LEVEL: 'warn',
  };
}

/**
 * NATS secured as `npm start` secures it (dist/nats-setup.mjs, so the bench measures the permission checks too):
 * a credential per identity and the server configuration under `dir`. Start nats-server with `serverArgs`, then
 * call `setUpStreams(natsUrl)` (the operator's step) before the services, each with `credentialOf(itsName)`.
 * @param {string} dir
 */
export function secureBenchNats(dir) {
  const credentials = join(dir, 'nats-credentials');
  const config = join(dir, 'nats-server.conf');
  const made = spawnSync(process.execPath, [SETUP, 'server-config', credentials, config], { encoding: 'utf8' });
  if (made.status !== 0) throw new Error(`nats-setup server-config failed: ${made.stderr}`);
  /** @param {string} identity */
  const credentialOf = (identity) => join(credentials, `${identity}.nk`);
  return {
    serverArgs: ['-c', config],
    credentialOf,
    /** @param {string} natsUrl */
    setUpStreams(natsUrl) {
      const run = spawnSync(process.execPath, [SETUP, 'streams'], { encoding: 'utf8', env: { ...process.env, NATS_URL: natsUrl, NATS_CREDENTIALS_FILE: credentialOf('operator') } });
      if (run.status !== 0) throw new Error(`nats-setup streams failed: ${run.stderr}`);
    },
  };
}
