import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { generateSigningSecret } from '../src/webhooks/secrets.ts';
import { MAX_PAYLOAD_BYTES, WebhookSender, type Delivery } from '../src/webhooks/sender.ts';
import { guardedLookup, isPublicAddress, type Resolver } from '../src/webhooks/targets.ts';

type Received = { path: string; headers: IncomingMessage['headers']; body: string };

/** A receiver on 127.0.0.1 whose answer each test chooses. */
async function receiver(answer: (req: IncomingMessage, res: ServerResponse, body: string) => void = (_req, res) => res.end('ok')) {
  const received: Received[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      received.push({ path: req.url ?? '', headers: req.headers, body });
      answer(req, res, body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
    server,
  };
}

/** A resolver that answers every name with these addresses (as a rebinding DNS server would). */
const resolvesTo =
  (...addresses: string[]): Resolver =>
  (_hostname, callback) =>
    callback(
      null,
      addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 })),
    );

const secret = generateSigningSecret();
const delivery = (url: string, overrides: Partial<Delivery> = {}): Delivery => ({ url, secret, messageId: 'msg_test', body: '{"type":"Ping","timestamp":"2030-01-01T00:00:00Z","data":{}}', ...overrides });

describe('webhook sender: outbound requests refuse private and loopback targets (SSRF)', () => {
  let target: Awaited<ReturnType<typeof receiver>>;
  const senders: WebhookSender[] = [];
  const sender = (options: Partial<ConstructorParameters<typeof WebhookSender>[0]> = {}) => {
    const s = new WebhookSender({ allowPrivateTargets: false, timeoutMs: 1_000, ...options });
    senders.push(s);
    return s;
  };

  before(async () => {
    target = await receiver();
  });
  after(async () => {
    await Promise.all(senders.map((s) => s.close()));
    await target.close();
  });

  test('address ranges: only global unicast is public', () => {
    for (const address of ['127.0.0.1', '10.0.0.1', '172.31.255.255', '192.168.0.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '224.0.0.1', '255.255.255.255', '::1', '::', 'fe80::1', 'fd12::1', 'ff02::1', '::ffff:127.0.0.1', '::ffff:10.0.0.1', '64:ff9b::7f00:1', '2002:a00:1::1', '2001:db8::1', 'not-an-ip', '']) {
      assert.equal(isPublicAddress(address), false, address);
    }
    for (const address of ['8.8.8.8', '1.1.1.1', '2606:4700:4700::1111', '::ffff:8.8.8.8', '64:ff9b::808:808']) {
      assert.equal(isPublicAddress(address), true, address);
    }
  });

  test('loopback, private, link-local and mapped literals are refused before any connection', async () => {
    const s = sender();
    for (const host of ['127.0.0.1', 'localhost', '10.0.0.1', '169.254.169.254', '[::1]', '[::ffff:127.0.0.1]', '[fd00::1]', '0.0.0.0']) {
      const result = await s.send(delivery(`https://${host}:${target.port}/hook`));
      assert.equal(result.outcome, 'failed', host);
      assert.equal(result.status, null, host);
      assert.match(result.error ?? '', /refused target/, host);
    }
    assert.equal(target.received.length, 0, 'nothing reached the loopback receiver');
  });

  test('a name that resolves to a loopback address is refused when the socket connects (DNS rebinding)', async () => {
    for (const addresses of [['127.0.0.1'], ['::1'], ['8.8.8.8', '127.0.0.1'], ['::ffff:127.0.0.1'], ['169.254.169.254']]) {
      const s = sender({ resolve: resolvesTo(...addresses) });
      const result = await s.send(delivery(`https://hooks.example.test:${target.port}/hook`));
      assert.equal(result.outcome, 'failed', addresses.join());
      assert.match(result.error ?? '', /refused target: hooks\.example\.test resolves to/, addresses.join());
    }
    assert.equal(target.received.length, 0, 'nothing reached the loopback receiver');
  });

  test('guardedLookup hands net.connect only checked addresses, in both of its calling conventions', async () => {
    const lookup = guardedLookup(false, resolvesTo('8.8.8.8', '2606:4700:4700::1111'));
    const all = await new Promise((resolve, reject) => lookup('x.test', { all: true }, (err, addresses) => (err ? reject(err) : resolve(addresses))));
    assert.deepEqual(all, [
      { address: '8.8.8.8', family: 4 },
      { address: '2606:4700:4700::1111', family: 6 },
    ]);
    const one = await new Promise((resolve, reject) => lookup('x.test', { family: 6 }, (err, address, family) => (err ? reject(err) : resolve([address, family]))));
    assert.deepEqual(one, ['2606:4700:4700::1111', 6]);
    await assert.rejects(
      new Promise((resolve, reject) => guardedLookup(false, resolvesTo('10.0.0.7'))('x.test', {}, (err, address) => (err ? reject(err) : resolve(address)))),
      /resolves to 10\.0\.0\.7 is a private-network address/,
    );
  });

  test('with WEBHOOK_ALLOW_PRIVATE_TARGETS, loopback is allowed (by literal, by name and over http) and the request is signed', async () => {
    const s = sender({ allowPrivateTargets: true });
    const before = target.received.length;
    for (const host of ['127.0.0.1', 'localhost']) {
      const result = await s.send(delivery(`http://${host}:${target.port}/hook`));
      assert.equal(result.outcome, 'delivered', `${host}: ${result.error}`);
      assert.equal(result.status, 200);
    }
    const rebound = await sender({ allowPrivateTargets: true, resolve: resolvesTo('127.0.0.1') }).send(delivery(`http://hooks.example.test:${target.port}/hook`));
    assert.equal(rebound.outcome, 'delivered', String(rebound.error));
    const got = target.received.slice(before);
    assert.equal(got.length, 3);
    for (const request of got) {
      assert.equal(request.headers['content-type'], 'application/json');
      assert.equal(request.headers['webhook-id'], 'msg_test');
      assert.ok(new Webhook(secret).verify(request.body, request.headers as Record<string, string>));
    }
  });
});

describe('webhook sender: one POST, bounded in time and size, no redirects', () => {
  test('a redirect is a failure and is not followed', async () => {
    const r = await receiver((req, res) => {
      if (req.url === '/hook') res.writeHead(307, { Location: '/elsewhere' }).end();
      else res.end('ok');
    });
    const s = new WebhookSender({ allowPrivateTargets: true, timeoutMs: 1_000 });
    try {
      const result = await s.send(delivery(`http://127.0.0.1:${r.port}/hook`));
      assert.deepEqual([result.outcome, result.status], ['failed', 307]);
      assert.match(result.error ?? '', /redirect/);
      assert.deepEqual(
        r.received.map((x) => x.path),
        ['/hook'],
      );
    } finally {
      await s.close();
      await r.close();
    }
  });

  test('a receiver that does not answer in time fails the try after the timeout', async () => {
    const r = await receiver(() => {
      // Never answers.
    });
    const s = new WebhookSender({ allowPrivateTargets: true, timeoutMs: 300 });
    try {
      const started = Date.now();
      const result = await s.send(delivery(`http://127.0.0.1:${r.port}/hook`));
      assert.equal(result.outcome, 'failed');
      assert.match(result.error ?? '', /timed out/);
      assert.ok(Date.now() - started < 2_000);
    } finally {
      await s.close();
      r.server.closeAllConnections();
      await r.close();
    }
  });

  test('a huge answer is not read to its end; errors and statuses are reported without the body', async () => {
    const r = await receiver((req, res) => {
      res.writeHead(req.url === '/fail' ? 500 : 200, { 'content-type': 'text/plain' });
      const chunk = 'x'.repeat(64 * 1024);
      let sent = 0;
      const more = () => {
        while (sent < 200 && res.write(chunk)) sent++;
        if (sent < 200) res.once('drain', more);
        else res.end();
      };
      more();
    });
    const s = new WebhookSender({ allowPrivateTargets: true, timeoutMs: 2_000 });
    try {
      const ok = await s.send(delivery(`http://127.0.0.1:${r.port}/ok`));
      assert.equal(ok.outcome, 'delivered');
      const failed = await s.send(delivery(`http://127.0.0.1:${r.port}/fail`));
      assert.deepEqual([failed.outcome, failed.status, failed.error], ['failed', 500, 'HTTP 500']);
      const closed = await s.send(delivery(`http://127.0.0.1:1/hook`));
      assert.equal(closed.outcome, 'failed');
      assert.match(closed.error ?? '', /ECONNREFUSED/);
    } finally {
      await s.close();
      r.server.closeAllConnections();
      await r.close();
    }
  });

  test('a payload above the cap is not sent', async () => {
    const s = new WebhookSender({ allowPrivateTargets: true, timeoutMs: 1_000 });
    try {
      const result = await s.send(delivery('http://127.0.0.1:1/hook', { body: JSON.stringify({ big: 'x'.repeat(MAX_PAYLOAD_BYTES) }) }));
      assert.deepEqual([result.outcome, result.permanent], ['failed', true]);
      assert.match(result.error ?? '', /payload larger/);
    } finally {
      await s.close();
    }
  });
});
