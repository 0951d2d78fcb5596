import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launchNatsServer, type NatsProcess } from './nats-process.ts';
import { freePort } from './ports.ts';

export { waitForPort } from './nats-process.ts';

export type NatsHandle = {
  url: string;
  /** Where it came from: NATS_URL, a nats-server process of our own, or a container. */
  kind: 'external' | 'process' | 'container';
  /** Stops and starts the server on the same port and store. `kill` simulates a crash. */
  restart(options?: { kill?: boolean; downtimeMs?: number }): Promise<void>;
  /** Stops the server cleanly, copies its store, and starts it again; the copy is for restoreStore. */
  copyStore(): Promise<string>;
  /**
   * Stops the server, puts back a copy of its store made earlier, and starts it: the stream ends where it
   * ended then, as after a crash that lost its tail, and hands the later positions out again.
   */
  restoreStore(copy: string): Promise<void>;
  stop(): Promise<void>;
};

export const INSTALL_HINT = [
  'No NATS server is available for the tests. Any one of these works:',
  '  - Debian/Ubuntu: sudo apt-get install -y nats-server',
  '  - macOS:         brew install nats-server',
  '  - Docker:        start Docker, and the tests start nats:2.10.27 with testcontainers',
  '  - or point NATS_URL at a nats-server started with -js (JetStream enabled)',
].join('\n');

/**
 * A real NATS with JetStream for a test: NATS_URL if set (unless the test must restart the server),
 * else a private nats-server from the PATH on a free port with a temporary store, else a container
 * when Docker is reachable. Never a mock.
 */
export async function startNats({ restartable = false, port }: { restartable?: boolean; port?: number } = {}): Promise<NatsHandle> {
  const external = process.env.NATS_URL;
  if (external && !restartable && port === undefined) {
    return {
      url: external,
      kind: 'external',
      restart: async () => {
        throw new Error('cannot restart the NATS server given by NATS_URL');
      },
      copyStore: async () => {
        throw new Error('cannot copy the store of the NATS server given by NATS_URL');
      },
      restoreStore: async () => {
        throw new Error('cannot restore the store of the NATS server given by NATS_URL');
      },
      stop: async () => {},
    };
  }
  const binary = findNatsServer();
  if (binary) return startNatsProcess(binary, port ?? (await freePort()));
  if (dockerReachable()) return startNatsContainer();
  throw new Error(INSTALL_HINT);
}

/** The nats-server the tests run: NATS_SERVER_BIN, else the first on the PATH or in the usual places. */
export function findNatsServer(): string | null {
  for (const candidate of [process.env.NATS_SERVER_BIN, 'nats-server', '/usr/sbin/nats-server', '/usr/local/bin/nats-server']) {
    if (!candidate) continue;
    const found = spawnSync(candidate, ['--version'], { encoding: 'utf8' });
    if (found.status === 0) return candidate;
  }
  return null;
}

function dockerReachable(): boolean {
  if (process.env.DOCKER_HOST) return true;
  return existsSync('/var/run/docker.sock') && spawnSync('docker', ['info'], { stdio: 'ignore', timeout: 5_000 }).status === 0;
}

async function startNatsProcess(binary: string, port: number): Promise<NatsHandle> {
  const storeDir = mkdtempSync(join(tmpdir(), 'nats-test-'));
  let child: NatsProcess | null = null;

  const launch = async () => {
    child = await launchNatsServer(binary, ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', storeDir], port);
  };
  const halt = async (signal: NodeJS.Signals) => {
    const proc = child;
    child = null;
    await proc?.halt(signal);
  };

  await launch();
  const copies: string[] = [];
  return {
    url: `nats://127.0.0.1:${port}`,
    kind: 'process',
    async restart({ kill = false, downtimeMs = 0 } = {}) {
      await halt(kill ? 'SIGKILL' : 'SIGTERM');
      if (downtimeMs > 0) await new Promise((r) => setTimeout(r, downtimeMs));
      await launch();
    },
    async copyStore() {
      await halt('SIGTERM');
      const copy = mkdtempSync(join(tmpdir(), 'nats-store-copy-'));
      copies.push(copy);
      cpSync(storeDir, copy, { recursive: true });
      await launch();
      return copy;
    },
    async restoreStore(copy) {
      await halt('SIGTERM');
      rmSync(storeDir, { recursive: true, force: true });
      cpSync(copy, storeDir, { recursive: true });
      await launch();
    },
    async stop() {
      await halt('SIGTERM');
      for (const dir of [storeDir, ...copies]) rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function startNatsContainer(): Promise<NatsHandle> {
  const { NatsContainer } = await import('@testcontainers/nats');
  let container = await new NatsContainer('nats:2.10.27-alpine').withJetStream().start();
  const url = () => `nats://${container.getHost()}:${container.getMappedPort(4222)}`;
  return {
    get url() {
      return url();
    },
    kind: 'container',
    async restart() {
      await container.restart();
    },
    async copyStore() {
      throw new Error('copying the store of a NATS container is not supported; install nats-server');
    },
    async restoreStore() {
      throw new Error('restoring the store of a NATS container is not supported; install nats-server');
    },
    async stop() {
      await container.stop();
    },
  } as NatsHandle;
}

/** The version of the nats-server the tests start ("2.10.27"), or 'unknown' (none found, or a container). */
export function natsServerVersion(): string {
  const binary = findNatsServer();
  if (!binary) return 'unknown';
  const printed = spawnSync(binary, ['--version'], { encoding: 'utf8' }).stdout ?? '';
  return /v?(\d+\.\d+\.\d+\S*)/.exec(printed)?.[1] ?? 'unknown';
}
