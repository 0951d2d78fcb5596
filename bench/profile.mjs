#!/usr/bin/env node
// Profiles one service under one bench-peers load: `npm run bench:profile -- token M3`.
// Starts the stack like the benchmark does, with the chosen service under --cpu-prof, runs the load
// generator for a few seconds, stops, and prints where that service's CPU went (self and inclusive).
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BENCH_USER, startBenchStack } from './stack-processes.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const [service = 'token', metric = 'M3', seconds = '6'] = process.argv.slice(2);
const PEERS = process.env.BENCH_PEERS_DIR ?? join(ROOT, '.cache', 'bench-peers');
const profDir = join(mkdtempSync(join(tmpdir(), 'profile-')), 'profile');

// Extra environment (e.g. UNSAFE_BENCHMARK_WITHOUT_AUTH=true) reaches the services from this process's.
// PROFILE_INTERVAL_US samples more often than V8's default (1,000 µs), for differences of a few µs per request.
const interval = process.env.PROFILE_INTERVAL_US ? [`--cpu-prof-interval=${process.env.PROFILE_INTERVAL_US}`] : [];
const stack = await startBenchStack({ nodeArgs: { [service]: ['--cpu-prof', `--cpu-prof-dir=${profDir}`, ...interval] } });
const load = spawn(process.execPath, [join(PEERS, 'lib', 'loadgen.mjs'), '--metric', metric, '--mcp', stack.urls.mcp, '--adapter', join(ROOT, 'bench', 'adapters', 'signed-in-user.mjs'),
  '--adapter-options', JSON.stringify(BENCH_USER), '--warmup', '2', '--duration', seconds], { stdio: ['ignore', 'pipe', 'inherit'] });
let out = '';
load.stdout.on('data', (d) => (out += d));
await new Promise((r) => load.on('exit', r));
const result = JSON.parse(out);
console.log(`${metric}: ${result.opsPerSec} ops/s, errors ${result.errors}, p50 ${result.latencyMs.op.p50} ms`);
// The profile is written as the profiled process exits.
const profiled = stack.processes.find((p) => p.name === service).child;
profiled.kill('SIGINT');
await new Promise((r) => profiled.on('exit', r));
await stack.stop();

const file = existsSync(profDir) ? readdirSync(profDir).find((f) => f.endsWith('.cpuprofile')) : null;
if (!file) throw new Error('no profile written');
const prof = JSON.parse(readFileSync(join(profDir, file), 'utf8'));
console.log(`profile written to ${join(profDir, file)}`);
const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const time = new Map();
prof.samples.forEach((id, i) => time.set(id, (time.get(id) ?? 0) + (prof.timeDeltas[i] ?? 0)));
const total = [...time.values()].reduce((a, b) => a + b, 0);
const name = (cf) => `${cf.functionName || '(anonymous)'} ${cf.url.split('/').slice(-2).join('/')}:${cf.lineNumber + 1}`;
const self = new Map();
const inclusive = new Map();
for (const [id, t] of time) {
  const key = name(byId.get(id).callFrame);
  self.set(key, (self.get(key) ?? 0) + t);
  const seen = new Set();
  for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
    const k = name(byId.get(cur).callFrame);
    if (!seen.has(k)) inclusive.set(k, (inclusive.get(k) ?? 0) + t), seen.add(k);
  }
}
const top = (m, n) => [...m].sort((a, b) => b[1] - a[1]).slice(0, n).map(([k, t]) => `${((100 * t) / total).toFixed(1).padStart(5)}%  ${k}`).join('\n');
console.log(`--- ${service}: self time\n${top(self, 25)}\n--- inclusive\n${top(inclusive, 45)}`);
process.exit(0);
