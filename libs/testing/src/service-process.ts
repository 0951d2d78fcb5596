import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './ports.ts';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

export type ServiceName = 'registration' | 'authorization' | 'token' | 'mcp-tools' | 'admin';

export type ServiceProcess = {
  name: ServiceName;
  url: string;
  port: number;
  dataDir: string;
  child: ChildProcess;
  /** Everything the process logged, for assertions and for diagnosing a failed test. */
  output(): string;
  /**
   * SIGTERM and wait (graceful), or SIGKILL (crash). A process still running STOP_DEADLINE_MS after the signal
   * (its own stop deadline is 10 s) is killed, and the stop fails naming it, instead of holding the test file
   * until the runner's timeout.
   */
  stop(signal?: NodeJS.Signals, options?: { deadlineMs?: number }): Promise<number | null>;
};

/** How long a stop waits for the process to exit: the services' own stop deadline (10 s) and a margin. */
export const STOP_DEADLINE_MS = 15_000;

export type StartServiceOptions = {
  env?: Record<string, string>;
  port?: number;
  dataDir?: string;
  /** Wait for /readyz (default) or only for /healthz. */
  waitFor?: 'ready' | 'healthy';
  timeoutMs?: number;
};

/**
 * Data folders made here, removed when the test process exits: tests restart services on the same folder, so
 * stopping one does not remove it, and every run would otherwise leave its projection files behind.
 */
const madeDataDirs = new Set<string>();
process.once('exit', () => {
  for (const dir of madeDataDirs) rmSync(dir, { recursive: true, force: true });
});

/** Starts a service from its TypeScript source as a real process on a free port, and waits until it is ready. */
export async function startService(name: ServiceName, options: StartServiceOptions = {}): Promise<ServiceProcess> {
  const port = options.port ?? (await freePort());
  let dataDir = options.dataDir;
  if (dataDir === undefined) {
    dataDir = mkdtempSync(join(tmpdir(), `${name}-`));
    madeDataDirs.add(dataDir);
  }
  const child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'services', name, 'src', 'main.ts')], {
    cwd: REPO_ROOT,
    env: { ...process.env, LOG_LEVEL: 'info', HOST: '127.0.0.1', PORT: String(port), DATA_DIR: dataDir, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const append = (chunk: Buffer) => {
    output += chunk.toString();
    if (output.length > 2_000_000) output = output.slice(-1_000_000);
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  const url = `http://127.0.0.1:${port}`;
  const service: ServiceProcess = {
    name,
    url,
    port,
    dataDir,
    child,
    output: () => output,
    async stop(signal = 'SIGTERM', { deadlineMs = STOP_DEADLINE_MS } = {}) {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      child.kill(signal);
      let killed = false;
      const deadline = setTimeout(() => {
        killed = true;
        child.kill('SIGKILL');
      }, deadlineMs);
      const code = await exited;
      clearTimeout(deadline);
      if (killed) throw new Error(`${name} did not stop within ${deadlineMs} ms of ${signal}, and was killed\n--- output ---\n${output.slice(-3000)}`);
      return code;
    },
  };
  try {
    // Generous: on a 2-core machine running a suite, a start that seeds users (scrypt) and catches up can take
    // tens of seconds; a service that never starts still fails, and its output says why.
    await waitUntilAnswers(`${url}/${options.waitFor === 'healthy' ? 'healthz' : 'readyz'}`, options.timeoutMs ?? 45_000, () => child.exitCode !== null);
  } catch (err) {
    await service.stop('SIGKILL');
    throw new Error(`${name} did not become ready: ${String(err)}\n--- output ---\n${output.slice(-5000)}`);
  }
  return service;
}

export async function waitUntilAnswers(url: string, timeoutMs: number, gaveUp: () => boolean = () => false): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    if (gaveUp()) throw new Error('the process exited');
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      if (res.ok) return;
      last = `HTTP ${res.status}`;
    } catch (err) {
      last = String(err);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${url} did not answer 200 within ${timeoutMs} ms (${last})`);
}

/**
 * Waits for services started together. If one fails, those that did start are stopped before the error is
 * thrown: a before() hook that failed leaves no process behind to keep the test file from ending.
 */
export async function startedTogether<Starting extends Array<Promise<ServiceProcess>>>(...starting: Starting): Promise<{ [K in keyof Starting]: ServiceProcess }> {
  const outcomes = await Promise.allSettled(starting);
  const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
  const started = outcomes.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : []));
  if (!failed) return started as { [K in keyof Starting]: ServiceProcess };
  await Promise.all(started.map((service) => service.stop('SIGKILL')));
  throw failed.reason;
}
