// Figures bench-peers does not measure: revocation propagation to two MCP replicas, projection rebuild
// throughput, and each service's memory idle and under load. Run by bench/run.mjs, or alone:
//   node --import tsx bench/extra-metrics.ts
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BrowserlessUser, http, obtainTokens, registerPublicClient } from '@mcp-auth/testing';
import { measureRebuild } from './rebuild.ts';
import { BENCH_USER, rssMb, startBenchStack } from './stack-processes.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const PEERS = process.env.BENCH_PEERS_DIR ?? join(ROOT, '.cache', 'bench-peers');

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}
const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;

const callEcho = (mcpUrl: string, token: string) =>
  http(mcpUrl, {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}`, Accept: 'application/json, text/event-stream' },
    json: { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', arguments: { message: 'x' } } },
  });

/** Busy and total jiffies of the whole machine, from /proc/stat. */
function machineTicks(): { busy: number; total: number } {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
  const idle = fields[3]! + fields[4]!;
  const total = fields.reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

/**
 * Waits (at most 15 s) until the machine is mostly idle: the runs before this one leave processes exiting and
 * data folders being deleted, and a latency percentile taken meanwhile measures them, not us.
 */
async function settle(): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    const a = machineTicks();
    await new Promise((r) => setTimeout(r, 500));
    const b = machineTicks();
    if ((b.busy - a.busy) / Math.max(1, b.total - a.total) < 0.15) return;
  }
}

/** Time from the /revoke answer to the first refused call, on each of two MCP replicas. */
export async function measureRevocationPropagation(revocations = 200) {
  await settle();
  const stack = await startBenchStack({ mcpReplicas: 2 });
  try {
    const mcpUrls = stack.processes.filter((p) => p.name.startsWith('mcp-tools')).map((p) => `${p.url}/mcp`);
    const user = new BrowserlessUser(stack.urls.issuer, BENCH_USER.username, BENCH_USER.password);
    const client = await registerPublicClient(stack.urls, { client_name: 'revocation bench' });
    const delays: number[] = [];
    for (let i = 0; i < revocations; i++) {
      const tokens = await obtainTokens(stack.urls, user, client);
      for (const url of mcpUrls) {
        const ok = await callEcho(url, tokens.access_token);
        if (ok.status !== 200) throw new Error(`a fresh token was refused: ${ok.status}`);
      }
      const revoked = await http(`${stack.urls.token}/revoke`, { method: 'POST', form: { token: tokens.refresh_token, client_id: client.client_id } });
      if (revoked.status !== 200) throw new Error(`revoke failed: ${revoked.status}`);
      const answeredAt = performance.now();
      await Promise.all(
        mcpUrls.map(async (url) => {
          for (;;) {
            const res = await callEcho(url, tokens.access_token);
            if (res.status === 401) return delays.push(performance.now() - answeredAt);
            if (performance.now() - answeredAt > 10_000) throw new Error('a revoked token was still honoured after 10 s');
          }
        }),
      );
    }
    const sorted = [...delays].sort((a, b) => a - b);
    return { revocations, observations: sorted.length, p50Ms: round(percentile(sorted, 50)), p99Ms: round(percentile(sorted, 99)), maxMs: round(sorted.at(-1)!) };
  } finally {
    await stack.stop();
  }
}

function loadgen(metric: string, mcpUrl: string, seconds: number): Promise<{ opsPerSec: number; errors: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [join(PEERS, 'lib', 'loadgen.mjs'), '--metric', metric, '--mcp', mcpUrl, '--adapter', join(ROOT, 'bench', 'adapters', 'signed-in-user.mjs'), '--adapter-options', JSON.stringify(BENCH_USER), '--warmup', '1', '--duration', String(seconds)],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`loadgen ${metric} exited ${code}`))));
  });
}

/** Resident memory of each service: idle after start, and the highest seen while M1-M4 run against it. */
export async function measureMemory(secondsPerMetric = 5) {
  const stack = await startBenchStack();
  try {
    await new Promise((r) => setTimeout(r, 2_000));
    const idle = Object.fromEntries(stack.processes.map((p) => [p.name, rssMb(p.pid)]));
    const peak: Record<string, number> = { ...idle };
    const sampler = setInterval(() => {
      for (const p of stack.processes) peak[p.name] = Math.max(peak[p.name]!, rssMb(p.pid));
    }, 200);
    for (const metric of ['M1', 'M2', 'M3', 'M4']) await loadgen(metric, stack.urls.mcp, secondsPerMetric);
    clearInterval(sampler);
    return { idleMb: idle, underLoadPeakMb: peak };
  } finally {
    await stack.stop();
  }
}

export async function extraMetrics({ revocations = 200, rebuildEvents = 100_000 } = {}) {
  const revocation = await measureRevocationPropagation(revocations);
  const rebuild = await measureRebuild(rebuildEvents);
  const memory = await measureMemory();
  return { revocation, rebuild, memory };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(JSON.stringify(await extraMetrics({ revocations: Number(process.argv[2] ?? 200) }), null, 2));
}
