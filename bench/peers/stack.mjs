// Starts this stack for one bench-peers sample. Each sample starts a fresh stack
// the way `npm start` does: a private nats-server with its own store, then the five bundled services as
// separate processes, each with its own SQLite file. Every figure is therefore durable: an answer means
// JetStream acknowledged the event.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BENCH_USER, benchStackEnv, secureBenchNats } from '../stack-env.mjs';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const NATS_SERVER = process.env.NATS_SERVER_BIN || 'nats-server';
export const USER = BENCH_USER;

async function ready(url, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${url} not ready`);
}

/** Starts NATS and the given services; returns the peer instance bench-peers expects. */
export async function startStack({ spawnCommand, freePort }, { services, mcpEnv = {} }) {
  const dir = mkdtempSync(join(tmpdir(), 'bench-ours-'));
  const started = [];
  const stopAll = async () => {
    for (const s of started.reverse()) await s.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const natsPort = await freePort();
    const access = secureBenchNats(dir);
    const nats = await spawnCommand(NATS_SERVER, ['-js', '-a', '127.0.0.1', '-p', String(natsPort), '-sd', join(dir, 'nats'), ...access.serverArgs], { name: 'ours-nats' });
    started.push(nats);
    access.setUpStreams(`nats://127.0.0.1:${natsPort}`);
    const ports = { registration: await freePort(), authorization: await freePort(), token: await freePort(), 'mcp-tools': await freePort(), admin: await freePort() };
    const env = { ...benchStackEnv({ natsPort, ports }), DATA_DIR: dir };
    const pids = { nats: nats.pid };
    for (const name of services) {
      const s = await spawnCommand(process.execPath, [join(ROOT, 'dist', `${name}.mjs`)], {
        env: { ...env, PORT: String(ports[name]), NATS_CREDENTIALS_FILE: access.credentialOf(name), ...(name === 'mcp-tools' ? mcpEnv : {}) },
        waitUrl: `http://127.0.0.1:${ports[name]}/healthz`,
        name: `ours-${name}`,
        cwd: ROOT,
      });
      started.push(s);
      pids[name] = s.pid;
      await ready(`http://127.0.0.1:${ports[name]}/readyz`);
    }
    return { mcpUrl: env.MCP_RESOURCE_URL, issuer: services.includes('authorization') ? env.ISSUER : undefined, pids, stop: stopAll, meta: { dataDir: dir } };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

