import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { subjects, type DecidedEvent } from '@mcp-auth/contracts';
import { EventStore } from '@mcp-auth/event-store';
import { CookieKeepingHttp, parseForms, startNats, startService, type NatsHandle, type ServiceProcess } from '@mcp-auth/testing';
import { SCRYPT_PARAMETERS, hashPassword, needsRehash, verifyPassword } from '../src/users/passwords.ts';
import { userDecider, type UserCommand, type UserState } from '../src/users/decider.ts';
import { userIdFor } from '../src/users/usernames.ts';
import { deciderSpec } from '@mcp-auth/testing';

/** The parameters of the hashes stored before this set: N = 2^15, r = 8, p = 1, below OWASP's floor. */
const WEAKER = { N: 2 ** 15, r: 8, p: 1 };

describe('password hashes', () => {
  test("new hashes use one of OWASP's scrypt settings, N = 2^15, r = 8, p = 3, written into the hash", async () => {
    assert.deepEqual(SCRYPT_PARAMETERS, { N: 2 ** 15, r: 8, p: 3 });
    const stored = await hashPassword('correct horse battery');
    assert.match(stored, /^scrypt\$32768\$8\$3\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
    assert.equal(await verifyPassword('correct horse battery', stored), true);
    assert.equal(await verifyPassword('correct horse batterY', stored), false);
  });

  test('a hash made with other parameters keeps verifying with its own', async () => {
    for (const parameters of [WEAKER, { N: 2 ** 17, r: 8, p: 1 }, { N: 2 ** 14, r: 8, p: 5 }]) {
      const stored = await hashPassword('correct horse battery', parameters);
      assert.equal(await verifyPassword('correct horse battery', stored), true, JSON.stringify(parameters));
      assert.equal(await verifyPassword('wrong horse battery', stored), false, JSON.stringify(parameters));
    }
  });

  test('needsRehash: less work or less memory than today is weaker; more of either is kept', async () => {
    assert.equal(needsRehash(await hashPassword('pw', WEAKER)), true, '2^15/8/1: a third of the work');
    assert.equal(needsRehash(await hashPassword('pw', { N: 2 ** 14, r: 8, p: 6 })), true, '2^14/8/6: more work, half the memory');
    assert.equal(needsRehash(await hashPassword('pw')), false, "today's");
    assert.equal(needsRehash(await hashPassword('pw', { N: 2 ** 16, r: 8, p: 2 })), false, 'stronger on both');
    assert.equal(needsRehash('not a hash'), false);
  });

  test('a malformed or absurd stored hash verifies nothing, and throws nothing', async () => {
    for (const stored of ['', 'scrypt$x$8$1$c2FsdA$aGFzaA', 'scrypt$1000$8$1$c2FsdA$aGFzaA', `scrypt$${2 ** 24}$8$1$c2FsdA$aGFzaA`, 'scrypt$32768$0$1$c2FsdA$aGFzaA', 'bcrypt$32768$8$1$c2FsdA$aGFzaA']) {
      assert.equal(await verifyPassword('pw', stored), false, stored);
    }
  });

  test('the users decider rehashes an existing user only', () => {
    const spec = deciderSpec<UserCommand, UserState, DecidedEvent>(userDecider);
    const rehash: UserCommand = { type: 'RehashPassword', data: { userId: 'usr_a', passwordHash: 'new' } };
    spec.given({ status: 'none' }).when(rehash).then([]);
    spec.given({ status: 'exists' }).when(rehash).then([{ type: 'UserPasswordRehashed', data: { userId: 'usr_a', passwordHash: 'new' } }]);
  });
});

describe('a weaker stored hash is replaced at the next successful sign-in, on a real service and NATS', () => {
  let nats: NatsHandle;
  let auth: ServiceProcess;
  let store: EventStore;

  before(async () => {
    nats = await startNats();
    store = await EventStore.connect({ servers: nats.url, connectionName: 'password-hashes-test' });
    // A user created with the old parameters, as an older release recorded it.
    const userId = userIdFor('olduser');
    await store.appendDecided([{ type: 'UserCreated', data: { userId, username: 'olduser', passwordHash: await hashPassword('old-password-1', WEAKER) } }], { actor: { kind: 'system', id: 'test' } }, { [subjects.user(userId)]: 0 });
    auth = await startService('authorization', { env: { NATS_URL: nats.url, SIGNIN_RATE_LIMIT: '0' } });
  });

  after(async () => {
    await store?.close();
    await auth?.stop();
    await nats?.stop();
  });

  async function signIn(username: string, password: string): Promise<number> {
    const browser = new CookieKeepingHttp();
    const page = await browser.request(`${auth.url}/account`);
    const form = parseForms(page.text).find((f) => f.action === '/signin')!;
    const answer = await browser.request(`${auth.url}/signin`, { method: 'POST', headers: { Origin: 'http://localhost:3001' }, form: { ...form.fields, username, password } });
    return answer.status;
  }

  async function lastOnUser() {
    const last = await store.last(subjects.user(userIdFor('olduser')));
    assert.ok(last && last.outcome.kind === 'event');
    return { position: last.position, event: last.outcome.event };
  }

  test('a wrong password changes nothing; the right one signs in with the old hash and records a new one; the new one signs in', async () => {
    const created = await lastOnUser();
    assert.equal(await signIn('olduser', 'not-the-password'), 401);
    assert.equal((await lastOnUser()).position, created.position, 'no rehash without the right password');

    assert.equal(await signIn('olduser', 'old-password-1'), 303, 'the old hash verifies');
    const rehashed = await lastOnUser();
    assert.equal(rehashed.event.type, 'UserPasswordRehashed');
    const passwordHash = (rehashed.event.data as { passwordHash: string }).passwordHash;
    assert.match(passwordHash, /^scrypt\$32768\$8\$3\$/);
    assert.equal(await verifyPassword('old-password-1', passwordHash), true);
    assert.equal(rehashed.event.metadata.actor.kind, 'user');

    assert.equal(await signIn('olduser', 'old-password-1'), 303, 'the new hash verifies');
    assert.equal((await lastOnUser()).position, rehashed.position, 'a current hash is not replaced again');
  });
});
