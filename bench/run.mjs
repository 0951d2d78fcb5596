#!/usr/bin/env node
// `npm run bench`: the numbers behind the design, with ratios against peers measured in the same run.
//  1. bench-peers (../shared/bench-peers, copied to .cache/ and installed once) drives M1-M4 against this
//     stack (OURS), the same stack with the token check off (OURS-noauth), node-oidc-provider (P2) and the
//     MCP SDK server without auth (P3).
//  2. bench/extra-metrics.ts: revocation propagation to two MCP replicas, projection rebuild, memory.
//  3. bench/sync-cost.ts: what NATS_SYNC_ALWAYS=true costs, as a ratio of acknowledged appends per second.
// Prints a table and writes bench/results/bench-<time>.json. Options: --concurrency N (16), --runs N (2),
// --duration S (8), --warmup S (3), --revocations N (200), --quick. NATS_SERVER_BIN=<path> runs the stack on another nats-server.
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const quick = args.includes('--quick');
const settings = {
  concurrency: opt('concurrency', '16'),
  runs: opt('runs', quick ? '1' : '2'),
  duration: opt('duration', quick ? '3' : '8'),
  warmup: opt('warmup', quick ? '1' : '3'),
  revocations: opt('revocations', quick ? '50' : '200'),
};
const source = process.env.BENCH_PEERS_SOURCE ?? join(ROOT, '..', 'shared', 'bench-peers');
const peersDir = process.env.BENCH_PEERS_DIR ?? join(ROOT, '.cache', 'bench-peers');
const started = Date.now();
const say = (line) => process.stdout.write(`${line}\n`);

function run(cmd, cmdArgs, options = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, cmdArgs, { stdio: ['ignore', 'pipe', 'inherit'], ...options });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      if (options.echo) process.stdout.write(d);
    });
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} ${cmdArgs.join(' ')} exited with ${code}`))));
  });
}

// 1. The peers: a private copy with its pinned dependencies.
if (!existsSync(join(peersDir, 'node_modules'))) {
  if (!existsSync(source)) throw new Error(`bench-peers not found at ${source}; set BENCH_PEERS_SOURCE`);
  say(`installing bench-peers from ${source} into ${peersDir} (once)`);
  mkdirSync(peersDir, { recursive: true });
  cpSync(source, peersDir, { recursive: true, filter: (p) => !p.includes('node_modules') && !p.includes('/results/') });
  execFileSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: peersDir, stdio: 'inherit' });
}
say('building the services (npm run build)');
execFileSync(process.execPath, [join(ROOT, 'scripts', 'build.mjs')], { stdio: 'inherit' });

const resultsDir = join(ROOT, 'bench', 'results');
mkdirSync(resultsDir, { recursive: true });
const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const peersOut = join(resultsDir, `peers-${stamp}.json`);
say(`\n== M1-M4 with bench-peers: OURS, OURS-noauth, P2 (node-oidc-provider), P3 (MCP SDK, no auth); ${settings.runs} run(s), concurrency ${settings.concurrency}`);
await run(
  process.execPath,
  [
    'run.mjs',
    '--peer-file', join(ROOT, 'bench', 'peers', 'ours.mjs'),
    '--peer-file', join(ROOT, 'bench', 'peers', 'ours-noauth.mjs'),
    '--peers', 'OURS,OURS-noauth,P2,P3',
    '--metrics', 'M1,M2,M3,M4',
    '--runs', settings.runs,
    '--warmup', settings.warmup,
    '--duration', settings.duration,
    '--concurrency', settings.concurrency,
    '--prewarm', quick ? '0' : '3',
    '--out', peersOut,
  ],
  { cwd: peersDir, echo: true },
);
const peers = JSON.parse(readFileSync(peersOut, 'utf8'));

say('\n== revocation propagation, projection rebuild, memory');
const extra = JSON.parse(await run(process.execPath, ['--import', 'tsx', join(ROOT, 'bench', 'extra-metrics.ts'), settings.revocations], { cwd: ROOT }));

say('\n== the cost of NATS_SYNC_ALWAYS=true (sync_interval: always: an fsync before every acknowledgement)');
const syncCost = JSON.parse(await run(process.execPath, ['--import', 'tsx', join(ROOT, 'bench', 'sync-cost.ts'), quick ? '1000' : '4000', quick ? '1' : '3'], { cwd: ROOT }));

// The summary: medians over runs, and each of ours as a ratio to its peer in the same invocation.
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : null;
};
const samples = (peer, metric) => (peers.samples ?? []).filter((s) => s.peer === peer && s.metric === metric && s.result);
const opsPerSec = (peer, metric) => median(samples(peer, metric).map((s) => s.result.opsPerSec));
const fmt = (n, d = 0) => (n == null ? '–' : n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d }));
const ratio = (a, b) => (a != null && b ? a / b : null);
const tokenStep = (peer) => {
  const s = samples(peer, 'M2');
  return { p50: median(s.map((x) => x.result.latencyMs?.token?.p50 ?? x.result.latencyMs?.steps?.token?.p50).filter((x) => x != null)), p99: median(s.map((x) => x.result.latencyMs?.token?.p99 ?? x.result.latencyMs?.steps?.token?.p99).filter((x) => x != null)) };
};
/** Ours over its baseline within each run (both measured minutes apart, under the same conditions): min and max. */
const pairedRange = (peer, base, metric) => {
  const ratios = samples(peer, metric)
    .map((s) => ratio(s.result.opsPerSec, samples(base, metric).find((b) => b.run === s.run)?.result.opsPerSec))
    .filter((r) => r != null);
  return ratios.length ? `${fmt(Math.min(...ratios), 2)}–${fmt(Math.max(...ratios), 2)}` : '–';
};
const rows = [
  ['M1 registrations/s', opsPerSec('OURS', 'M1'), opsPerSec('P2', 'M1'), 'P2', 'M1'],
  ['M2 code+PKCE flows/s', opsPerSec('OURS', 'M2'), opsPerSec('P2', 'M2'), 'P2', 'M2'],
  ['M3 refreshes/s', opsPerSec('OURS', 'M3'), opsPerSec('P2', 'M3'), 'P2', 'M3'],
  ['M4 tools/call/s, with auth', opsPerSec('OURS', 'M4'), opsPerSec('OURS-noauth', 'M4'), 'OURS-noauth', 'M4'],
];
const lines = [];
const natsVersion = (() => {
  try {
    return execFileSync(process.env.NATS_SERVER_BIN || 'nats-server', ['--version'], { encoding: 'utf8' }).trim();
  } catch {
    return 'nats-server (version unknown)';
  }
})();
lines.push(`Machine: ${cpus().length}× ${cpus()[0]?.model.trim()}, Node ${process.version}, ${natsVersion} (NATS_SERVER_BIN picks another); concurrency ${settings.concurrency}, ${settings.runs} run(s) × ${settings.duration} s after ${settings.warmup} s warm-up; medians.`);
lines.push('');
lines.push('| metric | ours | baseline (same run) | ratio of medians | ratio within each run, min–max |');
lines.push('|---|---:|---:|---:|---:|');
for (const [name, ours, base, baseName, metric] of rows) {
  lines.push(`| ${name} | ${fmt(ours)} | ${fmt(base)} (${baseName}) | **${fmt(ratio(ours, base), 2)}** | ${pairedRange('OURS', baseName, metric)} |`);
}
const ts = tokenStep('OURS');
const tp = tokenStep('P2');
lines.push(`| M2 token exchange p50 / p99 ms | ${fmt(ts.p50, 1)} / ${fmt(ts.p99, 1)} | ${fmt(tp.p50, 1)} / ${fmt(tp.p99, 1)} (P2) | | |`);
lines.push(`| M4 MCP SDK server without auth (P3), for scale | | ${fmt(opsPerSec('P3', 'M4'))} | | |`);
lines.push(`| revocation → first refused call, 2 MCP replicas (${extra.revocation.observations} obs.) | p50 ${extra.revocation.p50Ms} / p99 ${extra.revocation.p99Ms} / max ${extra.revocation.maxMs} ms | target p99 < 20 ms | | |`);
for (const [service, r] of Object.entries(extra.rebuild)) {
  lines.push(`| rebuild of ${service}'s projections, ${fmt(r.events)} events, median of ${r.runs.length} | ${fmt(r.perSecond)} events/s | target 50,000 | | runs ${fmt(Math.min(...r.runs))}–${fmt(Math.max(...r.runs))} |`);
}
lines.push(
  syncCost.skipped
    ? `| NATS_SYNC_ALWAYS=true, acknowledged appends/s | not measured: ${syncCost.skipped} | | | |`
    : `| NATS_SYNC_ALWAYS=true, acknowledged appends/s (16 in flight; p99 ms) on nats-server ${syncCost.nats.split(' ')[0]} | ${fmt(syncCost.syncAlways.appendsPerSecond)} (p99 ${syncCost.syncAlways.p99Ms}) | ${fmt(syncCost.default.appendsPerSecond)} (p99 ${syncCost.default.p99Ms}), default sync | **${fmt(syncCost.ratio, 2)}** | |`,
);
for (const [service, mb] of Object.entries(extra.memory.idleMb)) lines.push(`| RSS of ${service}: idle / peak under M1-M4 | ${mb} / ${extra.memory.underLoadPeakMb[service]} MB | idle target < 100 MB | | |`);
// Where the CPU goes: each process's CPU time per operation (from /proc, all threads), median over runs. With
// every core busy, throughput is roughly the machine's CPU divided by the sum of a row.
const cpuPerOp = (peer, metric) => {
  const runs = samples(peer, metric).filter((s) => s.cpu?.byRole);
  if (runs.length === 0) return null;
  const roles = Object.keys(runs[0].cpu.byRole);
  const us = (pct, s) => (pct == null ? null : (pct / 100) * 1e6 / s.result.opsPerSec);
  const byRole = Object.fromEntries(roles.map((role) => [role, median(runs.map((s) => us(s.cpu.byRole[role], s)).filter((x) => x != null))]));
  return { byRole, total: Object.values(byRole).reduce((a, b) => a + (b ?? 0), 0), loadgen: median(runs.map((s) => us(s.cpu.loadgenPct, s)).filter((x) => x != null)) };
};
lines.push('');
lines.push('CPU time per operation, µs (all threads of each process, from /proc; medians over runs):');
lines.push('');
lines.push('| metric | server | µs per op, all server processes | by process | load generator |');
lines.push('|---|---|---:|---|---:|');
for (const [metric, peerList] of [['M1', ['OURS', 'P2']], ['M2', ['OURS', 'P2']], ['M3', ['OURS', 'P2']], ['M4', ['OURS', 'OURS-noauth', 'P3']]]) {
  for (const peer of peerList) {
    const c = cpuPerOp(peer, metric);
    if (!c) continue;
    const parts = Object.entries(c.byRole).filter(([, v]) => v != null && v >= 0.5).map(([role, v]) => `${role} ${fmt(v)}`).join(', ');
    lines.push(`| ${metric} | ${peer} | ${fmt(c.total)} | ${parts} | ${fmt(c.loadgen)} |`);
  }
}
const table = lines.join('\n');
say(`\n${table}\n`);
const out = join(resultsDir, `bench-${stamp}.json`);
writeFileSync(out, JSON.stringify({ settings, table, peersFile: peersOut, peers: peers.summary ?? null, extra, syncCost, seconds: Math.round((Date.now() - started) / 1000) }, null, 2));
say(`wrote ${out} (${Math.round((Date.now() - started) / 1000)} s)`);
