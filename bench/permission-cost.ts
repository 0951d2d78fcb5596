// What NATS's permission checks cost per append: the same appends (EventStore.append, 16 in flight, as the
// mcp-tools identity on its own subjects) to a nats-server without authorization and to one configured from the
// permission matrix, in alternating rounds; CPU of the nats-server process (from /proc) and of this client.
// Run: node --import tsx bench/permission-cost.ts [appends per round] [rounds]
import { randomUUID } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { NoteCreated, newEvent, subjects } from '@mcp-auth/contracts';
import { EventStore } from '@mcp-auth/event-store';
import { natsAccessOf, startNats, type NatsHandle } from '@mcp-auth/testing';
import { median } from './median.ts';

const total = Number(process.argv[2] ?? 20_000);
const rounds = Number(process.argv[3] ?? 5);
const actor = { actor: { kind: 'system' as const, id: 'bench' } };

/** The nats-server process listening on the handle's port (Linux /proc). */
function serverPid(nats: NatsHandle): number {
  const port = new URL(nats.url).port;
  for (const entry of readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (argv[0]?.endsWith('nats-server') && argv[argv.indexOf('-p') + 1] === port) return Number(entry);
    } catch {}
  }
  throw new Error(`no nats-server on port ${port}`);
}

/** user + system CPU of a process, in microseconds. */
function cpuOf(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1e6) / 100;
}

async function round(store: EventStore, pid: number): Promise<{ server: number; client: number }> {
  let started = 0;
  const server = cpuOf(pid);
  const client = process.cpuUsage();
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (started++ < total) {
        const noteId = randomUUID();
        await store.append(subjects.note(noteId), newEvent(NoteCreated, { noteId, userId: 'u', title: 't', text: '' }, actor));
      }
    }),
  );
  const used = process.cpuUsage(client);
  return { server: (cpuOf(pid) - server) / total, client: (used.user + used.system) / total };
}

const open = await startNats({ restartable: true });
const secured = await startNats({ secured: true });
const stores = {
  open: await EventStore.connect({ servers: open.url, connectionName: 'permission-cost' }),
  secured: await EventStore.connect({ servers: secured.url, connectionName: 'permission-cost', ...natsAccessOf(secured, 'mcp-tools') }),
};
const pids = { open: serverPid(open), secured: serverPid(secured) };
const results = { open: [] as Array<{ server: number; client: number }>, secured: [] as Array<{ server: number; client: number }> };
// A warm-up round each, then alternating rounds.
await round(stores.open, pids.open);
await round(stores.secured, pids.secured);
for (let i = 0; i < rounds; i++) {
  for (const kind of i % 2 === 0 ? (['open', 'secured'] as const) : (['secured', 'open'] as const)) results[kind].push(await round(stores[kind], pids[kind]));
}
const line = (kind: 'open' | 'secured') =>
  `${kind.padEnd(8)} nats-server ${median(results[kind].map((r) => r.server)).toFixed(1)} µs, client ${median(results[kind].map((r) => r.client)).toFixed(1)} µs of CPU per append`;
console.log(`${line('open')}\n${line('secured')}  (medians of ${rounds} rounds of ${total})`);
const ratio = (of: 'server' | 'client') => (median(results.secured.map((r) => r[of])) / median(results.open.map((r) => r[of]))).toFixed(2);
console.log(`secured / open: nats-server ${ratio('server')}×, client ${ratio('client')}×`);
await stores.open.close();
await stores.secured.close();
await open.stop();
await secured.stop();
