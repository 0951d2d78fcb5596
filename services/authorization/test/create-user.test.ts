import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { subjects } from '@mcp-auth/contracts';
import { EventStore } from '@mcp-auth/event-store';
import { startNats, type NatsHandle } from '@mcp-auth/testing';
import { InvalidUser, createUser } from '../src/users/create-user.ts';
import { userIdFor } from '../src/users/usernames.ts';

const admin = { kind: 'admin', id: 'test' } as const;

describe('creating users (users CLI, SEED_USERS) on a real nats-server', () => {
  let nats: NatsHandle;
  let store: EventStore;
  before(async () => {
    nats = await startNats();
    store = await EventStore.connect({ servers: nats.url, connectionName: 'create-user-test' });
  });
  after(async () => {
    await store?.close();
    await nats?.stop();
  });

  test('creates a user once; a second time changes nothing', async () => {
    assert.equal(await createUser(store, 'carol', 'correct-horse-battery', admin), 'created');
    assert.equal(await createUser(store, 'carol', 'another-long-password', admin), 'exists');
    assert.ok(await store.last(subjects.user(userIdFor('carol'))));
  });

  test('refuses a password no sign-in form could send (two lines piped in, a control character) and records nothing', async () => {
    for (const password of ['correct-horse-battery\ncorrect-horse-battery', 'correct\rhorse-battery', 'correct-horse\u0000battery', 'correct\thorse-battery']) {
      await assert.rejects(createUser(store, 'dave', password, admin), (err: unknown) => err instanceof InvalidUser && /one line of printable characters/.test(err.message));
    }
    await assert.rejects(createUser(store, 'dave', 'short', admin), InvalidUser);
    assert.equal(await store.last(subjects.user(userIdFor('dave'))), null);
    assert.equal(await createUser(store, 'dave', 'correct horse battery ünïcode', admin), 'created', 'spaces and letters of any script are fine');
  });
});
