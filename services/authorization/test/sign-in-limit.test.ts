import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { subjects, type DomainEvent } from '@mcp-auth/contracts';
import { EventStore } from '@mcp-auth/event-store';
import { CookieKeepingHttp, freePort, parseForms, startNats, startService, startedTogether, type HttpAnswer, type NatsHandle, type ServiceProcess } from '@mcp-auth/testing';
import { userIdFor } from '../src/users/usernames.ts';

const LIMIT = 5;

/**
 * The per-account limit holds under parallel guesses, across replicas: a guess is admitted on the account's
 * sign-in subject (an exclusive append) before its password is compared, so no more than the limit are ever
 * compared in a window, however many arrive at once and on whichever replica.
 */
describe('sign-in limit per account under parallel guesses, two replicas on one real NATS', () => {
  let nats: NatsHandle;
  let a: ServiceProcess;
  let b: ServiceProcess;
  let issuer: string;
  let store: EventStore;

  before(async () => {
    nats = await startNats();
    const port = await freePort();
    issuer = `http://127.0.0.1:${port}`;
    // Both replicas serve one issuer, as behind a load balancer. The address limit is out of the way: every guess comes from 127.0.0.1.
    const env = {
      NATS_URL: nats.url,
      ISSUER: issuer,
      SEED_USERS: 'alice:password123,bob:password456,carol:password789',
      SIGNIN_MAX_FAILURES_PER_ACCOUNT: String(LIMIT),
      SIGNIN_MAX_FAILURES_PER_ADDRESS: '1000',
      SIGNIN_RATE_LIMIT: '0',
    };
    [a, b] = await startedTogether(startService('authorization', { port, env }), startService('authorization', { env }));
    store = await EventStore.connect({ servers: nats.url, connectionName: 'sign-in-limit-test' });
  });

  after(async () => {
    for (const service of [a, b]) {
      if (service) assert.ok(!/unhandled error/.test(service.output()), `no unhandled error in the logs:\n${service.output().slice(-3000)}`);
    }
    await store?.close();
    await Promise.all([a?.stop(), b?.stop()]);
    await nats?.stop();
  });

  /** A browser holding the sign-in form of one replica (its CSRF cookie and token), ready to post it. */
  async function signInForm(service: ServiceProcess) {
    const browser = new CookieKeepingHttp();
    const page = await browser.request(`${service.url}/account`);
    const form = parseForms(page.text).find((f) => f.action === '/signin');
    assert.ok(form, `a sign-in form on ${service.url}/account`);
    return (username: string, password: string): Promise<HttpAnswer> =>
      browser.request(`${service.url}/signin`, { method: 'POST', headers: { Origin: new URL(issuer).origin }, form: { ...form.fields, username, password } });
  }

  /** Posts the guesses all at once, alternating between the two replicas (forms fetched beforehand). */
  async function inParallel(username: string, passwords: string[]): Promise<HttpAnswer[]> {
    const posts = await Promise.all(passwords.map((_, i) => signInForm(i % 2 === 0 ? a : b)));
    return Promise.all(posts.map((post, i) => post(username, passwords[i]!)));
  }

  /** Every event on the account's sign-in subject, read from the stream. */
  async function signInEvents(username: string): Promise<DomainEvent[]> {
    const subject = subjects.signIn(userIdFor(username));
    const last = await store.last(subject);
    if (!last) return [];
    const events: DomainEvent[] = [];
    const messages = await store.consumeFrom(1, 500, undefined, [subject]);
    for await (const message of messages) {
      const decoded = JSON.parse(new TextDecoder().decode(message.data)) as DomainEvent;
      events.push(decoded);
      if (message.seq >= last.position) break;
    }
    messages.stop();
    return events;
  }

  const statuses = (answers: HttpAnswer[]) => answers.map((answer) => answer.status).sort();
  /** Answers that compared the password: 401 (wrong) or 303 (signed in). 429 means refused before any comparison. */
  const compared = (answers: HttpAnswer[]) => answers.filter((answer) => answer.status === 401 || answer.status === 303);

  test(`18 wrong passwords at once: at most ${LIMIT} are compared, the others are refused with 429 unchecked`, async () => {
    const answers = await inParallel('alice', Array.from({ length: 18 }, (_, i) => `wrong-password-${i}`));
    assert.ok(answers.every((answer) => answer.status === 401 || answer.status === 429), `only 401 and 429: ${statuses(answers)}`);
    assert.ok(compared(answers).length <= LIMIT, `at most ${LIMIT} passwords compared, not ${compared(answers).length}: ${statuses(answers)}`);
    assert.equal(compared(answers).length, LIMIT, `the limit is reached, not undercut: ${statuses(answers)}`);
    for (const refused of answers.filter((answer) => answer.status === 429)) assert.ok(Number(refused.headers.get('retry-after')) >= 1, 'a 429 says when to retry');

    const events = await signInEvents('alice');
    const failures = events.filter((e) => e.type === 'UserSignInFailed' && e.data.reason === 'bad_credentials');
    assert.equal(failures.length, LIMIT, `${LIMIT} bad credentials recorded on the account's subject`);
    const admitted = events.filter((e) => e.type === 'SignInAttemptAdmitted');
    assert.equal(admitted.length, LIMIT, 'each compared guess was admitted first');
    for (const failure of failures) {
      const attemptId = (failure.data as { attemptId?: string }).attemptId;
      assert.ok(admitted.some((e) => e.type === 'SignInAttemptAdmitted' && e.data.attemptId === attemptId), 'each failure resolves an admitted attempt');
    }
    // And afterwards, on either replica, even the right password waits for the window.
    for (const service of [a, b]) assert.equal((await (await signInForm(service))('alice', 'password123')).status, 429);
  });

  test(`the right password inside a burst of 15 wrong ones: still at most ${LIMIT} compared in all`, async () => {
    const passwords = [...Array.from({ length: 15 }, (_, i) => `wrong-password-${i}`), 'password456'];
    const answers = await inParallel('bob', passwords);
    assert.ok(compared(answers).length <= LIMIT, `at most ${LIMIT} of the 16 compared, not ${compared(answers).length}: ${statuses(answers)}`);
    const signedIn = answers.filter((answer) => answer.status === 303);
    assert.ok(signedIn.length <= 1);
    const events = await signInEvents('bob');
    const outcomes = events.filter((e) => e.type === 'UserSignedIn' || (e.type === 'UserSignInFailed' && e.data.reason === 'bad_credentials'));
    assert.equal(outcomes.length, compared(answers).length, 'the stream records one outcome per compared guess');
  });

  test('sequential sign-ins of one account are not slowed down into refusals: each is admitted, then completed', async () => {
    for (let i = 0; i < 3; i++) assert.equal((await (await signInForm(i % 2 === 0 ? a : b))('carol', 'password789')).status, 303, `sign-in ${i + 1}`);
    const events = await signInEvents('carol');
    assert.deepEqual(
      events.map((e) => e.type),
      ['SignInAttemptAdmitted', 'UserSignedIn', 'SignInAttemptAdmitted', 'UserSignedIn', 'SignInAttemptAdmitted', 'UserSignedIn'],
    );
  });
});
