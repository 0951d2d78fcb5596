// What it costs a service to receive an event it has no use for: CPU per event of a process that only
// receives the stream, at a steady ~2,000 events/s (a few per write, as under the benchmark's load): the projector
// of one other aggregate (its consumer filtered on one subject: NATS sends nothing), the projector of every other
// aggregate (filtered on NATS 2.10+; on 2.9 it reads every event and passes it over by subject, as most services
// there do), a bare ordered consumer (pull, as the projector uses), an ordered push consumer, and a core NATS
// subscription (no JetStream at all); and a policy's durable consumer (libs/event-sourcing/src/policy.ts) on two other
// aggregates (filtered out on 2.10+; on 2.9 it is sent every event and acknowledges each), and on the notes'
// own aggregate for another type (sent every note, passed over by its type header and acknowledged: what
// authorization-policies pays for each refresh-token rotation, on the grant aggregate it watches for GrantRevoked).
// Run: node --import tsx bench/receive-cost.ts [seconds] [events per write] [ms between writes]
// (defaults 4, 3, 1; 30 and 14 keep the rate and show how much of the cost is per wake-up rather than per event).
// RECEIVER_PROF=<dir> writes a CPU profile of each receiving process there.
import { fork } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EVENT_AGGREGATES, NoteCreated, STREAM_NAME, eventCatalogue, newEvent, subjects, type EventType } from '@mcp-auth/contracts';
import { DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { EventStore } from '@mcp-auth/event-store';
import { Projector, defineProjection, startPolicy } from '@mcp-auth/event-sourcing';
import { startNats } from '@mcp-auth/testing';

const RECEIVERS = ['projector-one-aggregate', 'projector-several', 'ordered-consumer', 'ordered-push-consumer', 'core-subscription', 'policy-other-aggregates', 'policy-same-aggregate'] as const;
type Receiver = (typeof RECEIVERS)[number];
const actor = { actor: { kind: 'system' as const, id: 'receive-cost' } };

async function receive(natsUrl: string, receiver: Receiver): Promise<void> {
  const store = await EventStore.connect({ servers: natsUrl, connectionName: `receive-cost-${receiver}` });
  if (receiver === 'projector-one-aggregate' || receiver === 'projector-several') {
    // Projections of other aggregates than the notes published below. One aggregate: the consumer is filtered on
    // its subject, so NATS sends nothing (any server). Every other aggregate: filtered on NATS 2.10+; on 2.9 the
    // consumer reads everything and passes the notes over by subject, as most services there do.
    const types: EventType[] = receiver === 'projector-one-aggregate' ? ['ClientRegistered'] : (Object.keys(eventCatalogue) as EventType[]).filter((type) => EVENT_AGGREGATES[type] !== EVENT_AGGREGATES.NoteCreated);
    const others = defineProjection({ name: 'others', schema: 'CREATE TABLE IF NOT EXISTS seen (id TEXT)', handles: types, apply() {} });
    new Projector({ store, file: join(mkdtempSync(join(tmpdir(), 'receive-cost-')), 'projection.sqlite'), projections: [others] }).start();
  } else if (receiver === 'policy-other-aggregates' || receiver === 'policy-same-aggregate') {
    const nothing = defineProjection({ name: 'nothing', schema: 'CREATE TABLE IF NOT EXISTS seen (id TEXT)', handles: ['ClientRegistered'], apply() {} });
    const projector = new Projector({ store, file: join(mkdtempSync(join(tmpdir(), 'receive-cost-')), 'projection.sqlite'), projections: [nothing] });
    projector.start();
    const reactsTo: EventType[] = receiver === 'policy-other-aggregates' ? ['ClientDeleted', 'ConsentRevoked'] : ['NoteDeleted'];
    // Each run its own consumer, from the stream's end: what a running service's policy receives.
    const name = `receive-cost-${receiver}-${Date.now()}`;
    startPolicy({ store, projector, logger: store.logger }, { name, reactsTo, react: async () => {} });
    // It goes through the stream's history first: measured once that is done.
    const jsm = await jetstreamManager(await connect({ servers: natsUrl }));
    for (;;) {
      const info = await jsm.consumers.info(STREAM_NAME, name).catch(() => null);
      if (info && info.num_pending === 0 && info.num_ack_pending === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  } else if (receiver === 'ordered-consumer') {
    const { lastSequence } = await store.streamState();
    await store.consumeFrom(lastSequence + 1, 500, () => {});
  } else if (receiver === 'ordered-push-consumer') {
    const { lastSequence } = await store.streamState();
    const consumer = await jetstream(await connect({ servers: natsUrl })).consumers.getPushConsumer(STREAM_NAME, { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: lastSequence + 1 });
    await consumer.consume({ callback: () => {} });
  } else {
    (await connect({ servers: natsUrl })).subscribe('events.>', { callback: () => {} });
  }
  process.on('message', () => process.exit(0));
  process.send!('ready');
}

function cpuTicks(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

async function measure(seconds: number, burst: number, gapMs: number): Promise<void> {
  const nats = await startNats({ restartable: true });
  const store = await EventStore.connect({ servers: nats.url, connectionName: 'receive-cost-publisher' });
  let n = 0;
  const publishBurst = () =>
    Promise.all(
      Array.from({ length: burst }, () => {
        const noteId = `n${++n}`;
        return store.append(subjects.note(noteId), newEvent(NoteCreated, { noteId, userId: 'u', title: 't', text: 'x'.repeat(100) }, actor));
      }),
    );
  try {
    await publishBurst();
    const version = store.serverVersion;
    console.log(`CPU per event of a process receiving events of ${STREAM_NAME} that it passes over, ${burst} per write every ${gapMs} ms (${seconds} s each), nats-server ${version}:`);
    for (const receiver of RECEIVERS) {
      const child = fork(fileURLToPath(import.meta.url), ['--receiver', receiver, nats.url], { execArgv: ['--import', 'tsx', ...(process.env.RECEIVER_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.RECEIVER_PROF}`] : [])] });
      await new Promise((resolve) => child.once('message', resolve));
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      const startTicks = cpuTicks(child.pid!);
      const first = n;
      const started = Date.now();
      while (Date.now() - started < seconds * 1000) {
        await publishBurst();
        await new Promise((resolve) => setTimeout(resolve, gapMs));
      }
      const events = n - first;
      const cpuMicros = ((cpuTicks(child.pid!) - startTicks) / 100) * 1e6;
      console.log(`  ${receiver.padEnd(24)} ${(cpuMicros / events).toFixed(1).padStart(5)} µs per event (${Math.round(events / seconds)} events/s)`);
      child.send('stop');
      await new Promise((resolve) => child.once('exit', resolve));
    }
  } finally {
    await store.close();
    await nats.stop();
  }
}

if (process.argv[2] === '--receiver') await receive(process.argv[4]!, process.argv[3] as Receiver);
else await measure(Number(process.argv[2] ?? 4), Number(process.argv[3] ?? 3), Number(process.argv[4] ?? 1));
