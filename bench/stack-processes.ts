import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, waitForPort, waitUntilAnswers } from '@mcp-auth/testing';
import { BENCH_USER, benchStackEnv, secureBenchNats } from './stack-env.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

export type BenchProcess = { name: string; pid: number; url: string; child: ChildProcess };
export type BenchStack = {
  urls: { registration: string; issuer: string; token: string; resource: string; mcp: string };
  processes: BenchProcess[];
  natsPid: number;
  stop(): Promise<void>;
};

export { BENCH_USER };

/**
 * The stack as `npm start` runs it (a private nats-server, the bundled services as separate processes),
 * with rate limits off and as many mcp-tools replicas as asked, all on one NATS.
 */
export async function startBenchStack({
  mcpReplicas = 1,
  env = {},
  mcpReplicaEnv = () => ({}),
  nodeArgs = {},
}: {
  mcpReplicas?: number;
  env?: Record<string, string>;
  /** Extra environment of one mcp-tools replica (0 is the first). */
  mcpReplicaEnv?: (replica: number) => Record<string, string>;
  nodeArgs?: Record<string, string[]>;
} = {}): Promise<BenchStack> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-stack-'));
  const children: ChildProcess[] = [];
  const natsPort = await freePort();
  const access = secureBenchNats(dir);
  const nats = spawn(process.env.NATS_SERVER_BIN || 'nats-server', ['-js', '-a', '127.0.0.1', '-p', String(natsPort), '-sd', join(dir, 'nats'), ...access.serverArgs], { stdio: 'ignore' });
  children.push(nats);
  await waitForPort(natsPort, 10_000);
  access.setUpStreams(`nats://127.0.0.1:${natsPort}`);
  const ports = { registration: await freePort(), authorization: await freePort(), token: await freePort(), 'mcp-tools': await freePort(), admin: await freePort() };
  const shared = { ...benchStackEnv({ natsPort, ports }), ...env };
  const urls = {
    registration: shared.REGISTRATION_BASE_URL,
    issuer: shared.ISSUER,
    token: shared.TOKEN_BASE_URL,
    resource: shared.MCP_RESOURCE_URL,
    mcp: shared.MCP_RESOURCE_URL,
  };
  const processes: BenchProcess[] = [];
  const launch = async (name: string, port: number, replica: number, extraEnv: Record<string, string> = {}) => {
    const child = spawn(process.execPath, [...(nodeArgs[name] ?? []), join(ROOT, 'dist', `${name}.mjs`)], {
      env: { ...process.env, ...shared, ...extraEnv, PORT: String(port), DATA_DIR: join(dir, `${name}-${replica}`), NATS_CREDENTIALS_FILE: access.credentialOf(name) },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    children.push(child);
    const url = `http://127.0.0.1:${port}`;
    await waitUntilAnswers(`${url}/readyz`, 30_000, () => child.exitCode !== null);
    processes.push({ name: replica === 0 ? name : `${name}#${replica + 1}`, pid: child.pid!, url, child });
  };
  for (const name of ['registration', 'authorization', 'token'] as const) await launch(name, ports[name], 0);
  for (let i = 0; i < mcpReplicas; i++) await launch('mcp-tools', i === 0 ? ports['mcp-tools'] : await freePort(), i, mcpReplicaEnv(i));
  await launch('admin', ports.admin, 0);
  return {
    urls,
    processes,
    natsPid: nats.pid!,
    async stop() {
      await Promise.all(
        children.reverse().map(
          (c) =>
            new Promise<void>((resolve) => {
              if (c.exitCode !== null) return resolve();
              c.once('exit', () => resolve());
              c.kill('SIGTERM');
            }),
        ),
      );
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Resident set size of a process, in MB (from /proc). */
export function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return Math.round(kb / 102.4) / 10;
}
