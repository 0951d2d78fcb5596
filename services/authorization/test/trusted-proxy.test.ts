import assert from 'node:assert/strict';
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { subjects, type DomainEvent } from '@mcp-auth/contracts';
import { EventStore } from '@mcp-auth/event-store';
import { freePort, parseForms, startNats, startService, type NatsHandle, type ServiceProcess } from '@mcp-auth/testing';
import { userIdFor } from '../src/users/usernames.ts';

/** Where the test's client really connects from: a loopback address of its own, so that it differs from the proxies'. */
const CLIENT_ADDRESS = '127.0.0.9';
/** The service's default ISSUER, whose origin its forms must be posted from. */
const ORIGIN = 'http://localhost:3001';

type Answer = { status: number; headers: IncomingHttpHeaders; text: string };

/** One HTTP request with node:http, from CLIENT_ADDRESS (fetch cannot choose its local address). */
function send(url: string, { method = 'GET', headers = {}, body }: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers, localAddress: CLIENT_ADDRESS }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * A reverse proxy as the edge runs one: it forwards every request to `target` and appends the address of the
 * peer it received the request from to X-Forwarded-For, keeping what the request already said there.
 */
async function appendingProxy(target: string): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((incoming, outgoing) => {
    const peer = incoming.socket.remoteAddress!.replace(/^::ffff:/, '');
    const forwardedFor = incoming.headers['x-forwarded-for'];
    const headers = { ...incoming.headers, 'x-forwarded-for': forwardedFor ? `${forwardedFor}, ${peer}` : peer };
    const upstream = request(new URL(incoming.url ?? '/', target), { method: incoming.method, headers }, (answer) => {
      outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(outgoing);
    });
    upstream.on('error', () => outgoing.writeHead(502).end());
    incoming.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/**
 * With TRUSTED_PROXY_HOPS=N the client's address is the Nth X-Forwarded-For entry from the right: the one the
 * outermost trusted proxy appended. Whatever the client itself wrote there is further left, and never used.
 */
describe('client addresses behind appending proxies (TRUSTED_PROXY_HOPS), on real services', () => {
  let nats: NatsHandle;
  let store: EventStore;
  const services: ServiceProcess[] = [];
  const proxies: Array<{ close(): Promise<void> }> = [];
  let oneHop: string;
  let twoHops: string;
  let legacy: { url: string; service: ServiceProcess };

  /** An authorization service with this proxy setting, behind `chain` appending proxies; returns the outermost URL. */
  async function behind(chain: number, env: Record<string, string>): Promise<{ url: string; service: ServiceProcess }> {
    const port = await freePort();
    let url = `http://127.0.0.1:${port}`;
    for (let i = 0; i < chain; i++) {
      const proxy = await appendingProxy(url);
      proxies.push(proxy);
      url = proxy.url;
    }
    const service = await startService('authorization', {
      port,
      env: { NATS_URL: nats.url, SEED_USERS: 'alice:password123,bob:password456', SIGNIN_MAX_FAILURES_PER_ACCOUNT: '100', SIGNIN_MAX_FAILURES_PER_ADDRESS: '100', SIGNIN_RATE_LIMIT: '0', ...env },
    });
    services.push(service);
    return { url, service };
  }

  before(async () => {
    nats = await startNats();
    store = await EventStore.connect({ servers: nats.url, connectionName: 'trusted-proxy-test' });
    // Failures from one address count on every service of the stream: only the first throttles at 3.
    const [one, two, old] = await Promise.all([
      behind(1, { TRUSTED_PROXY_HOPS: '1', SIGNIN_MAX_FAILURES_PER_ADDRESS: '3' }),
      behind(2, { TRUSTED_PROXY_HOPS: '2' }),
      behind(1, { TRUST_PROXY: 'true' }),
    ]);
    oneHop = one.url;
    twoHops = two.url;
    legacy = old;
  });

  after(async () => {
    await store?.close();
    await Promise.all(services.map((s) => s.stop()));
    await Promise.all(proxies.map((p) => p.close()));
    await nats?.stop();
  });

  /** A sign-in through the form, by a client that claims to be `forged` in its own X-Forwarded-For. */
  async function signIn(base: string, username: string, password: string, forged: string): Promise<Answer> {
    const page = await send(`${base}/account`, { headers: { 'X-Forwarded-For': forged } });
    const cookie = (page.headers['set-cookie'] ?? []).map((c) => c.split(';')[0]).join('; ');
    const form = parseForms(page.text).find((f) => f.action === '/signin');
    assert.ok(form, `a sign-in form: ${page.status} ${page.text.slice(0, 200)}`);
    const body = new URLSearchParams({ ...form.fields, username, password }).toString();
    return send(`${base}/signin`, {
      method: 'POST',
      headers: { 'X-Forwarded-For': forged, Cookie: cookie, Origin: ORIGIN, 'Content-Type': 'application/x-www-form-urlencoded' },
      body,
    });
  }

  /** The newest UserSignInFailed for a username, from the stream: what the audit trail shows. */
  async function lastFailure(username: string): Promise<{ clientAddress: string | null; sourceAddress: string | undefined }> {
    const last = await store.last(subjects.signIn(userIdFor(username)));
    assert.ok(last && last.outcome.kind === 'event' && last.outcome.event.type === 'UserSignInFailed', `a failure recorded for ${username}`);
    const event = last.outcome.event as Extract<DomainEvent, { type: 'UserSignInFailed' }>;
    return { clientAddress: event.data.clientAddress, sourceAddress: event.metadata.sourceAddress };
  }

  test('one hop: the events record the address the proxy saw, not the forged one', async () => {
    assert.equal((await signIn(oneHop, 'nobody-1', 'wrong-password', '203.0.113.50')).status, 401);
    assert.deepEqual(await lastFailure('nobody-1'), { clientAddress: CLIENT_ADDRESS, sourceAddress: CLIENT_ADDRESS });
  });

  test('one hop: a client changing its forged address at every guess is still throttled as one address', async () => {
    for (let i = 0; i < 2; i++) assert.equal((await signIn(oneHop, `stranger-${i}`, 'wrong-password', `198.51.100.${i + 1}`)).status, 401, `guess ${i + 1}`);
    // The first test's failure is the third from this address.
    const refused = await signIn(oneHop, 'alice', 'password123', '198.51.100.99');
    assert.equal(refused.status, 429, 'the real address reached SIGNIN_MAX_FAILURES_PER_ADDRESS');
  });

  test('two hops: the second entry from the right is the client, whatever it put in front', async () => {
    assert.equal((await signIn(twoHops, 'nobody-2', 'wrong-password', '203.0.113.51, 10.0.0.1')).status, 401);
    assert.deepEqual(await lastFailure('nobody-2'), { clientAddress: CLIENT_ADDRESS, sourceAddress: CLIENT_ADDRESS });
  });

  test('an old TRUST_PROXY=true counts as one hop, never as the leftmost entry, and says so in the log', async () => {
    assert.equal((await signIn(legacy.url, 'nobody-3', 'wrong-password', '203.0.113.52')).status, 401);
    assert.deepEqual(await lastFailure('nobody-3'), { clientAddress: CLIENT_ADDRESS, sourceAddress: CLIENT_ADDRESS });
    assert.match(legacy.service.output(), /TRUST_PROXY=true is read as TRUSTED_PROXY_HOPS=1/);
  });
});
