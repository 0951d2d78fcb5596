import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { EventStore } from '@mcp-auth/event-store';
import { clientsProjection } from '@mcp-auth/read-models';
import { rebuildProjections } from '@mcp-auth/event-sourcing';
import { http, startNats, startService, startedTogether, type Json, type NatsHandle, type ServiceProcess } from '@mcp-auth/testing';
import { realClientBodies } from './real-client-bodies.ts';
import { registrationTokensProjection } from '../src/clients/registration-tokens.ts';

const confidentialBody = (name: string) => ({ client_name: name, redirect_uris: ['https://app.example.com/cb'], token_endpoint_auth_method: 'client_secret_basic' });

describe('registration service over HTTP, two replicas on one real NATS', () => {
  let nats: NatsHandle;
  let a: ServiceProcess;
  let b: ServiceProcess;

  before(async () => {
    nats = await startNats();
    const env = { NATS_URL: nats.url, REGISTRATION_RATE_LIMIT: '0' };
    [a, b] = await startedTogether(startService('registration', { env }), startService('registration', { env }));
  });
  after(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await nats?.stop();
  });

  test('register → read → update → delete with the registration access token (RFC 7591/7592)', async () => {
    const created = await http(`${a.url}/register`, { method: 'POST', json: confidentialBody('lifecycle') });
    assert.equal(created.status, 201);
    assert.equal(created.headers.get('cache-control'), 'no-store');
    const c = created.json!;
    assert.match(c.client_id, /^[A-Za-z0-9_-]{16,}$/);
    assert.ok(Number.isInteger(c.client_id_issued_at));
    assert.ok(c.client_secret.length >= 40, 'a confidential client gets a secret');
    assert.equal(c.client_secret_expires_at, 0);
    assert.ok(c.registration_access_token.length >= 40);
    assert.equal(c.registration_client_uri, `http://localhost:3002/register/${c.client_id}`);
    assert.deepEqual(c.redirect_uris, ['https://app.example.com/cb']);
    const auth = { Authorization: `Bearer ${c.registration_access_token}` };

    // Written through A, read through B right away: B waits for its projection to reach the write.
    const read = await http(`${b.url}/register/${c.client_id}`, { headers: auth });
    assert.equal(read.status, 200);
    assert.equal(read.json!.client_name, 'lifecycle');
    assert.equal(read.json!.client_secret, undefined, 'the secret is never shown again');
    assert.equal(read.json!.registration_access_token, undefined);

    const updated = await http(`${b.url}/register/${c.client_id}`, {
      method: 'PUT',
      headers: auth,
      json: { ...confidentialBody('renamed'), client_id: c.client_id, redirect_uris: ['https://app.example.com/cb2'] },
    });
    assert.equal(updated.status, 200, updated.text);
    assert.equal(updated.json!.client_name, 'renamed');
    assert.deepEqual((await http(`${a.url}/register/${c.client_id}`, { headers: auth })).json!.redirect_uris, ['https://app.example.com/cb2']);

    const deleted = await http(`${a.url}/register/${c.client_id}`, { method: 'DELETE', headers: auth });
    assert.equal(deleted.status, 204);
    const gone = await http(`${b.url}/register/${c.client_id}`, { headers: auth });
    assert.equal(gone.status, 401);
  });

  test('public clients get no secret, and real MCP client bodies register', async () => {
    for (const [name, body] of Object.entries(realClientBodies)) {
      const res = await http(`${a.url}/register`, { method: 'POST', json: body });
      assert.equal(res.status, 201, `${name}: ${res.text}`);
      assert.equal(res.json!.client_secret, undefined);
      assert.equal(res.json!.client_secret_expires_at, undefined);
      assert.equal(res.json!.token_endpoint_auth_method, 'none');
    }
  });

  test('identical public registrations, even concurrent and on both replicas, return one client', async () => {
    const body = { ...realClientBodies['Claude Code'], client_name: 'Claude Code (dedup)' };
    const results = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        http(`${(i % 2 ? a : b).url}/register`, { method: 'POST', json: { ...body, redirect_uris: [`http://localhost:${40000 + i}/callback`] } }),
      ),
    );
    assert.deepEqual(results.map((r) => r.status), Array(30).fill(201));
    const ids = new Set(results.map((r) => r.json!.client_id));
    assert.equal(ids.size, 1, 'one client, whatever the loopback port');
    const tokens = new Set(results.map((r) => r.json!.registration_access_token));
    assert.equal(tokens.size, 30, 'each registrant has its own management token');
    const [clientId] = ids;
    for (const r of results.slice(0, 5)) {
      const read = await http(`${a.url}/register/${clientId}`, { headers: { Authorization: `Bearer ${r.json!.registration_access_token}` } });
      assert.equal(read.status, 200);
    }

    // The second registrant is recorded on the client's subject (it makes the client shared); the others on the
    // registrants' subject, which services that keep no registration tokens are not sent.
    const nc = await connect({ servers: nats.url });
    const perSubject = (await (await jetstreamManager(nc)).streams.info('EVENTS', { subjects_filter: `events.registration.*.${clientId}` })).state.subjects ?? {};
    assert.deepEqual(perSubject, { [`events.registration.client.${clientId}`]: 2, [`events.registration.registrants.${clientId}`]: 28 });
    await nc.close();

    // Each further registrant can use its own token at once, through the replica that did not register it.
    const reads = await Promise.all(
      Array.from({ length: 40 }, async (_, i) => {
        const [answering, other] = i % 2 ? [a, b] : [b, a];
        const registrant = await http(`${answering.url}/register`, { method: 'POST', json: { ...body, redirect_uris: ['http://localhost:41000/callback'] } });
        return (await http(`${other.url}/register/${clientId}`, { headers: { Authorization: `Bearer ${registrant.json!.registration_access_token}` } })).status;
      }),
    );
    assert.deepEqual(reads, Array(40).fill(200));

    // Anyone can obtain a token for the shared client by copying its metadata: it must not let them redirect or delete it for everyone.
    const auth = { Authorization: `Bearer ${results[0]!.json!.registration_access_token}` };
    const hijack = await http(`${b.url}/register/${clientId}`, { method: 'PUT', headers: auth, json: { ...body, client_id: clientId, redirect_uris: ['https://evil.example/cb'] } });
    assert.equal(hijack.status, 403);
    assert.equal(hijack.json!.error, 'access_denied');
    assert.match(hijack.json!.error_description, /shared by several registrations/);
    const removal = await http(`${a.url}/register/${clientId}`, { method: 'DELETE', headers: auth });
    assert.equal(removal.status, 403);
    const still = await http(`${a.url}/register/${clientId}`, { headers: auth });
    assert.equal(still.status, 200);
    // Each registrant was answered with its own port; the client keeps the one of whichever registrant created it.
    assert.equal(still.json!.redirect_uris.length, 1);
    assert.match(still.json!.redirect_uris[0], /^http:\/\/localhost:400[0-2][0-9]\/callback$/, 'the shared client is unchanged');
  });

  test('a registrant of a shared public client gets back its own redirect URIs (its loopback port), not the first registrant\'s', async () => {
    const body = { ...realClientBodies['Claude Code'], client_name: 'Claude Code (echo)' };
    const first = await http(`${a.url}/register`, { method: 'POST', json: { ...body, redirect_uris: ['http://localhost:46614/callback'] } });
    const second = await http(`${b.url}/register`, { method: 'POST', json: { ...body, redirect_uris: ['http://localhost:38055/callback'] } });
    assert.equal(first.status, 201, first.text);
    assert.equal(second.status, 201, second.text);
    assert.equal(second.json!.client_id, first.json!.client_id, 'one shared client');
    assert.deepEqual(first.json!.redirect_uris, ['http://localhost:46614/callback']);
    assert.deepEqual(second.json!.redirect_uris, ['http://localhost:38055/callback'], 'the second registrant sees its own port');
    const third = await http(`${a.url}/register`, { method: 'POST', json: { ...body, redirect_uris: ['http://localhost:51234/callback'] } });
    assert.deepEqual(third.json!.redirect_uris, ['http://localhost:51234/callback']);
  });

  test('a public client with a single registrant is still managed as RFC 7592 says', async () => {
    const only = await http(`${a.url}/register`, { method: 'POST', json: { ...realClientBodies['Claude Code'], client_name: 'Only registrant' } });
    assert.equal(only.status, 201);
    const auth = { Authorization: `Bearer ${only.json!.registration_access_token}` };
    const put = await http(`${b.url}/register/${only.json!.client_id}`, { method: 'PUT', headers: auth, json: { ...realClientBodies['Claude Code'], client_name: 'Renamed', client_id: only.json!.client_id } });
    assert.equal(put.status, 200);
    assert.equal(put.json!.client_name, 'Renamed');
    const deleted = await http(`${a.url}/register/${only.json!.client_id}`, { method: 'DELETE', headers: auth });
    assert.equal(deleted.status, 204);
  });

  test('200 concurrent registrations all succeed with distinct ids and no 5xx', async () => {
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        http(`${(i % 2 ? a : b).url}/register`, { method: 'POST', json: { ...realClientBodies['MCP Inspector'], client_name: `inspector ${i}` } }),
      ),
    );
    const statuses = results.map((r) => r.status);
    assert.deepEqual(statuses.filter((s) => s !== 201), []);
    assert.equal(new Set(results.map((r) => r.json!.client_id)).size, 200);
  });

  test('refusals answer the right status and RFC 7591 error, never a 5xx', async () => {
    const cases: Array<[string, RequestInit & { json?: unknown }, number, string]> = [
      ['malformed JSON', { method: 'POST', body: '{"redirect_uris": [', headers: { 'Content-Type': 'application/json' } }, 400, 'invalid_client_metadata'],
      ['a JSON array', { method: 'POST', json: [1, 2] }, 400, 'invalid_client_metadata'],
      ['a JSON string', { method: 'POST', json: 'hello' }, 400, 'invalid_client_metadata'],
      ['a form body', { method: 'POST', body: 'redirect_uris=x', headers: { 'Content-Type': 'application/x-www-form-urlencoded' } }, 415, 'invalid_client_metadata'],
      ['no content type', { method: 'POST', body: '{}' }, 415, 'invalid_client_metadata'],
      ['a body over 64 KiB', { method: 'POST', json: { redirect_uris: ['https://a.example/cb'], client_name: 'x'.repeat(70_000) } }, 413, 'invalid_client_metadata'],
      ['a javascript: redirect', { method: 'POST', json: { redirect_uris: ['javascript:alert(1)'] } }, 400, 'invalid_redirect_uri'],
      ['a fragment', { method: 'POST', json: { redirect_uris: ['https://a.example/cb#x'] } }, 400, 'invalid_redirect_uri'],
      ['http to a remote host', { method: 'POST', json: { redirect_uris: ['http://evil.example/cb'] } }, 400, 'invalid_redirect_uri'],
      ['no redirect URIs', { method: 'POST', json: { token_endpoint_auth_method: 'none' } }, 400, 'invalid_redirect_uri'],
      ['an unknown grant type', { method: 'POST', json: { redirect_uris: ['https://a.example/cb'], grant_types: ['password'] } }, 400, 'invalid_client_metadata'],
      ['an inconsistent grant/response pair', { method: 'POST', json: { redirect_uris: ['https://a.example/cb'], response_types: ['token'] } }, 400, 'invalid_client_metadata'],
      ['a non-string field', { method: 'POST', json: { redirect_uris: ['https://a.example/cb'], client_name: { a: 1 } } }, 400, 'invalid_client_metadata'],
      ['a client_name with a right-to-left override', { method: 'POST', json: { redirect_uris: ['https://a.example/cb'], client_name: 'Trusted \u202Eppa' } }, 400, 'invalid_client_metadata'],
      ['a client_name with a bidi isolate', { method: 'POST', json: { redirect_uris: ['https://a.example/cb'], client_name: 'Agent \u2067x\u2069' } }, 400, 'invalid_client_metadata'],
      ['a client_name with a zero-width space', { method: 'POST', json: { redirect_uris: ['https://a.example/cb'], client_name: 'Claude\u200B Code' } }, 400, 'invalid_client_metadata'],
      ['a client_name with a zero-width joiner', { method: 'POST', json: { redirect_uris: ['https://a.example/cb'], client_name: 'Cur\u200Dsor' } }, 400, 'invalid_client_metadata'],
    ];
    for (const [name, init, status, error] of cases) {
      const res = await http(`${a.url}/register`, init);
      assert.equal(res.status, status, `${name}: ${res.text}`);
      assert.equal(res.json?.error, error, name);
      assert.equal(typeof res.json?.error_description, 'string', name);
      assert.ok(!res.text.includes('    at '), `${name}: no stack trace`);
    }
    const unsupported = await http(`${a.url}/register`, { method: 'PATCH', json: {} });
    assert.ok(unsupported.status === 405 || unsupported.status === 404);
  });

  test('management needs the right registration access token', async () => {
    const one = (await http(`${a.url}/register`, { method: 'POST', json: confidentialBody('one') })).json!;
    const two = (await http(`${a.url}/register`, { method: 'POST', json: confidentialBody('two') })).json!;
    const missing = await http(`${a.url}/register/${one.client_id}`);
    assert.equal(missing.status, 401);
    assert.match(missing.headers.get('www-authenticate') ?? '', /^Bearer /);
    const wrong = await http(`${a.url}/register/${one.client_id}`, { headers: { Authorization: 'Bearer not-the-token' } });
    assert.equal(wrong.status, 401);
    assert.equal(wrong.json!.error, 'invalid_token');
    assert.match(wrong.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
    const otherClients = await http(`${a.url}/register/${one.client_id}`, { headers: { Authorization: `Bearer ${two.registration_access_token}` } });
    assert.equal(otherClients.status, 401);
    const unknown = await http(`${a.url}/register/no-such-client`, { headers: { Authorization: `Bearer ${one.registration_access_token}` } });
    assert.equal(unknown.status, 401);
    const hostileId = await http(`${a.url}/register/${encodeURIComponent('a.b.>')}`, { headers: { Authorization: `Bearer ${one.registration_access_token}` } });
    assert.equal(hostileId.status, 401);
    const auth = { Authorization: `Bearer ${one.registration_access_token}` };
    const idMismatch = await http(`${a.url}/register/${one.client_id}`, { method: 'PUT', headers: auth, json: { ...confidentialBody('x'), client_id: two.client_id } });
    assert.equal(idMismatch.status, 400);
    const badSecret = await http(`${a.url}/register/${one.client_id}`, { method: 'PUT', headers: auth, json: { ...confidentialBody('x'), client_id: one.client_id, client_secret: 'chosen-by-me' } });
    assert.equal(badSecret.status, 400);
    const badMetadata = await http(`${a.url}/register/${one.client_id}`, { method: 'PUT', headers: auth, json: { client_id: one.client_id, redirect_uris: ['http://evil.example/'] } });
    assert.equal(badMetadata.status, 400);
    assert.equal(badMetadata.json!.error, 'invalid_redirect_uri');
    const sameSecret = await http(`${a.url}/register/${one.client_id}`, { method: 'PUT', headers: auth, json: { ...confidentialBody('kept'), client_id: one.client_id, client_secret: one.client_secret } });
    assert.equal(sameSecret.status, 200);
  });

  test('CORS lets a browser page register; security headers and request ids are set', async () => {
    const preflight = await fetch(`${a.url}/register`, {
      method: 'OPTIONS',
      headers: { Origin: 'http://localhost:6274', 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type' },
    });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers.get('access-control-allow-origin'), '*');
    const res = await fetch(`${a.url}/register`, { method: 'POST', headers: { Origin: 'http://localhost:6274', 'Content-Type': 'application/json', 'X-Request-Id': 'trace-me-123' }, body: JSON.stringify(confidentialBody('cors')) });
    assert.equal(res.headers.get('access-control-allow-origin'), '*');
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    assert.match(res.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/);
    assert.equal(res.headers.get('x-request-id'), 'trace-me-123');
    // The access-log line is written as the answer goes out; give the pipe a moment to deliver it.
    for (let i = 0; i < 40 && !a.output().includes('"requestId":"trace-me-123"'); i++) await new Promise((r) => setTimeout(r, 50));
    assert.match(a.output(), /"requestId":"trace-me-123"/);
    assert.ok(!a.output().includes(((await res.json()) as Json).registration_access_token), 'tokens never reach the logs');
  });

  test('health, readiness and Prometheus metrics', async () => {
    assert.equal((await http(`${a.url}/healthz`)).status, 200);
    const ready = await http(`${a.url}/readyz`);
    assert.equal(ready.status, 200);
    assert.equal(ready.json!.nats, 'connected');
    assert.equal(ready.json!.projection.caughtUp, true);
    const metrics = await http(`${a.url}/metrics`);
    assert.match(metrics.text, /^# HELP http_requests_total/m);
    assert.match(metrics.text, /registered_clients \d+/);
    assert.match(metrics.text, /process_resident_memory_bytes/);
  });
});

describe('registration rate limit and projection recovery', () => {
  let nats: NatsHandle;
  before(async () => {
    nats = await startNats();
  });
  after(async () => nats?.stop());

  test('new clients from one address are limited with 429 and Retry-After; re-registrations are not', async () => {
    const service = await startService('registration', { env: { NATS_URL: nats.url, REGISTRATION_RATE_LIMIT: '3' } });
    try {
      const statuses = [];
      for (let i = 0; i < 4; i++) statuses.push((await http(`${service.url}/register`, { method: 'POST', json: confidentialBody(`limited ${i}`) })).status);
      assert.deepEqual(statuses, [201, 201, 201, 429]);
      const limited = await http(`${service.url}/register`, { method: 'POST', json: confidentialBody('again') });
      assert.equal(limited.json!.error, 'too_many_requests');
      assert.ok(Number(limited.headers.get('retry-after')) >= 1);
      // Public clients already registered (by another address, before) only count against their own client.
      const again = await http(`${service.url}/register`, { method: 'POST', json: realClientBodies['VS Code'] });
      assert.equal(again.status, 429, 'the first registration of a client is a new client');
    } finally {
      await service.stop();
    }
  });

  test("one address re-registering a shared public client cannot spend the client's budget for every other install", async () => {
    // Behind one trusted proxy, each address is the X-Forwarded-For the test sends.
    const service = await startService('registration', {
      env: { NATS_URL: nats.url, TRUSTED_PROXY_HOPS: '1', REGISTRATION_RATE_LIMIT: '0', REREGISTRATION_RATE_LIMIT: '10', REREGISTRATION_RATE_LIMIT_PER_ADDRESS: '5', REREGISTRATION_RATE_LIMIT_PER_CLIENT_AND_ADDRESS: '3' },
    });
    const register = (body: Json, from: string) => http(`${service.url}/register`, { method: 'POST', headers: { 'X-Forwarded-For': from }, json: body });
    const popular = { ...realClientBodies['Claude Code'], client_name: 'Claude Code (budget)' };
    const other = { ...realClientBodies['Claude Code'], client_name: 'Another agent (budget)' };
    try {
      assert.equal((await register(popular, '192.0.2.1')).status, 201, 'the first install registers the client');
      assert.equal((await register(other, '192.0.2.1')).status, 201);

      const attacker = '203.0.113.66';
      const flood = [];
      for (let i = 0; i < 20; i++) flood.push((await register(popular, attacker)).status);
      assert.deepEqual(flood, [...Array(3).fill(201), ...Array(17).fill(429)], 'one address gets its own share of the client, no more');

      // Every other install still registers: the attacker spent 3 of the client's 10.
      for (let i = 0; i < 7; i++) assert.equal((await register(popular, `198.51.100.${i + 1}`)).status, 201, `install ${i + 1}`);
      const overBudget = await register(popular, '198.51.100.200');
      assert.equal(overBudget.status, 429, "the client's own budget still holds");
      assert.equal(overBudget.json!.error, 'too_many_requests');
      assert.ok(Number(overBudget.headers.get('retry-after')) >= 1);

      // And one address cannot spread over many clients either: 3 (popular) + 2 (other) is its limit of 5.
      assert.deepEqual([(await register(other, attacker)).status, (await register(other, attacker)).status, (await register(other, attacker)).status], [201, 201, 429]);
      assert.equal((await register(other, '198.51.100.1')).status, 201, 'another address re-registers that client');
    } finally {
      await service.stop();
    }
  });

  test('after SIGKILL the service resumes from its checkpoint, and its projection equals a rebuild from sequence 1', async () => {
    const env = { NATS_URL: nats.url, REGISTRATION_RATE_LIMIT: '0' };
    const first = await startService('registration', { env });
    const other = await startService('registration', { env });
    for (let i = 0; i < 20; i++) await http(`${first.url}/register`, { method: 'POST', json: confidentialBody(`before ${i}`) });
    await first.stop('SIGKILL');
    const whileDown: Json[] = [];
    for (let i = 0; i < 20; i++) whileDown.push((await http(`${other.url}/register`, { method: 'POST', json: confidentialBody(`while down ${i}`) })).json!);
    const again = await startService('registration', { env, dataDir: first.dataDir, port: first.port });
    try {
      // Ready means caught up; the log line saying so may still be in the pipe.
      const caughtUpLine = () => again.output().split('\n').find((l) => l.includes('projection caught up'));
      for (let i = 0; i < 40 && !caughtUpLine(); i++) await new Promise((r) => setTimeout(r, 50));
      const resumed = JSON.parse(caughtUpLine() ?? '{}');
      assert.ok(resumed.position > 20, `caught up from the checkpoint: ${caughtUpLine()}`);
      const read = await http(`${again.url}/register/${whileDown[19]!.client_id}`, { headers: { Authorization: `Bearer ${whileDown[19]!.registration_access_token}` } });
      assert.equal(read.status, 200);
    } finally {
      await again.stop();
      await other.stop();
    }

    const store = await EventStore.connect({ servers: nats.url, connectionName: 'rebuild-check' });
    const rebuiltFile = join(first.dataDir, 'rebuilt.sqlite');
    await rebuildProjections({ store, file: rebuiltFile, projections: [clientsProjection, registrationTokensProjection] });
    await store.close();
    const dump = (file: string) => {
      const db = new Database(file, { readonly: true });
      const rows = {
        clients: db.prepare('SELECT * FROM clients ORDER BY client_id').all(),
        tokens: db.prepare('SELECT * FROM client_registration_tokens ORDER BY client_id, token_hash').all(),
      };
      db.close();
      return rows;
    };
    assert.deepEqual(dump(join(first.dataDir, 'registration.sqlite')), dump(rebuiltFile));
  });
});
