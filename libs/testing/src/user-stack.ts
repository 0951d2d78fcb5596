import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from './ports.ts';
import { REPO_ROOT } from './service-process.ts';
import type { NatsIdentity } from '@mcp-auth/contracts';

export type UserStack = {
  urls: { registration: string; issuer: string; token: string; resource: string; mcp: string };
  dataDir: string;
  natsUrl: string;
  /** The credential `npm start` made for an identity in the data folder (NATS_CREDENTIALS_FILE of a process joining the stack). */
  credentialOf(identity: NatsIdentity): string;
  ports: { registration: number; authorization: number; token: number; mcp: number; admin: number };
  output(): string;
  /** Ctrl-C, as a user stops it; resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  child: ChildProcess;
};

/**
 * The stack exactly as a user starts it (`node scripts/start.mjs`, what `npm start` runs after the build):
 * its own nats-server under the data folder and the five bundled services, on free ports here.
 */
export async function startUserStack({
  dataDir,
  ports,
  env = {},
  command = [process.execPath, join(REPO_ROOT, 'scripts', 'start.mjs')],
  detached = false,
}: {
  dataDir: string;
  ports?: UserStack['ports'];
  env?: Record<string, string>;
  /** What starts it: start.mjs itself by default; `npm start`, or a shell around start.mjs, to test how it stops. */
  command?: [string, ...string[]];
  /** In a process group of its own, as a shell starts a job (the group a terminal's Ctrl-C signals). */
  detached?: boolean;
}): Promise<UserStack> {
  const p = ports ?? { registration: await freePort(), authorization: await freePort(), token: await freePort(), mcp: await freePort(), admin: await freePort() };
  const child = spawn(command[0], command.slice(1), {
    cwd: REPO_ROOT,
    detached,
    env: {
      ...process.env,
      NATS_URL: '',
      DATA_DIR: dataDir,
      LOG_FORMAT: 'json',
      REGISTRATION_PORT: String(p.registration),
      AUTHORIZATION_PORT: String(p.authorization),
      TOKEN_PORT: String(p.token),
      MCP_PORT: String(p.mcp),
      ADMIN_PORT: String(p.admin),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (output += c.toString()));
  await new Promise<void>((resolve, reject) => {
    // `npm start` builds first.
    const timer = setTimeout(() => reject(new Error(`the stack did not come up in 120 s:\n${output.slice(-4000)}`)), 120_000);
    const check = () => {
      if (output.includes('Ctrl-C stops everything')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on('data', check);
    const exited = (code: number | null) => {
      clearTimeout(timer);
      reject(new Error(`npm start exited with ${code}:\n${output.slice(-4000)}`));
    };
    child.once('exit', exited);
    child.stdout?.on('data', () => {
      if (output.includes('Ctrl-C stops everything')) child.off('exit', exited);
    });
  });
  const urls = {
    registration: `http://localhost:${p.registration}`,
    issuer: `http://localhost:${p.authorization}`,
    token: `http://localhost:${p.token}`,
    resource: `http://localhost:${p.mcp}/mcp`,
    mcp: `http://localhost:${p.mcp}/mcp`,
  };
  return {
    urls,
    dataDir,
    natsUrl: readFileSync(join(dataDir, 'nats.url'), 'utf8').trim(),
    credentialOf: (identity) => join(dataDir, 'nats-credentials', `${identity}.nk`),
    ports: p,
    child,
    output: () => output,
    stop(signal = 'SIGINT') {
      if (child.exitCode !== null) return Promise.resolve(child.exitCode);
      return new Promise((resolve) => {
        child.once('exit', (code) => resolve(code));
        child.kill(signal);
      });
    },
  };
}
