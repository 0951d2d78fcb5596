#!/usr/bin/env node
// Profiles one service under one bench-peers load: `node bench/profile.mjs token M3`.
// Starts the stack like the benchmark does, with the chosen service under --cpu-prof, runs the load
// generator for a few seconds, stops, and prints where that service's CPU went (self and inclusive).
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { USER } from './peers/stack.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const [service = 'token', metric = 'M3', seconds = '6'] = process.argv.slice(2);
const PEERS = process.env.BENCH_PEERS_DIR ?? join(ROOT, '.cache', 'bench-peers');
const dir = mkdtempSync(join(tmpdir(), 'profile-'));
const children = [];

const freePort = () => new Promise((resolve) => { const s = createServer(); s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); }); });
const run = (cmd, args, env, opts = {}) => { const c = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'inherit'], ...opts }); children.push(c); return c; };
const ready = async (url) => { for (;;) { try { if ((await fetch(url)).ok) return; } catch {} await new Promise((r) => setTimeout(r, 50)); } };

const natsPort = await freePort();
run(process.env.NATS_SERVER_BIN || 'nats-server', ['-js', '-a', '127.0.0.1', '-p', String(natsPort), '-sd', join(dir, 'nats')], {});
const ports = { registration: await freePort(), authorization: await freePort(), token: await freePort(), 'mcp-tools': await freePort() };
const env = {
  NATS_URL: `nats://127.0.0.1:${natsPort}`, DATA_DIR: dir, LOG_LEVEL: 'warn', SEED_USERS: `${USER.username}:${USER.password}`,
  REGISTRATION_RATE_LIMIT: '0', REREGISTRATION_RATE_LIMIT: '0', SIGNIN_RATE_LIMIT: '0', TOOL_CALLS_PER_MINUTE_PER_GRANT: '0', TOOL_CALLS_PER_MINUTE_PER_USER: '0',
  ISSUER: `http://127.0.0.1:${ports.authorization}`, REGISTRATION_BASE_URL: `http://127.0.0.1:${ports.registration}`,
  TOKEN_BASE_URL: `http://127.0.0.1:${ports.token}`, MCP_RESOURCE_URL: `http://127.0.0.1:${ports['mcp-tools']}/mcp`,
};
await new Promise((r) => setTimeout(r, 300));
const profDir = join(dir, 'profile');
const profiled = {};
for (const name of Object.keys(ports)) {
  const flags = name === service ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : [];
  profiled[name] = run(process.execPath, [...flags, join(ROOT, 'dist', `${name}.mjs`)], { ...env, PORT: String(ports[name]) });
  await ready(`http://127.0.0.1:${ports[name]}/readyz`);
}
const load = spawn(process.execPath, [join(PEERS, 'lib', 'loadgen.mjs'), '--metric', metric, '--mcp', env.MCP_RESOURCE_URL, '--adapter', join(ROOT, 'bench', 'adapters', 'signed-in-user.mjs'),
  '--adapter-options', JSON.stringify(USER), '--warmup', '2', '--duration', seconds], { stdio: ['ignore', 'pipe', 'inherit'] });
let out = '';
load.stdout.on('data', (d) => (out += d));
await new Promise((r) => load.on('exit', r));
const result = JSON.parse(out);
console.log(`${metric}: ${result.opsPerSec} ops/s, errors ${result.errors}, p50 ${result.latencyMs.op.p50} ms`);
profiled[service].kill('SIGINT');
await new Promise((r) => profiled[service].on('exit', r));
for (const c of children) c.kill('SIGTERM');

const file = existsSync(profDir) ? readdirSync(profDir).find((f) => f.endsWith('.cpuprofile')) : null;
if (!file) throw new Error('no profile written');
const prof = JSON.parse(readFileSync(join(profDir, file), 'utf8'));
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
