// CPU per acknowledged append: EventStore.append (our publisher, one inbox for all acknowledgements)
// against the NATS client's own JetStream publish, on a private nats-server, 16 appends in flight.
// Run: node --import tsx bench/append-cost.ts [appends]
import { randomUUID } from 'node:crypto';
import { jetstream } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { NoteCreated, newEvent, subjects, type EventEnvelope } from '@mcp-auth/contracts';
import { EventStore } from '@mcp-auth/event-store';
import { startNats } from '@mcp-auth/testing';
import { median } from './median.ts';

const total = Number(process.argv[2] ?? 20_000);
const nats = await startNats({ restartable: true });
const store = await EventStore.connect({ servers: nats.url, connectionName: 'append-cost' });
// The NATS client's own publish, on a connection of its own.
const nc = await connect({ servers: nats.url });
const js = jetstream(nc);
const actor = { actor: { kind: 'system' as const, id: 'bench' } };

async function measure(append: (subject: string, event: EventEnvelope) => Promise<unknown>): Promise<number> {
  let started = 0;
  const before = process.cpuUsage();
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (started++ < total) {
        const noteId = randomUUID();
        await append(subjects.note(noteId), newEvent(NoteCreated, { noteId, userId: 'u', title: 't', text: '' }, actor));
      }
    }),
  );
  const used = process.cpuUsage(before);
  return (used.user + used.system) / total;
}

const ours = (subject: string, event: EventEnvelope) => store.append(subject, event);
const clients = (subject: string, event: EventEnvelope) => js.publish(subject, JSON.stringify(event), { msgID: event.metadata.eventId });
const results: Record<string, number[]> = { 'EventStore.append': [], 'client js.publish': [] };
for (let round = 0; round < 3; round++) {
  results['EventStore.append']!.push(await measure(ours));
  results['client js.publish']!.push(await measure(clients));
}
for (const [name, xs] of Object.entries(results)) console.log(`${name.padEnd(18)} ${median(xs).toFixed(1)} µs CPU per append (median of ${xs.length} rounds of ${total})`);
console.log(`ratio ${(median(results['client js.publish']!) / median(results['EventStore.append']!)).toFixed(2)}× the CPU with the client's publish`);
await store.close();
await nc.close();
await nats.stop();
