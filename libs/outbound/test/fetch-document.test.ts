import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { loopbackCertificate } from '@mcp-auth/testing';
import { fetchDocument, type OutboundPolicy, type Resolver } from '../src/index.ts';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

const DOCUMENT = JSON.stringify({ client_id: 'https://app.example/client.json', client_name: 'App' });

/** What the loopback server does for each path; every request it gets is recorded. */
const routes: Record<string, Handler> = {
  '/doc': (_req, res) => res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=600' }).end(DOCUMENT),
  '/redirect': (_req, res) => res.writeHead(302, { location: '/doc' }).end(),
  '/missing': (_req, res) => res.writeHead(404).end('not here'),
  '/declared-big': (_req, res) => res.writeHead(200, { 'content-length': String(1_000_000) }).end('x'.repeat(1_000_000)),
  '/chunked-big': (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    for (let i = 0; i < 100; i++) res.write('x'.repeat(1_000));
    res.end();
  },
  '/exactly-max': (_req, res) => res.writeHead(200).end('y'.repeat(5_120)),
  '/silent': () => {
    // Never answers.
  },
  '/drip': (_req, res) => {
    res.writeHead(200);
    const timer = setInterval(() => res.write('z'), 50);
    res.on('close', () => clearInterval(timer));
  },
  '/cut': (req, res) => {
    res.writeHead(200, { 'content-length': '1000' });
    res.write('partial');
    setTimeout(() => req.socket.destroy(), 20);
  },
};

function serve(server: Server, received: string[]): Promise<number> {
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    received.push(req.url ?? '');
    (routes[req.url ?? ''] ?? routes['/missing']!)(req, res);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

/** A DNS server with a fixed table (as a rebinding one would answer): any other name does not exist. */
function dns(table: Record<string, string[]>): Resolver {
  return (hostname, callback) => {
    const found = table[hostname];
    if (!found) return callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }), []);
    callback(null, found.map((address) => ({ address, family: address.includes(':') ? 6 : 4 })));
  };
}

const development: OutboundPolicy = { allowPrivateTargets: true, timeoutMs: 1_000, maxBytes: 5_120 };
const production: OutboundPolicy = { ...development, allowPrivateTargets: false };

describe('fetchDocument: only public targets, checked as the socket connects', () => {
  const received: string[] = [];
  const server = createServer();
  let port = 0;
  before(async () => {
    port = await serve(server, received);
  });
  after(() => {
    server.closeAllConnections();
    server.close();
  });

  test('given private targets allowed, when a document is fetched from loopback, then its body and caching headers come back', async () => {
    const outcome = await fetchDocument(`http://127.0.0.1:${port}/doc`, development);
    assert.ok(outcome.ok, JSON.stringify(outcome));
    assert.equal(outcome.body.toString(), DOCUMENT);
    assert.equal(outcome.headers['cache-control'], 'max-age=600');
  });

  test('given the production policy, loopback, private and link-local literals and local names are refused before any connection', async () => {
    const before = received.length;
    for (const host of ['127.0.0.1', 'localhost', 'app.localhost', '[::1]', '[::ffff:127.0.0.1]', '10.0.0.1', '169.254.169.254', '0.0.0.0', '2130706433']) {
      for (const scheme of ['http', 'https']) {
        const outcome = await fetchDocument(`${scheme}://${host}:${port}/doc`, production);
        assert.equal(outcome.ok, false, `${scheme}://${host}`);
        assert.equal(!outcome.ok && outcome.reason, 'refused_target', `${scheme}://${host}: ${JSON.stringify(outcome)}`);
      }
    }
    assert.equal(received.length, before, 'nothing reached the loopback server');
  });

  test('given the production policy, a name that resolves to a private address is refused when the socket connects (DNS rebinding)', async () => {
    const before = received.length;
    for (const addresses of [['127.0.0.1'], ['::1'], ['8.8.8.8', '127.0.0.1'], ['::ffff:127.0.0.1'], ['169.254.169.254'], ['10.1.2.3']]) {
      const outcome = await fetchDocument(`https://client.example.test:${port}/doc`, { ...production, resolve: dns({ 'client.example.test': addresses }) });
      assert.equal(!outcome.ok && outcome.reason, 'refused_target', addresses.join());
      assert.match(!outcome.ok ? outcome.description : '', /client\.example\.test resolves to/, addresses.join());
    }
    assert.equal(received.length, before, 'nothing reached the loopback server');
  });

  test('a name that does not resolve is unreachable', async () => {
    const outcome = await fetchDocument('https://missing.example.test/doc', { ...production, resolve: dns({}) });
    assert.equal(!outcome.ok && outcome.reason, 'unreachable');
    assert.match(!outcome.ok ? outcome.description : '', /ENOTFOUND/);
  });

  test('plain http is refused for a public name unless private targets are allowed', async () => {
    const outcome = await fetchDocument('http://client.example.test/doc', production);
    assert.deepEqual(outcome, { ok: false, reason: 'invalid_url', description: 'url must be an https URL.' });
  });

  test('malformed URLs, credentials and fragments are refused as invalid', async () => {
    for (const url of ['not a url', 'ftp://example.com/x', 'https://user:pw@example.com/x', 'https://example.com/x#frag', `https://example.com/${'a'.repeat(2_000)}`]) {
      const outcome = await fetchDocument(url, production);
      assert.equal(!outcome.ok && outcome.reason, 'invalid_url', url);
    }
  });
});

describe('fetchDocument: one GET, no redirects, bounded in size and time', () => {
  const received: string[] = [];
  const server = createServer();
  let base = '';
  before(async () => {
    base = `http://127.0.0.1:${await serve(server, received)}`;
  });
  after(() => {
    server.closeAllConnections();
    server.close();
  });

  test('a redirect is a failure and is not followed', async () => {
    const before = received.length;
    const outcome = await fetchDocument(`${base}/redirect`, development);
    assert.deepEqual(outcome, { ok: false, reason: 'redirect', status: 302, description: 'HTTP 302: redirects are not followed' });
    assert.deepEqual(received.slice(before), ['/redirect']);
  });

  test('any status but 200 is a failure', async () => {
    assert.deepEqual(await fetchDocument(`${base}/missing`, development), { ok: false, reason: 'http_status', status: 404, description: 'HTTP 404' });
  });

  test('a body over the limit fails, whether its length is declared or not; one at the limit is read', async () => {
    for (const path of ['/declared-big', '/chunked-big']) {
      const outcome = await fetchDocument(`${base}${path}`, development);
      assert.deepEqual(outcome, { ok: false, reason: 'too_large', description: 'the document is larger than 5120 bytes' }, path);
    }
    const atLimit = await fetchDocument(`${base}/exactly-max`, development);
    assert.equal(atLimit.ok && atLimit.body.length, 5_120);
  });

  test('a server that does not answer, or answers too slowly, fails after the deadline', async () => {
    for (const path of ['/silent', '/drip']) {
      const started = Date.now();
      const outcome = await fetchDocument(`${base}${path}`, { ...development, timeoutMs: 300, maxBytes: 1_000_000 });
      assert.deepEqual(outcome, { ok: false, reason: 'timeout', description: 'timed out' }, path);
      assert.ok(Date.now() - started < 2_000, `${path} took ${Date.now() - started} ms`);
    }
  });

  test('a refused connection and a connection cut mid-body are unreachable', async () => {
    const refused = await fetchDocument('http://127.0.0.1:1/doc', development);
    assert.equal(!refused.ok && refused.reason, 'unreachable');
    assert.match(!refused.ok ? refused.description : '', /ECONNREFUSED/);
    const cut = await fetchDocument(`${base}/cut`, development);
    assert.equal(!cut.ok && cut.reason, 'unreachable', JSON.stringify(cut));
  });
});

describe('fetchDocument over https', () => {
  const certificate = loopbackCertificate();
  const received: string[] = [];
  const server = createHttpsServer({ key: certificate.key, cert: certificate.cert });
  let base = '';
  before(async () => {
    base = `https://localhost:${await serve(server as unknown as Server, received)}`;
  });
  after(() => {
    server.closeAllConnections();
    server.close();
    certificate.remove();
  });

  test('a certificate the process does not trust is refused', async () => {
    const outcome = await fetchDocument(`${base}/doc`, development);
    assert.equal(!outcome.ok && outcome.reason, 'unreachable');
    assert.match(!outcome.ok ? outcome.description : '', /certificate/i);
  });

  test('a process started with NODE_EXTRA_CA_CERTS naming the certificate fetches the document (how tests serve documents from loopback)', async () => {
    const fixture = fileURLToPath(new URL('./fixtures/fetch-once.ts', import.meta.url));
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', fixture, `${base}/doc`], {
      env: { ...process.env, NODE_EXTRA_CA_CERTS: certificate.certFile },
      timeout: 20_000,
    });
    assert.deepEqual(JSON.parse(stdout), { ok: true, body: DOCUMENT });
  });
});
