import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { INSTALL_HINT, findNatsServer } from './nats.ts';
import { launchNatsServer, type NatsProcess } from './nats-process.ts';
import { freePort } from './ports.ts';

export type NatsClusterNode = {
  /** Its server name, as JetStream names a stream's leader. */
  name: string;
  url: string;
  /** Kills it (SIGKILL: a crash), waits, and starts it again on the same port and store. */
  crash(options?: { downtimeMs?: number }): Promise<void>;
};

export type NatsClusterHandle = {
  /** Every node's client URL, comma-separated, as NATS_URL lists them. */
  url: string;
  nodes: NatsClusterNode[];
  /** What each node logged (its end), for a test that failed. */
  logs(): string;
  stop(): Promise<void>;
};

/**
 * A JetStream cluster of nats-server processes on loopback, each with its own store, routed to one another.
 * It returns once every node accepts connections; the cluster elects its JetStream leader a few seconds later,
 * which is what a service started with it has to wait for.
 */
export async function startNatsCluster({ size = 3 }: { size?: number } = {}): Promise<NatsClusterHandle> {
  const binary = findNatsServer();
  if (!binary) throw new Error(INSTALL_HINT);
  const clusterName = `test-${randomBytes(4).toString('hex')}`;
  const nodes = await Promise.all(
    Array.from({ length: size }, async (_, i) => ({ name: `n${i + 1}`, port: await freePort(), routePort: await freePort(), storeDir: mkdtempSync(join(tmpdir(), `nats-cluster-n${i + 1}-`)) })),
  );
  const routes = nodes.map((n) => `nats://127.0.0.1:${n.routePort}`).join(',');
  const args = (n: (typeof nodes)[number]) => [
    '-js',
    '-a', '127.0.0.1',
    '-p', String(n.port),
    '-sd', n.storeDir,
    '--server_name', n.name,
    '--cluster_name', clusterName,
    '--cluster', `nats://127.0.0.1:${n.routePort}`,
    '--routes', routes,
  ];
  const running = new Map<string, NatsProcess>();
  const lastOutput = new Map<string, () => string>();
  const launch = async (n: (typeof nodes)[number]) => {
    const proc = await launchNatsServer(binary, args(n), n.port);
    running.set(n.name, proc);
    lastOutput.set(n.name, proc.output);
  };
  const halt = async (name: string, signal: NodeJS.Signals) => {
    const proc = running.get(name);
    running.delete(name);
    await proc?.halt(signal);
  };
  const stop = async () => {
    await Promise.all(nodes.map((n) => halt(n.name, 'SIGTERM')));
    for (const n of nodes) rmSync(n.storeDir, { recursive: true, force: true });
  };
  try {
    await Promise.all(nodes.map(launch));
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    url: nodes.map((n) => `nats://127.0.0.1:${n.port}`).join(','),
    logs: () => nodes.map((n) => `--- ${n.name} (client ${n.port}, routes ${n.routePort}) ---\n${lastOutput.get(n.name)?.() ?? ''}`).join('\n'),
    nodes: nodes.map((n) => ({
      name: n.name,
      url: `nats://127.0.0.1:${n.port}`,
      async crash({ downtimeMs = 0 } = {}) {
        await halt(n.name, 'SIGKILL');
        if (downtimeMs > 0) await new Promise((r) => setTimeout(r, downtimeMs));
        await launch(n);
      },
    })),
    stop,
  };
}
