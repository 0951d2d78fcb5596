import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import type { Server as HttpServer } from 'node:http';
import { after, before, describe, test } from 'node:test';
import Koa from 'koa';
import { Client as ClientV1 } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as TransportV1 } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { Client as ClientV2, StreamableHTTPClientTransport as TransportV2 } from '@modelcontextprotocol/client';
import type { AuthInfo } from '@modelcontextprotocol/server';
import { v2Route } from './spike/v2-route.ts';

/**
 * Issue 22 spike: does @modelcontextprotocol/server 2.x serve 2026-07-28 and 2025-11-25 at one URL behind our
 * Koa route, on Node 20 with our zod? (docs/design/issue-22.md §5.) Removed when the wiring replaces it.
 */
describe('spike: MCP 2026-07-28 and 2025-11-25 at one /mcp with @modelcontextprotocol/server 2.x', () => {
  let http: HttpServer;
  let url: URL;
  const tokens: Record<string, AuthInfo> = {
    'reader-token': { token: 'reader-token', clientId: 'client-1', scopes: ['profile'] },
    'writer-token': { token: 'writer-token', clientId: 'client-1', scopes: ['profile', 'notes:write'] },
  };

  before(async () => {
    const app = new Koa();
    const router = v2Route({
      path: '/mcp',
      resourceMetadata: 'http://127.0.0.1/.well-known/oauth-protected-resource/mcp',
      verify: (token) => tokens[token] ?? null,
      tools: [
        { name: 'echo', requiredScopes: [], run: (args, who, era) => `${era} ${who.clientId} ${String(args.text)}` },
        { name: 'notes_create', requiredScopes: ['notes:write'], run: (_args, _who, era) => `${era} created` },
      ],
    });
    app.use(router.routes());
    http = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => http.once('listening', resolve));
    url = new URL(`http://127.0.0.1:${(http.address() as AddressInfo).port}/mcp`);
  });
  after(() => {
    http.closeAllConnections();
    http.close();
  });

  const v1Client = async (token: string) => {
    const client = new ClientV1({ name: 'v1', version: '1' });
    await client.connect(new TransportV1(url, { requestInit: { headers: { Authorization: `Bearer ${token}` } } }));
    return client;
  };
  const v2Client = async (token: string) => {
    const client = new ClientV2({ name: 'v2', version: '2' }, { versionNegotiation: { mode: { pin: '2026-07-28' } } });
    await client.connect(new TransportV2(url, { requestInit: { headers: { Authorization: `Bearer ${token}` } } }));
    return client;
  };

  test('the v1 client (2025-11-25: initialize, stateless) and the v2 client pinned to 2026-07-28 (server/discover, no initialize) call the same tool through one factory, each in its era', async () => {
    for (const [connect, era] of [[v1Client, 'legacy'], [v2Client, 'modern']] as const) {
      const client = await connect('reader-token');
      try {
        assert.deepEqual((await client.listTools()).tools.map((t) => t.name), ['echo', 'notes_create'], era);
        const result = await client.callTool({ name: 'echo', arguments: { text: 'hi' } });
        assert.deepEqual(result.content, [{ type: 'text', text: `${era} client-1 hi` }]);
      } finally {
        await client.close();
      }
    }
  });

  test('2025-era answers stay JSON (as the v1 route answers today), not SSE', async () => {
    const response = await fetch(url, {
      method: 'POST',
      headers: { Authorization: 'Bearer reader-token', 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } }),
    });
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /application\/json/);
    assert.equal(((await response.json()) as { result: { protocolVersion: string } }).result.protocolVersion, '2025-11-25');
  });

  test('the step-up challenge comes from the route, before the SDK, alike for both eras', async () => {
    for (const connect of [v1Client, v2Client]) {
      const client = await connect('reader-token');
      try {
        await assert.rejects(client.callTool({ name: 'notes_create', arguments: {} }), /insufficient_scope|Insufficient scope/);
      } finally {
        await client.close();
      }
      const writer = await connect('writer-token');
      try {
        assert.match(JSON.stringify((await writer.callTool({ name: 'notes_create', arguments: {} })).content), /created/);
      } finally {
        await writer.close();
      }
    }
  });

  test('without a token every method, GET included, gets the 401 challenge', async () => {
    for (const method of ['GET', 'POST', 'DELETE']) {
      const response = await fetch(url, { method, headers: { 'Content-Type': 'application/json' }, ...(method === 'POST' ? { body: '{}' } : {}) });
      assert.equal(response.status, 401, method);
      assert.match(response.headers.get('www-authenticate') ?? '', /^Bearer resource_metadata=/, method);
    }
  });

  test('a 2026-07-28 request whose Mcp-Name header disagrees with its body is refused by the SDK (-32020)', async () => {
    const response = await fetch(url, {
      method: 'POST',
      headers: {
        Authorization: 'Bearer reader-token',
        'Content-Type': 'application/json',
        Accept: 'application/json, text/event-stream',
        'MCP-Protocol-Version': '2026-07-28',
        'Mcp-Method': 'tools/call',
        'Mcp-Name': 'notes_list',
      },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/call',
        params: { name: 'echo', arguments: { text: 'x' }, _meta: { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {} } },
      }),
    });
    assert.equal(response.status, 400);
    assert.equal(((await response.json()) as { error: { code: number } }).error.code, -32020);
  });
});
