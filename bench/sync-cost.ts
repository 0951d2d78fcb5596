// What NATS_SYNC_ALWAYS=true costs: acknowledged appends per second (EventStore.append, 16 in flight) on a
// private nats-server with its default sync (every 2 minutes) and with sync_interval: always (an fsync before
// every acknowledgement), alternated over rounds on the same binary, the store on the repository's disk.
// Prints JSON on stdout (for bench/run.mjs) and a summary on stderr.
// Run: node --import tsx bench/sync-cost.ts [appends per round] [rounds]
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NoteCreated, newEvent, subjects } from '@mcp-auth/contracts';
import { EventStore, supportsSyncInterval } from '@mcp-auth/event-store';
import { freePort, launchNatsServer } from '@mcp-auth/testing';
import { chooseNatsServer, syncAlwaysArgs } from '../scripts/nats-server.mjs';
import { median } from './median.ts';

const appends = Number(process.argv[2] ?? 4_000);
const rounds = Number(process.argv[3] ?? 3);
const IN_FLIGHT = 16;
const ROOT = fileURLToPath(new URL('..', import.meta.url));
// Not the temporary folder: where that is memory (tmpfs), an fsync costs nothing and the figure would lie.
const BENCH_DIR = join(ROOT, '.cache', 'bench-sync');
const actor = { actor: { kind: 'system' as const, id: 'bench' } };

type Round = { appendsPerSecond: number; p50Ms: number; p99Ms: number };

const nats = chooseNatsServer();
if (!nats || !supportsSyncInterval(nats.version)) {
  const reason = nats ? `nats-server ${nats.version} (${nats.binary}) has no sync_interval (2.10 and later)` : 'no nats-server found';
  process.stderr.write(`NATS_SYNC_ALWAYS cost not measured: ${reason}\n`);
  process.stdout.write(`${JSON.stringify({ skipped: reason })}\n`);
  process.exit(0);
}

async function measure(syncAlways: boolean): Promise<Round> {
  mkdirSync(BENCH_DIR, { recursive: true });
  const dir = mkdtempSync(join(BENCH_DIR, syncAlways ? 'always-' : 'default-'));
  const port = await freePort();
  const server = await launchNatsServer(nats!.binary, [...(syncAlways ? syncAlwaysArgs(nats!, dir) : []), '-js', '-a', '127.0.0.1', '-p', String(port), '-sd', join(dir, 'store')], port);
  const store = await EventStore.connect({ servers: `nats://127.0.0.1:${port}`, connectionName: 'sync-cost' });
  try {
    const run = async (count: number) => {
      const latencies: number[] = [];
      let started = 0;
      const begun = performance.now();
      await Promise.all(
        Array.from({ length: IN_FLIGHT }, async () => {
          while (started++ < count) {
            const noteId = randomUUID();
            const sent = performance.now();
            await store.append(subjects.note(noteId), newEvent(NoteCreated, { noteId, userId: 'u', title: 't', text: '' }, actor));
            latencies.push(performance.now() - sent);
          }
        }),
      );
      const seconds = (performance.now() - begun) / 1000;
      latencies.sort((a, b) => a - b);
      return { appendsPerSecond: count / seconds, p50Ms: latencies[Math.floor(latencies.length * 0.5)]!, p99Ms: latencies[Math.floor(latencies.length * 0.99)]! };
    };
    await run(Math.min(500, appends)); // warm-up: the stream, the client's JIT
    return await run(appends);
  } finally {
    await store.close();
    await server.halt('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
}

const results: Record<'default' | 'always', Round[]> = { default: [], always: [] };
for (let round = 0; round < rounds; round++) {
  results.default.push(await measure(false));
  results.always.push(await measure(true));
}
const summary = (list: Round[]) => ({
  appendsPerSecond: Math.round(median(list.map((r) => r.appendsPerSecond))),
  p50Ms: Math.round(median(list.map((r) => r.p50Ms)) * 100) / 100,
  p99Ms: Math.round(median(list.map((r) => r.p99Ms)) * 100) / 100,
});
const output = {
  nats: `${nats.version} (${nats.binary})`,
  appends,
  rounds,
  default: summary(results.default),
  syncAlways: summary(results.always),
  ratio: Math.round((median(results.always.map((r) => r.appendsPerSecond)) / median(results.default.map((r) => r.appendsPerSecond))) * 100) / 100,
};
process.stderr.write(
  `NATS_SYNC_ALWAYS on nats-server ${output.nats}: ${output.syncAlways.appendsPerSecond} acknowledged appends/s (p50 ${output.syncAlways.p50Ms} ms, p99 ${output.syncAlways.p99Ms} ms) ` +
    `against ${output.default.appendsPerSecond} (p50 ${output.default.p50Ms} ms, p99 ${output.default.p99Ms} ms) by default: ratio ${output.ratio} (median of ${rounds} rounds of ${appends}, ${IN_FLIGHT} in flight)\n`,
);
process.stdout.write(`${JSON.stringify(output)}\n`);
