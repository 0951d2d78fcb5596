import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { DecidedEvent } from '@mcp-auth/contracts';
import { EventStore } from '@mcp-auth/event-store';
import { TEST_ADMIN_TOKEN, deciderSpec, freePort, http, parseForms, startNats, startService, startedTogether, type HttpAnswer, type NatsHandle, type ServiceProcess } from '@mcp-auth/testing';
import { AdminCredential } from '../src/access/admin-credential.ts';
import { consoleSessionDecider, type ConsoleSessionState, type EndConsoleSession } from '../src/console/session-decider.ts';

describe('console sessions', () => {
  const spec = deciderSpec<EndConsoleSession, ConsoleSessionState, DecidedEvent>(consoleSessionDecider);
  const end: EndConsoleSession = { type: 'EndConsoleSession', data: { sessionHash: 'h', expiresAt: 2_000_000_000 } };

  test('signing out ends the session once; signing out again records nothing more', () => {
    spec.given({ ended: false }).when(end).then([{ type: 'AdminSessionEnded', data: { sessionHash: 'h', expiresAt: 2_000_000_000 } }]);
    spec.given({ ended: true }).when(end).then([]);
  });

  test('a cookie proves its own session until it expires, only under the credential that signed it', () => {
    const credential = new AdminCredential(TEST_ADMIN_TOKEN);
    const cookie = credential.issueSession(1_000);
    const claim = credential.verifySession(cookie, 999);
    assert.ok(claim);
    assert.equal(claim.expiresAt, 1_000);
    assert.match(claim.sessionHash, /^[A-Za-z0-9_-]{43}$/);
    assert.notEqual(credential.verifySession(credential.issueSession(1_000), 999)!.sessionHash, claim.sessionHash, 'every sign-in is a session of its own');
    assert.equal(credential.verifySession(cookie, 1_000), null, 'expired');
    assert.equal(new AdminCredential(`${TEST_ADMIN_TOKEN}-rotated`).verifySession(cookie, 999), null, 'another credential');
    const [expiry, id, signature] = cookie.split('.');
    assert.equal(credential.verifySession(`${Number(expiry) + 1}.${id}.${signature}`, 999), null, 'a changed expiry');
    assert.equal(credential.verifySession(`${expiry}.${id!.replace(/^./, (c) => (c === 'A' ? 'B' : 'A'))}.${signature}`, 999), null, 'another session id');
  });
});

/**
 * Signing out of the console ends the session on the server, for every replica: the sign-out is an event in the
 * admin context, and a replica asks the stream about a session before it honours its cookie.
 */
describe('admin console sign-out, two admin replicas on one real NATS', () => {
  let nats: NatsHandle;
  let a: ServiceProcess;
  let b: ServiceProcess;
  let origin: string;
  let store: EventStore;

  before(async () => {
    nats = await startNats();
    const port = await freePort();
    origin = `http://127.0.0.1:${port}`;
    // Both replicas serve one console origin, as behind a load balancer.
    const env = { NATS_URL: nats.url, ADMIN_TOKEN: TEST_ADMIN_TOKEN, ADMIN_BASE_URL: origin };
    [a, b] = await startedTogether(startService('admin', { port, env }), startService('admin', { env }));
    store = await EventStore.connect({ servers: nats.url, connectionName: 'console-session-test' });
  });

  after(async () => {
    await store?.close();
    await Promise.all([a?.stop(), b?.stop()]);
    await nats?.stop();
  });

  const cookiesOf = (answer: HttpAnswer) => answer.headers.getSetCookie().map((c) => c.split(';')[0]!);
  const page = (service: ServiceProcess, path: string, cookie: string) => http(`${service.url}${path}`, { headers: { Cookie: cookie } });

  /** Posts a console form of `service`'s page at `path`, as the browser holding `cookie` would. */
  async function submit(service: ServiceProcess, path: string, action: string, cookie: string, fields: Record<string, string> = {}): Promise<HttpAnswer> {
    const form = parseForms((await page(service, path, cookie)).text).find((f) => f.action === action);
    assert.ok(form, `a form posting to ${action} on ${path}`);
    return http(`${service.url}${action}`, { method: 'POST', headers: { Cookie: cookie, Origin: origin }, form: { ...form.fields, ...fields } });
  }

  /** Signs in on a replica; returns the Cookie header of the signed-in browser (CSRF and session cookies). */
  async function signIn(service: ServiceProcess): Promise<string> {
    const signInPage = await http(`${service.url}/admin/sign-in`);
    const csrf = cookiesOf(signInPage).join('; ');
    const answer = await submit(service, '/admin/sign-in', '/admin/sign-in', csrf, { admin_token: TEST_ADMIN_TOKEN });
    assert.equal(answer.status, 303, answer.text);
    const session = cookiesOf(answer).find((c) => c.startsWith('admin_session='));
    assert.ok(session, 'a session cookie');
    return `${csrf}; ${session}`;
  }

  const isSignInRedirect = (answer: HttpAnswer) => answer.status === 302 && answer.headers.get('location') === '/admin/sign-in';

  test('a cookie replayed after Sign out gets the sign-in page on every replica; other sessions go on', async () => {
    const replayed = await signIn(a);
    const other = await signIn(b);
    for (const service of [a, b]) assert.equal((await page(service, '/admin', replayed)).status, 200, `${service.url}: signed in on either replica`);

    const signedOut = await submit(a, '/admin', '/admin/sign-out', replayed);
    assert.equal(signedOut.status, 303);
    assert.equal(signedOut.headers.get('location'), '/admin/sign-in');
    assert.ok(signedOut.headers.getSetCookie().some((c) => /^admin_session=;/.test(c)), 'the browser is told to forget the cookie');

    // An attacker who kept the cookie: refused at once, on the replica that signed it out and on the other one.
    for (const service of [b, a]) {
      assert.ok(isSignInRedirect(await page(service, '/admin', replayed)), `${service.url}: the replayed cookie is no session`);
      assert.ok(isSignInRedirect(await page(service, '/admin/clients', replayed)), `${service.url}: nor on any other page`);
      const post = await http(`${service.url}/admin/sign-out`, { method: 'POST', headers: { Cookie: replayed, Origin: origin }, form: { _csrf: 'x' } });
      assert.ok(post.status === 403 || isSignInRedirect(post), `${service.url}: a form post with it does nothing (${post.status})`);
    }
    for (const service of [a, b]) assert.equal((await page(service, '/admin', other)).status, 200, 'another console session is not affected');
    assert.equal((await page(a, '/admin', await signIn(a))).status, 200, 'signing in again gives a new session');
  });

  test('the sign-out is in the audit trail, without the session cookie or its secret', async () => {
    const cookie = await signIn(b);
    const session = cookie.split('; ').find((c) => c.startsWith('admin_session='))!.slice('admin_session='.length);
    assert.equal((await submit(b, '/admin', '/admin/sign-out', cookie)).status, 303);
    // The other replica's audit trail shows it as soon as it applied it.
    let audit: HttpAnswer;
    let events: Array<Record<string, any>> = [];
    for (const deadline = Date.now() + 3_000; events.length < 2 && Date.now() < deadline; await new Promise((r) => setTimeout(r, 50))) {
      audit = await http(`${a.url}/admin/api/audit?type=AdminSessionEnded`, { headers: { Authorization: `Bearer ${TEST_ADMIN_TOKEN}` } });
      assert.equal(audit.status, 200, audit.text);
      events = audit.json!.events as Array<Record<string, any>>;
    }
    assert.equal(events.length, 2, 'both sign-outs are recorded');
    assert.equal(events[0]!.actor.kind, 'admin');
    for (const part of session.split('.')) if (part.length > 12) assert.ok(!audit!.text.includes(part), 'no part of the cookie is shown');
  });
});
