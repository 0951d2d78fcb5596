// `npm run bench:auth-cost -- [pairs=6] [seconds=5]`: what the token check costs per tools/call, in CPU of
// every process, measured so that the machine's drift cancels out.
// One stack, two mcp-tools replicas on one NATS: the first checks tokens, the second has the check switched off
// (UNSAFE_BENCHMARK_WITHOUT_AUTH). The bench-peers load generator (M4, as `npm run bench` runs it) drives them
// in turn, A B B A A B …, and /proc gives each process's CPU (and its main thread's) over exactly each measured
// window. M4's ratio is throughput, which on a saturated 2-core machine follows the CPU per call of the
// processes together; this says which one pays the difference.
// --header-to-both: the load generator sends the token to the replica without the check too (what carrying it
// costs). AUTH_COST_AA=1: both replicas check tokens, an A/A run that shows this machine's noise.
import { fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { median } from './median.ts';
import { BENCH_USER, startBenchStack } from './stack-processes.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const PEERS = process.env.BENCH_PEERS_DIR ?? join(ROOT, '.cache', 'bench-peers');
const [pairs = 6, seconds = 5] = process.argv.slice(2).filter((a) => !a.startsWith('--')).map(Number);
const TICK_US = 1e6 / 100; // USER_HZ

/** User and system CPU of a process, all threads, in µs. */
function cpuUs(pid: number, thread?: number): { user: number; system: number } {
  const stat = readFileSync(thread === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${thread}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { user: Number(fields[11]) * TICK_US, system: Number(fields[12]) * TICK_US };
}
const total = (cpu: { user: number; system: number }) => cpu.user + cpu.system;

type Window = { opsPerSec: number; calls: number; cpuPerCall: Record<string, number>; systemPerCall: Record<string, number>; mainThreadPerCall: Record<string, number> };

const stack = await startBenchStack({ mcpReplicas: 2, mcpReplicaEnv: (i): Record<string, string> => (i === 1 && !process.env.AUTH_COST_AA ? { UNSAFE_BENCHMARK_WITHOUT_AUTH: 'true' } : {}) });
try {
  const mcp = stack.processes.filter((p) => p.name.startsWith('mcp-tools'));
  const sides = { check: `${mcp[0]!.url}/mcp`, 'check off': `${mcp[1]!.url}/mcp` } as const;
  const watched = [{ name: 'nats', pid: stack.natsPid }, ...stack.processes.map((p) => ({ name: p.name === 'mcp-tools' ? 'mcp-tools with the check' : p.name === 'mcp-tools#2' ? 'mcp-tools, check off' : p.name, pid: p.pid }))];

  // The experiment's switch: the load generator sends the token to the side without the check too.
  let tokenForCheckOff: string | undefined;
  if (process.argv.includes('--header-to-both')) {
    const { initHttp, closeHttp } = await import(join(PEERS, 'lib', 'http.mjs'));
    const { discover, registerClient, mcpClientRegistrationBody, DEFAULT_REDIRECT_URI } = await import(join(PEERS, 'lib', 'oauth.mjs'));
    const { authCodeFlow } = await import(join(PEERS, 'lib', 'flow.mjs'));
    const adapter = (await import(join(ROOT, 'bench', 'adapters', 'signed-in-user.mjs'))).default;
    initHttp({ connections: 2 });
    const d = await discover({ mcpUrl: sides.check });
    const client = await registerClient(d.as, mcpClientRegistrationBody(DEFAULT_REDIRECT_URI));
    tokenForCheckOff = (await authCodeFlow({ d, client, adapter, adapterOptions: BENCH_USER, redirectUri: DEFAULT_REDIRECT_URI })).tokens.access_token;
    await closeHttp();
  }

  const measure = (side: keyof typeof sides, mcpUrl: string): Promise<Window> =>
    new Promise((resolve, reject) => {
      const load = fork(join(PEERS, 'lib', 'loadgen.mjs'), [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
      let before: Array<{ user: number; system: number; main: number }> = [];
      let after: Array<{ user: number; system: number; main: number }> = [];
      let loadgenBefore = 0;
      let loadgenAfter = 0;
      const sample = () => watched.map((w) => ({ ...cpuUs(w.pid), main: total(cpuUs(w.pid, w.pid)) }));
      load.on('message', (message: { type: string; phase?: string; result?: { ok: number; opsPerSec: number; errors: number }; error?: string }) => {
        if (message.type === 'hello') {
          load.send({ type: 'job', job: { metric: 'M4', concurrency: 16, warmupS: 2, durationS: seconds, target: { mcpUrl, ...(side === 'check off' && tokenForCheckOff ? { accessToken: tokenForCheckOff } : {}), adapter: join(ROOT, 'bench', 'adapters', 'signed-in-user.mjs'), adapterOptions: BENCH_USER } } });
        } else if (message.type === 'window' && message.phase === 'start') {
          before = sample();
          loadgenBefore = total(cpuUs(load.pid!));
        } else if (message.type === 'window' && message.phase === 'end') {
          after = sample();
          loadgenAfter = total(cpuUs(load.pid!));
        } else if (message.type === 'result') {
          const { ok, opsPerSec, errors } = message.result!;
          if (errors > 0) return reject(new Error(`${side}: ${errors} failed calls`));
          const cpuPerCall: Record<string, number> = {};
          const systemPerCall: Record<string, number> = {};
          const mainThreadPerCall: Record<string, number> = {};
          watched.forEach((w, i) => {
            cpuPerCall[w.name] = (total(after[i]!) - total(before[i]!)) / ok;
            systemPerCall[w.name] = (after[i]!.system - before[i]!.system) / ok;
            mainThreadPerCall[w.name] = (after[i]!.main - before[i]!.main) / ok;
          });
          cpuPerCall['load generator'] = (loadgenAfter - loadgenBefore) / ok;
          resolve({ opsPerSec, calls: ok, cpuPerCall, systemPerCall, mainThreadPerCall });
        } else if (message.type === 'error') reject(new Error(message.error));
      });
    });

  const results: Record<keyof typeof sides, Window[]> = { check: [], 'check off': [] };
  const ratios: number[] = [];
  for (let pair = 0; pair < pairs; pair++) {
    const order: Array<keyof typeof sides> = pair % 2 === 0 ? ['check', 'check off'] : ['check off', 'check'];
    const got: Partial<Record<keyof typeof sides, Window>> = {};
    const run = async (side: keyof typeof sides) => {
      got[side] = await measure(side, sides[side]);
      results[side].push(got[side]!);
      const total = Object.values(got[side]!.cpuPerCall).reduce((a, b) => a + b, 0);
      const own = got[side]!.cpuPerCall[side === 'check' ? 'mcp-tools with the check' : 'mcp-tools, check off']!;
      process.stdout.write(`pair ${pair + 1} ${side.padEnd(9)} ${Math.round(got[side]!.opsPerSec)} calls/s, its mcp-tools ${Math.round(own)} µs/call, all processes ${Math.round(total)}\n`);
    };
    for (const side of order) await run(side);
    ratios.push(got.check!.opsPerSec / got['check off']!.opsPerSec);
  }

  // Per window: the mcp-tools under load (each side its own replica), the shared processes, the load generator.
  const loaded = (side: keyof typeof sides) => (side === 'check' ? 'mcp-tools with the check' : 'mcp-tools, check off');
  const figures: Array<[string, (w: Window, side: keyof typeof sides) => number]> = [
    ['mcp-tools under load', (w, side) => w.cpuPerCall[loaded(side)]!],
    ['… of which its main thread', (w, side) => w.mainThreadPerCall[loaded(side)]!],
    ['… of which system (kernel)', (w, side) => w.systemPerCall[loaded(side)]!],
    ['nats', (w) => w.cpuPerCall.nats!],
    ['admin', (w) => w.cpuPerCall.admin!],
    ['other services (idle mcp-tools included)', (w, side) => ['registration', 'authorization', 'token', loaded(side === 'check' ? 'check off' : 'check')].reduce((a, n) => a + w.cpuPerCall[n]!, 0)],
    ['all server processes', (w) => Object.entries(w.cpuPerCall).reduce((a, [n, v]) => (n === 'load generator' ? a : a + v), 0)],
    ['load generator', (w) => w.cpuPerCall['load generator']!],
  ];
  console.log(
    `\nCPU per tools/call in µs: medians of ${pairs} windows of ${seconds} s per side, and the median of the ${pairs} pairs' differences (back to back, so the machine's drift cancels)\n` +
      `| process | check | check off | difference |\n|---|---:|---:|---:|`,
  );
  for (const [name, of] of figures) {
    const on = results.check.map((w) => of(w, 'check'));
    const off = results['check off'].map((w) => of(w, 'check off'));
    console.log(`| ${name} | ${median(on).toFixed(1)} | ${median(off).toFixed(1)} | ${median(on.map((v, i) => v - off[i]!)).toFixed(1)} |`);
  }
  console.log(
    `\ncalls/s: check ${Math.round(median(results.check.map((w) => w.opsPerSec)))}, check off ${Math.round(median(results['check off'].map((w) => w.opsPerSec)))}; ` +
      `ratio per pair: median ${median(ratios).toFixed(3)} (${Math.min(...ratios).toFixed(3)}–${Math.max(...ratios).toFixed(3)})`,
  );
} finally {
  await stack.stop();
}
