import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { spawnSync } from 'node:child_process';
import { BrowserlessUser, REPO_ROOT, http, natsEnvOf, obtainTokens, registerPublicClient, startStack, type Json, type TestStack } from '@mcp-auth/testing';

const BIN = join(REPO_ROOT, 'services', 'mcp-tools', 'bin', 'mcp-tools.mjs');

describe('mcp-tools --stdio: the same tools for a local agent, with a token from the OAuth flow', () => {
  let stack: TestStack;
  let tokens: Json;
  let client: Json;

  before(async () => {
    stack = await startStack({ mcpReplicas: 0 });
    client = await registerPublicClient(stack.urls, { client_name: 'desktop agent' });
    tokens = await obtainTokens(stack.urls, new BrowserlessUser(stack.urls.issuer, 'alice', 'password123'), client, { scope: 'profile notes:read notes:write' });
  });
  after(async () => stack?.stop());

  const env = (token: string) => ({ ...stack.env, ...natsEnvOf(stack.nats, 'mcp-tools'), MCP_ACCESS_TOKEN: token, DATA_DIR: join(stack.authorization.dataDir, `stdio-${Math.random()}`), LOG_LEVEL: 'warn', PATH: process.env.PATH ?? '' });

  test('serves the tools over stdio as the token\'s user, and stops honouring a revoked token', async () => {
    const transport = new StdioClientTransport({ command: process.execPath, args: [BIN, '--stdio'], env: env(tokens.access_token), stderr: 'pipe' });
    const mcp = new Client({ name: 'stdio-test', version: '1' });
    await mcp.connect(transport);
    const { tools } = await mcp.listTools();
    assert.ok(tools.some((t) => t.name === 'notes_create'));
    const who = await mcp.callTool({ name: 'whoami', arguments: {} });
    assert.equal((who.structuredContent as Json).user, 'alice');
    assert.equal((who.structuredContent as Json).client, 'desktop agent');
    const created = await mcp.callTool({ name: 'notes_create', arguments: { title: 'from stdio' } });
    assert.equal(created.isError, undefined);

    await http(`${stack.urls.token}/revoke`, { method: 'POST', form: { token: tokens.refresh_token, client_id: client.client_id } });
    let refused: Json | null = null;
    const deadline = Date.now() + 5_000;
    while (Date.now() < deadline) {
      const result = (await mcp.callTool({ name: 'whoami', arguments: {} })) as Json;
      if (result.isError) {
        refused = result;
        break;
      }
    }
    assert.ok(refused, 'a revoked token stops working on stdio too');
    assert.match(refused.content[0].text, /no longer valid.*revoked/);
    await mcp.close();
  });

  test('refuses to start without a token, or with an invalid one, saying why', () => {
    const missing = spawnSync(process.execPath, [BIN, '--stdio'], { env: { ...env(''), MCP_ACCESS_TOKEN: '' }, encoding: 'utf8', timeout: 30_000 });
    assert.equal(missing.status, 2);
    assert.match(missing.stderr, /needs an access token in MCP_ACCESS_TOKEN/);
    const invalid = spawnSync(process.execPath, [BIN, '--stdio'], { env: env('not.a.token'), encoding: 'utf8', timeout: 30_000 });
    assert.equal(invalid.status, 1);
    assert.match(invalid.stderr, /MCP_ACCESS_TOKEN is not valid/);
    assert.equal(invalid.stdout, '', 'nothing but protocol on stdout');
  });
});
