import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { randomUUID } from 'node:crypto';
import { newEvent, NoteCreated, subjects } from '@mcp-auth/contracts';
import { startNats, type NatsHandle } from '@mcp-auth/testing';
import { connect, headers } from '@nats-io/transport-node';
import { ConcurrencyConflict, EventStore, EventStoreUnavailable } from '../src/index.ts';
import { AcknowledgedPublisher, PublishNotAcknowledged, PublishRefused } from '../src/acknowledged-publisher.ts';

const actor = { kind: 'system', id: 'test' } as const;
const note = (userId: string, title = 'hello') =>
  newEvent(NoteCreated, { noteId: randomUUID(), userId, title, text: 'body' }, { actor });

describe('event store on a real nats-server', () => {
  let nats: NatsHandle;
  let store: EventStore;

  before(async () => {
    nats = await startNats({ restartable: true });
    store = await EventStore.connect({ servers: nats.url, connectionName: 'event-store-test', appendDeadlineMs: 3_000 });
  });
  after(async () => {
    await store?.close();
    await nats?.stop();
  });

  test('creates the EVENTS stream and appends at increasing positions', async () => {
    const subject = subjects.note(randomUUID());
    const first = await store.append(subject, note('u1'));
    const second = await store.append(subject, note('u1'));
    assert.equal(second.position, first.position + 1);
    const last = await store.last(subject);
    assert.equal(last?.position, second.position);
    assert.equal(last?.outcome.kind, 'event');
  });

  test('of ten concurrent appends expecting the same sequence, exactly one wins', async () => {
    const subject = subjects.note(randomUUID());
    const base = await store.append(subject, note('u2'));
    const results = await Promise.allSettled(
      Array.from({ length: 10 }, () => store.append(subject, note('u2'), { expectedLastSubjectSequence: base.position })),
    );
    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r) => r.status === 'rejected');
    assert.equal(won.length, 1);
    assert.equal(lost.length, 9);
    for (const r of lost) assert.ok((r as PromiseRejectedResult).reason instanceof ConcurrencyConflict);
  });

  test('expecting sequence 0 creates an aggregate once', async () => {
    const subject = subjects.note(randomUUID());
    await store.append(subject, note('u3'), { expectedLastSubjectSequence: 0 });
    await assert.rejects(store.append(subject, note('u3'), { expectedLastSubjectSequence: 0 }), ConcurrencyConflict);
  });

  test('the same message id published twice is stored once', async () => {
    const subject = subjects.note(randomUUID());
    const event = note('u4');
    const first = await store.append(subject, event);
    const again = await store.append(subject, event);
    assert.equal(again.duplicate, true);
    assert.equal(again.position, first.position);
    const { lastSequence } = await store.streamState();
    assert.equal(lastSequence, first.position);
  });

  test('events survive a crash (SIGKILL) and restart of nats-server, and the client reconnects by itself', async () => {
    const subject = subjects.note(randomUUID());
    const written = await store.append(subject, note('u5', 'durable'));
    await nats.restart({ kill: true });
    const last = await waitForValue(() => store.last(subject));
    assert.equal(last.position, written.position);
    assert.equal(last.outcome.kind === 'event' && last.outcome.event.type === 'NoteCreated' && last.outcome.event.data.title, 'durable');
    const next = await store.append(subject, note('u5'));
    assert.equal(next.position, written.position + 1);
  });

  test('an append during a short outage is retried with the same id and lands once', async () => {
    const subject = subjects.note(randomUUID());
    const outage = nats.restart({ downtimeMs: 500 });
    await new Promise((r) => setTimeout(r, 100));
    const result = await store.append(subject, note('u6'));
    await outage;
    const state = await store.streamState();
    assert.equal(state.lastSequence, result.position);
  });

  test('with NATS down, an append gives up with EventStoreUnavailable instead of hanging', async () => {
    const down = await startNats({ restartable: true });
    const lonely = await EventStore.connect({ servers: down.url, connectionName: 'outage-test', appendDeadlineMs: 800 });
    await down.stop();
    const started = Date.now();
    await assert.rejects(lonely.append(subjects.note(randomUUID()), note('u7')), EventStoreUnavailable);
    assert.ok(Date.now() - started < 5_000);
    await lonely.close();
  });

  test('an acknowledgement that never comes fails the publish after its timeout; one that comes late is ignored', async () => {
    // A plain connection: the publisher's own, and one for what answers in place of a stream.
    const nc = await connect({ servers: nats.url });
    const publisher = new AcknowledgedPublisher(nc);
    // Something listens on the subject but no stream stores it, and it answers only after the timeout.
    const late = nc.subscribe('silent.acks', { callback: (_err, msg) => void setTimeout(() => msg.respond(JSON.stringify({ stream: 'X', seq: 7 })), 600) });
    const started = Date.now();
    await assert.rejects(publisher.publish('silent.acks', '{}', headers(), 200), (err: Error) => err instanceof PublishNotAcknowledged && /in time/.test(err.message));
    const waited = Date.now() - started;
    assert.ok(waited >= 190 && waited < 500, `failed after ${waited} ms`);
    // The late answer arrives for nobody; the next publish gets its own.
    const echo = nc.subscribe('echo.acks', { callback: (_err, msg) => void msg.respond(JSON.stringify({ stream: 'X', seq: 42, duplicate: true })) });
    await new Promise((r) => setTimeout(r, 600));
    assert.deepEqual(await publisher.publish('echo.acks', '{}', headers(), 1_000), { seq: 42, duplicate: true });
    late.unsubscribe();
    echo.unsubscribe();
    publisher.close();
    await nc.close();
  });

  test('a subject no stream captures fails at once (no responders); JetStream errors and odd answers are refused, not taken for acks', async () => {
    const nc = await connect({ servers: nats.url });
    const publisher = new AcknowledgedPublisher(nc);
    const started = Date.now();
    await assert.rejects(publisher.publish('nobody.listens', '{}', headers(), 5_000), (err: Error) => err instanceof PublishNotAcknowledged && /503/.test(err.message));
    assert.ok(Date.now() - started < 1_000, 'no wait for the timeout');
    const odd = nc.subscribe('odd.acks', {
      callback: (_err, msg) => {
        const kind = new TextDecoder().decode(msg.data);
        msg.respond(kind === 'error' ? JSON.stringify({ error: { code: 400, err_code: 10071, description: 'wrong last sequence: 3' } }) : kind === 'noseq' ? '{"stream":"X"}' : 'not json');
      },
    });
    await assert.rejects(publisher.publish('odd.acks', 'error', headers(), 1_000), (err: Error) => err instanceof PublishRefused && err.errCode === 10071);
    await assert.rejects(publisher.publish('odd.acks', 'noseq', headers(), 1_000), PublishNotAcknowledged);
    await assert.rejects(publisher.publish('odd.acks', 'garbage', headers(), 1_000), PublishNotAcknowledged);
    odd.unsubscribe();
    publisher.close();
    await nc.close();
  });
});

async function waitForValue<T>(read: () => Promise<T | null>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const value = await read();
      if (value !== null) return value;
    } catch (err) {
      if (Date.now() > deadline) throw err;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
