// Shared by test/compose.test.ts and test/compose-integration.test.ts: what the compose stack must look
// like from the outside (one public origin), and a tiny DNS server that lets a real Caddy resolve the
// compose service names to several "replicas" on this machine, as Docker's DNS does inside the stack.
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import { BrowserlessUser, http, obtainTokens, registerPublicClient, type DeploymentUrls, type Json } from '@mcp-auth/testing';

/** The paths the edge proxy must send to each service (docker-compose.yml, deploy/Caddyfile). */
export const EDGE_ROUTES: ReadonlyArray<readonly [path: string, service: string]> = [
  ['/register', 'registration'],
  ['/register/some-client-id', 'registration'],
  ['/token', 'token'],
  ['/revoke', 'token'],
  ['/introspect', 'token'],
  ['/jwks.json', 'token'],
  ['/mcp', 'mcp-tools'],
  ['/.well-known/oauth-protected-resource', 'mcp-tools'],
  ['/.well-known/oauth-protected-resource/mcp', 'mcp-tools'],
  ['/.well-known/oauth-authorization-server', 'authorization'],
  ['/authorize', 'authorization'],
  ['/authorize/consent', 'authorization'],
  ['/signin', 'authorization'],
  ['/signout', 'authorization'],
  ['/account', 'authorization'],
  ['/account/apps/revoke', 'authorization'],
  ['/assets/style.css', 'authorization'],
  ['/admin', 'admin'],
  ['/admin/sign-in', 'admin'],
  ['/admin/assets/style.css', 'admin'],
  ['/admin/api/clients', 'admin'],
  ['/', 'authorization'],
];

/**
 * Checks a running stack through its public origin only, as an agent and a person see it: issuer
 * metadata, the MCP endpoint's 401 challenge and its protected-resource metadata, registration, the
 * edge hiding /metrics, and (with a seeded user) the whole authorization-code flow and a tool call.
 */
export async function checkStackThroughEdge(publicUrl: string, options: { user?: { username: string; password: string } } = {}): Promise<void> {
  const metadata = await http(`${publicUrl}/.well-known/oauth-authorization-server`);
  assert.equal(metadata.status, 200, metadata.text);
  assert.equal(metadata.json?.issuer, publicUrl, 'the issuer is the public origin');
  for (const key of ['authorization_endpoint', 'token_endpoint', 'registration_endpoint', 'revocation_endpoint', 'jwks_uri']) {
    const value = metadata.json?.[key];
    if (value !== undefined) assert.ok(String(value).startsWith(`${publicUrl}/`), `${key} ${value} is under ${publicUrl}`);
  }
  assert.equal(metadata.json?.registration_endpoint, `${publicUrl}/register`);
  assert.equal(metadata.json?.token_endpoint, `${publicUrl}/token`);

  const challenge = await http(`${publicUrl}/mcp`, {
    method: 'POST',
    headers: { Accept: 'application/json, text/event-stream' },
    json: { jsonrpc: '2.0', id: 1, method: 'tools/list' },
  });
  assert.equal(challenge.status, 401, challenge.text);
  const wwwAuthenticate = challenge.headers.get('www-authenticate') ?? '';
  const resourceMetadata = /resource_metadata="([^"]+)"/.exec(wwwAuthenticate)?.[1];
  assert.equal(resourceMetadata, `${publicUrl}/.well-known/oauth-protected-resource/mcp`, wwwAuthenticate);
  const resource = await http(resourceMetadata);
  assert.equal(resource.status, 200, resource.text);
  assert.equal(resource.json?.resource, `${publicUrl}/mcp`);
  assert.deepEqual(resource.json?.authorization_servers, [publicUrl]);

  const urls: DeploymentUrls = { registration: publicUrl, issuer: publicUrl, token: publicUrl, resource: `${publicUrl}/mcp` };
  const client = await registerPublicClient(urls, { client_name: 'compose edge check' });
  assert.ok(String(client.registration_client_uri).startsWith(`${publicUrl}/register/`), client.registration_client_uri);
  const read = await http(client.registration_client_uri, { headers: { Authorization: `Bearer ${client.registration_access_token}` } });
  assert.equal(read.status, 200, read.text);

  const metrics = await http(`${publicUrl}/metrics`);
  assert.equal(metrics.status, 404, 'the edge does not publish the services’ metrics');

  if (options.user) {
    const person = new BrowserlessUser(publicUrl, options.user.username, options.user.password);
    const tokens = await obtainTokens(urls, person, client);
    const call = await http(`${publicUrl}/mcp`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${tokens.access_token}`, Accept: 'application/json, text/event-stream' },
      json: { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'whoami', arguments: {} } },
    });
    assert.equal(call.status, 200, call.text);
    assert.equal((call.json?.result as Json | undefined)?.structuredContent?.user, options.user.username, call.text);
  }
}

export type FakeDns = { address: string; stop(): Promise<void> };

/**
 * A minimal authoritative DNS server on 127.0.0.1, over UDP and TCP on the same port (Caddy's resolver
 * dials TCP): answers A queries for the given names (the first label of the query, so search domains do
 * not matter) with every address listed, like Docker's embedded DNS does for a scaled compose service;
 * no AAAA records; NXDOMAIN for other names.
 */
export async function startFakeDns(records: Record<string, string[]>): Promise<FakeDns> {
  for (let attempt = 0; ; attempt++) {
    const udp = createSocket('udp4');
    udp.on('message', (query, peer) => {
      const reply = dnsAnswer(query, records);
      if (reply) udp.send(reply, peer.port, peer.address);
    });
    await new Promise<void>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind(0, '127.0.0.1', () => resolve());
    });
    const { port } = udp.address();
    const tcp = createServer((socket) => {
      let pending = Buffer.alloc(0);
      socket.on('error', () => socket.destroy());
      socket.on('data', (chunk: Buffer) => {
        pending = Buffer.concat([pending, chunk]);
        while (pending.length >= 2 && pending.length >= 2 + pending.readUInt16BE(0)) {
          const query = pending.subarray(2, 2 + pending.readUInt16BE(0));
          pending = pending.subarray(2 + query.length);
          const reply = dnsAnswer(query, records);
          if (!reply) return socket.destroy();
          const length = Buffer.alloc(2);
          length.writeUInt16BE(reply.length);
          socket.write(Buffer.concat([length, reply]));
        }
      });
    });
    const listening = await new Promise<boolean>((resolve) => {
      tcp.once('error', () => resolve(false));
      tcp.listen(port, '127.0.0.1', () => resolve(true));
    });
    if (!listening) {
      udp.close();
      if (attempt < 10) continue;
      throw new Error('no port free for both UDP and TCP');
    }
    return {
      address: `127.0.0.1:${port}`,
      stop: async () => {
        await new Promise<void>((resolve) => udp.close(() => resolve()));
        await new Promise<void>((resolve) => tcp.close(() => resolve()));
      },
    };
  }
}

function dnsAnswer(query: Buffer, records: Record<string, string[]>): Buffer | null {
  if (query.length < 12 || query.readUInt16BE(4) !== 1) return null;
  const labels: string[] = [];
  let offset = 12;
  for (;;) {
    const length = query[offset];
    if (length === undefined || length > 63) return null;
    offset += 1;
    if (length === 0) break;
    labels.push(query.toString('ascii', offset, offset + length).toLowerCase());
    offset += length;
  }
  if (offset + 4 > query.length) return null;
  const qtype = query.readUInt16BE(offset);
  const question = query.subarray(12, offset + 4);
  const known = labels[0] !== undefined ? records[labels[0]] : undefined;
  const addresses = known && qtype === 1 ? known : [];

  const header = Buffer.alloc(12);
  header.writeUInt16BE(query.readUInt16BE(0), 0);
  // QR, authoritative, recursion desired (copied) and available; NOERROR or NXDOMAIN.
  header.writeUInt16BE(0x8000 | 0x0400 | (query.readUInt16BE(2) & 0x0100) | 0x0080 | (known ? 0 : 3), 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(addresses.length, 6);
  const answers = addresses.map((ip) => {
    const rr = Buffer.alloc(16);
    rr.writeUInt16BE(0xc00c, 0); // the name: a pointer to the question's
    rr.writeUInt16BE(1, 2); // A
    rr.writeUInt16BE(1, 4); // IN
    rr.writeUInt32BE(1, 6); // TTL 1 s
    rr.writeUInt16BE(4, 10);
    ip.split('.').forEach((octet, i) => rr.writeUInt8(Number(octet), 12 + i));
    return rr;
  });
  return Buffer.concat([header, question, ...answers]);
}
