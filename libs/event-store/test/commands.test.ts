import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect as natsConnect } from '@nats-io/transport-node';
import { startNats, type NatsHandle } from '@mcp-auth/testing';
import { EventStore, EventStoreUnavailable } from '../src/index.ts';

describe('commands over NATS request/reply, on a real nats-server', () => {
  let nats: NatsHandle;
  let owner: EventStore;
  let ownerReplica: EventStore;
  let sender: EventStore;

  before(async () => {
    nats = await startNats();
    const connect = (name: string) => EventStore.connect({ servers: nats.url, connectionName: name });
    [owner, ownerReplica, sender] = await Promise.all([connect('owner'), connect('owner-replica'), connect('sender')]);
  });
  after(async () => {
    await Promise.all([owner, ownerReplica, sender].map((s) => s?.close()));
    await nats?.stop();
  });

  test('the owner answers with what its handler returns; each request is handled by one replica of its queue group', async () => {
    const handled: string[] = [];
    const served = [owner, ownerReplica].map((store, i) =>
      store.serve('commands.test.echo', 'test', async (payload) => {
        handled.push(`replica ${i}`);
        return { echoed: payload };
      }),
    );
    try {
      for (let n = 0; n < 10; n++) assert.deepEqual(await sender.request('commands.test.echo', { n }, 2_000), { echoed: { n } });
      assert.equal(handled.length, 10, 'no request handled twice');
    } finally {
      await Promise.all(served.map((s) => s.stop()));
    }
  });

  test('a payload that is not JSON reaches the handler as undefined, for it to refuse', async () => {
    const served = owner.serve('commands.test.shape', 'test', async (payload) => ({ got: payload === undefined ? 'nothing' : 'something' }));
    // A round trip on the owner's connection: the subscription is known to the server before another connection sends to it.
    await owner.streamState();
    const plain = await natsConnect({ servers: nats.url });
    try {
      assert.deepEqual((await plain.request('commands.test.shape', 'not json', { timeout: 2_000 })).json(), { got: 'nothing' });
    } finally {
      await plain.close();
      await served.stop();
    }
  });

  test('nobody serving the subject: sent again until the timeout, then EventStoreUnavailable; an owner that comes up meanwhile answers', async () => {
    const started = Date.now();
    await assert.rejects(sender.request('commands.test.nobody', {}, 400), EventStoreUnavailable);
    assert.ok(Date.now() - started >= 300, 'it waited for an owner to come up');

    const late = sleep(200).then(() => owner.serve('commands.test.late', 'test', async () => ({ ok: true })));
    assert.deepEqual(await sender.request('commands.test.late', {}, 3_000), { ok: true });
    await (await late).stop();
  });

  test('an owner that does not answer in time: EventStoreUnavailable, and the command is not sent again', async () => {
    let received = 0;
    const served = owner.serve('commands.test.slow', 'test', async () => {
      received++;
      await sleep(1_000);
      return { ok: true };
    });
    try {
      await assert.rejects(sender.request('commands.test.slow', {}, 300), (err: Error) => err instanceof EventStoreUnavailable && /in time/.test(err.message));
      await sleep(100);
      assert.equal(received, 1);
    } finally {
      await served.stop();
    }
  });
});
