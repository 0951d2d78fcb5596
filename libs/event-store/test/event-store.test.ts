import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { randomUUID } from 'node:crypto';
import { newEvent, NoteCreated, subjects } from '@mcp-auth/contracts';
import { startNats, type NatsHandle } from '@mcp-auth/testing';
import { ConcurrencyConflict, EventStore, EventStoreUnavailable } from '../src/index.ts';

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
    await lonely.nc.close();
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
