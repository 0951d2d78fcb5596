import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { Webhook } from 'standardwebhooks';
import { natsClientOptions } from '@mcp-auth/event-store';
import { TEST_ADMIN_TOKEN, http, natsAccessOf, registerPublicClient, startStack, type Json, type TestStack } from '@mcp-auth/testing';

const ADMIN = { Authorization: `Bearer ${TEST_ADMIN_TOKEN}` };
const MAX_ATTEMPTS = 5;

type Request = { headers: Record<string, string>; body: string; json: Json; status: number };

/** A real webhook receiver on 127.0.0.1; `status(n)` is its answer to the n-th request (from 1). */
async function receiver(status: (n: number) => number = () => 204) {
  const requests: Request[] = [];
  const server: Server = createServer((req: IncomingMessage, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      const answer = status(requests.length + 1);
      let json: Json = {};
      try {
        json = JSON.parse(body) as Json;
      } catch {}
      requests.push({ headers: req.headers as Record<string, string>, body, json, status: answer });
      res.writeHead(answer).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`,
    requests,
    /** The requests about one client's events. */
    about: (clientId: string) => requests.filter((r) => r.json?.data?.event?.clientId === clientId),
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function until<T>(what: string, probe: () => T | null | undefined | false | Promise<T | null | undefined | false>, timeoutMs = 8_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

describe('webhooks: signed, retried, dead-lettered deliveries to a real receiver', () => {
  let stack: TestStack;
  let api: string;

  const registerWebhook = (json: unknown, base = api) => http(`${base}/webhooks`, { method: 'POST', headers: ADMIN, json });
  const removeWebhook = (id: string) => http(`${api}/webhooks/${id}`, { method: 'DELETE', headers: ADMIN });
  const deliveries = async (query: string) => {
    const res = await http(`${api}/webhooks/deliveries?${query}`, { headers: ADMIN });
    assert.equal(res.status, 200, res.text);
    return res.json!.deliveries as Json[];
  };

  const jobsLeft = async () => {
    const nc = await connect({ servers: stack.nats.url, ...natsClientOptions(natsAccessOf(stack.nats, 'admin')) });
    try {
      return (await (await jetstreamManager(nc)).streams.info('WEBHOOK_DELIVERIES')).state.messages;
    } finally {
      await nc.close();
    }
  };

  before(async () => {
    stack = await startStack({
      mcpReplicas: 0,
      admin: {
        WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true',
        WEBHOOK_RETRY_BASE_MS: '50',
        WEBHOOK_RETRY_MAX_MS: '200',
        WEBHOOK_MAX_ATTEMPTS: String(MAX_ATTEMPTS),
        WEBHOOK_TIMEOUT_MS: '2000',
      },
    });
    api = `${stack.urls.admin}/admin/api`;
  });
  after(async () => {
    await stack?.stop();
  });

  test('a receiver on loopback gets signed deliveries that verify with the library, of the events after its registration only', async () => {
    const typed = await receiver();
    const everything = await receiver();
    const ids: string[] = [];
    try {
      const earlier = await registerPublicClient(stack.urls);
      const res = await registerWebhook({ url: typed.url, event_types: ['ClientRegistered', 'ClientDeleted'], description: 'CRM sync' });
      assert.equal(res.status, 201, res.text);
      const created = res.json!;
      ids.push(created.id);
      assert.match(created.id, /^wh_[A-Za-z0-9_-]+$/);
      assert.match(created.secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
      assert.deepEqual(
        { url: created.url, event_types: created.event_types, description: created.description, status: created.status },
        { url: typed.url, event_types: ['ClientRegistered', 'ClientDeleted'], description: 'CRM sync', status: 'active' },
      );
      assert.equal(res.headers.get('location'), `/admin/api/webhooks/${created.id}`);
      const all = await registerWebhook({ url: everything.url, event_types: ['*'] });
      assert.equal(all.status, 201, all.text);
      ids.push(all.json!.id);

      const shown = await http(`${api}/webhooks/${created.id}`, { headers: ADMIN });
      assert.equal(shown.status, 200);
      assert.equal(shown.json!.secret, undefined, 'the secret is shown once, at registration');
      const listed = await http(`${api}/webhooks`, { headers: ADMIN });
      assert.deepEqual(
        listed.json!.webhooks.map((w: Json) => w.id),
        ids,
      );
      assert.ok(!listed.text.includes(created.secret.slice(6)) && !listed.text.includes('encrypted'), 'no secret in listings');

      const clients = [await registerPublicClient(stack.urls), await registerPublicClient(stack.urls)];
      for (const client of clients) {
        await until('both deliveries', () => typed.about(client.client_id).length >= 1 && everything.about(client.client_id).length >= 1);
      }
      await sleep(300);
      assert.equal(typed.about(earlier.client_id).length + everything.about(earlier.client_id).length, 0, 'an event before the registration is not delivered');

      const typedHook = new Webhook(created.secret);
      for (const client of clients) {
        const [request] = typed.about(client.client_id);
        assert.equal(typed.about(client.client_id).length, 1);
        const payload = typedHook.verify(request!.body, request!.headers) as Json;
        assert.equal(payload.type, 'ClientRegistered');
        assert.match(payload.timestamp, /^\d{4}-\d\d-\d\dT/);
        assert.equal(payload.data.event.metadata.client_name, client.client_name);
        assert.ok(Number.isInteger(payload.data.position) && typeof payload.data.eventId === 'string');
        assert.deepEqual(payload.data.actor, { kind: 'client', id: client.client_id });
        assert.ok(!/Hash|encrypted/i.test(request!.body), 'no hashes or secrets in the body');
        assert.match(request!.headers['webhook-id']!, /^msg_/);
        assert.equal(request!.headers['content-type'], 'application/json');
        const other = everything.about(client.client_id)[0]!;
        new Webhook(all.json!.secret).verify(other.body, other.headers);
        assert.throws(() => typedHook.verify(other.body, other.headers), 'each endpoint has its own secret');
        assert.notEqual(other.headers['webhook-id'], request!.headers['webhook-id'], 'a delivery per endpoint');
      }
      assert.ok(
        everything.requests.every((r) => !String(r.json.type).startsWith('Webhook')),
        'the webhook context’s own events (delivery attempts) are never delivered, even to "*"',
      );

      const recorded = await until('the deliveries in the API', async () => {
        const list = await deliveries(`webhook=${created.id}`);
        return list.length === 2 && list.every((d) => d.state === 'delivered') && list;
      });
      assert.deepEqual(new Set(recorded.map((d) => d.id)), new Set(clients.map((c) => typed.about(c.client_id)[0]!.headers['webhook-id'])));
      assert.ok(recorded.every((d) => d.attempts === 1 && d.last_status === 204 && d.event_type === 'ClientRegistered'));
    } finally {
      for (const id of ids) await removeWebhook(id);
      await typed.close();
      await everything.close();
    }
  });

  test('a receiver that fails three times then succeeds gets the event exactly once more, with the same webhook-id', async () => {
    const flaky = await receiver((n) => (n <= 3 ? 500 : 200));
    let id: string | undefined;
    try {
      const res = await registerWebhook({ url: flaky.url, event_types: ['ClientRegistered'] });
      assert.equal(res.status, 201, res.text);
      id = res.json!.id as string;
      const client = await registerPublicClient(stack.urls);
      await until('a successful try', () => flaky.about(client.client_id).some((r) => r.status === 200));
      await sleep(800);
      const tries = flaky.about(client.client_id);
      assert.deepEqual(
        tries.map((r) => r.status),
        [500, 500, 500, 200],
        'three failures, one success and nothing after it',
      );
      assert.equal(new Set(tries.map((r) => r.headers['webhook-id'])).size, 1, 'the same webhook-id on every try');
      for (const request of tries) new Webhook(res.json!.secret).verify(request.body, request.headers);
      assert.equal(new Set(tries.map((r) => r.body)).size, 1, 'the same body on every try');

      const [delivery] = await until('the delivery recorded as delivered', async () => {
        const list = await deliveries(`webhook=${id}`);
        return list[0]?.state === 'delivered' && list;
      });
      assert.equal(delivery!.id, tries[0]!.headers['webhook-id']);
      assert.equal(delivery!.attempts, 4);
      assert.equal(delivery!.last_status, 200);
      assert.equal(delivery!.last_error, null);
    } finally {
      if (id) await removeWebhook(id);
      await flaky.close();
    }
  });

  test('a delivery that always fails is dead-lettered after WEBHOOK_MAX_ATTEMPTS tries and shows in the API', async () => {
    const broken = await receiver(() => 503);
    let id: string | undefined;
    try {
      const res = await registerWebhook({ url: broken.url, event_types: ['ClientRegistered'], description: 'always down' });
      id = res.json!.id as string;
      const client = await registerPublicClient(stack.urls);
      const [dead] = await until('a dead letter', async () => {
        const list = await deliveries('state=dead_lettered');
        return list.filter((d) => d.webhook_id === id).length > 0 && list.filter((d) => d.webhook_id === id);
      });
      await sleep(500);
      const tries = broken.about(client.client_id);
      assert.equal(tries.length, MAX_ATTEMPTS, 'no try after the last');
      assert.equal(dead!.id, tries[0]!.headers['webhook-id']);
      assert.deepEqual(
        { state: dead!.state, attempts: dead!.attempts, last_status: dead!.last_status, last_error: dead!.last_error, event_type: dead!.event_type },
        { state: 'dead_lettered', attempts: MAX_ATTEMPTS, last_status: 503, last_error: 'HTTP 503', event_type: 'ClientRegistered' },
      );
      assert.ok(dead!.dead_lettered_at);
      const endpoint = await http(`${api}/webhooks/${id}`, { headers: ADMIN });
      assert.deepEqual(endpoint.json!.deliveries, { pending: 0, delivered: 0, dead_lettered: 1, cancelled: 0 });
      assert.equal(await jobsLeft(), 0, 'every job, delivered or dead-lettered, has left the work queue');
    } finally {
      if (id) await removeWebhook(id);
      await broken.close();
    }
  });

  test('hostile input is a 4xx, never a 500; unknown and removed webhooks are 404', async () => {
    const bad: Array<[unknown, string]> = [
      [{ event_types: ['ClientRegistered'] }, 'invalid_request'],
      [{ url: 'http://127.0.0.1:1/x', event_types: [] }, 'invalid_request'],
      [{ url: 'http://127.0.0.1:1/x', event_types: 'ClientRegistered' }, 'invalid_request'],
      [{ url: 'http://127.0.0.1:1/x', event_types: ['NoSuchEvent'] }, 'invalid_request'],
      [{ url: 'http://127.0.0.1:1/x', event_types: ['WebhookDeliveryAttempted'] }, 'invalid_request'],
      [{ url: 'ftp://example.com/x', event_types: ['*'] }, 'invalid_request'],
      [{ url: 'https://u:p@example.com/x', event_types: ['*'] }, 'invalid_request'],
      [{ url: 'https://example.com/x', event_types: ['*'], secret: 'whsec_AAAA' }, 'invalid_request'],
      [{ url: 'https://example.com/x', event_types: ['*'], description: 42 }, 'invalid_request'],
      [{ url: 'https://example.com/x'.padEnd(5000, 'x'), event_types: ['*'] }, 'invalid_request'],
      [[1, 2], 'invalid_request'],
    ];
    for (const [json, error] of bad) {
      const res = await registerWebhook(json);
      assert.equal(res.status, 400, `${JSON.stringify(json).slice(0, 80)}: ${res.text}`);
      assert.equal(res.json!.error, error);
    }
    const notJson = await http(`${api}/webhooks`, { method: 'POST', headers: { ...ADMIN, 'Content-Type': 'application/json' }, body: '{"url":' });
    assert.equal(notJson.status, 400);
    const unauthenticated = await http(`${api}/webhooks`, { method: 'POST', json: { url: 'https://example.com/x', event_types: ['*'] } });
    assert.equal(unauthenticated.status, 401);

    for (const path of ['/webhooks/wh_nope', '/webhooks/..%2F..', `/webhooks/${'x'.repeat(300)}`]) {
      assert.equal((await http(`${api}${path}`, { headers: ADMIN })).status, 404, path);
      assert.equal((await http(`${api}${path}`, { method: 'DELETE', headers: ADMIN })).status, 404, path);
    }
    for (const query of ['state=gone', 'limit=0', 'limit=abc', 'before=-1', `webhook=${'x'.repeat(200)}`]) {
      assert.equal((await http(`${api}/webhooks/deliveries?${query}`, { headers: ADMIN })).status, 400, query);
    }
    const created = await registerWebhook({ url: 'https://hooks.example.com/x', event_types: ['GrantRevoked'] });
    assert.equal(created.status, 201);
    assert.equal((await removeWebhook(created.json!.id)).status, 204);
    assert.equal((await removeWebhook(created.json!.id)).status, 404, 'removed once');
    const removed = await http(`${api}/webhooks/${created.json!.id}`, { headers: ADMIN });
    assert.equal(removed.json!.status, 'removed');
    assert.ok(!(await http(`${api}/webhooks`, { headers: ADMIN })).json!.webhooks.some((w: Json) => w.id === created.json!.id));
  });

  test('without WEBHOOK_ALLOW_PRIVATE_TARGETS, loopback and private targets are refused with 400 invalid_target', async () => {
    const strict = await stack.addReplica('admin', { WEBHOOK_ALLOW_PRIVATE_TARGETS: 'false' });
    try {
      const strictApi = `${strict.url}/admin/api`;
      for (const url of ['http://127.0.0.1:8080/hook', 'https://127.0.0.1/hook', 'https://localhost/hook', 'https://10.0.0.5/hook', 'https://169.254.169.254/latest', 'https://[::1]/hook', 'https://[::ffff:7f00:1]/hook']) {
        const res = await registerWebhook({ url, event_types: ['*'] }, strictApi);
        assert.equal(res.status, 400, `${url}: ${res.text}`);
        assert.equal(res.json!.error, 'invalid_target', url);
      }
      const plain = await registerWebhook({ url: 'http://hooks.example.com/x', event_types: ['*'] }, strictApi);
      assert.deepEqual([plain.status, plain.json!.error], [400, 'invalid_request'], 'plain http only with private targets allowed');
    } finally {
      await strict.stop();
    }
  });

  test('deliveries go on after NATS restarts', async (t) => {
    if (stack.nats.kind !== 'process') return t.skip('needs a nats-server of its own to restart');
    const target = await receiver();
    let id: string | undefined;
    try {
      const res = await registerWebhook({ url: target.url, event_types: ['ClientRegistered'] });
      id = res.json!.id as string;
      await stack.nats.restart({ downtimeMs: 300 });
      const client = await until('a registration after the restart', () => registerPublicClient(stack.urls).catch(() => null));
      const [request] = await until('the delivery', () => target.about(client.client_id).length > 0 && target.about(client.client_id), 10_000);
      new Webhook(res.json!.secret).verify(request!.body, request!.headers);
    } finally {
      if (id) await removeWebhook(id);
      await target.close();
    }
  });
});
