import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { auth } from '@modelcontextprotocol/sdk/client/auth.js';
import {
  BrowserlessUser,
  REPO_ROOT,
  TestOAuthProvider,
  authorizationUrl,
  connectMcpClient,
  http,
  launchBrowser,
  obtainTokens,
  pkcePair,
  registerPublicClient,
  startRedirectReceiver,
  startStdioMcp,
  startService,
  startedTogether,
  startUserStack,
  type Json,
  type UserStack,
} from '@mcp-auth/testing';

const ARTIFACTS = join(REPO_ROOT, 'test-artifacts');
const callTool = (name: string, args: Json = {}) => ({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name, arguments: args } });
const mcpPost = (url: string, body: unknown, token: string) =>
  http(url, { method: 'POST', headers: { Authorization: `Bearer ${token}`, Accept: 'application/json, text/event-stream' }, json: body });

describe('end to end, on the stack as users start it (npm start)', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'e2e-stack-'));
  let stack: UserStack;
  let alice: BrowserlessUser;

  before(async () => {
    stack = await startUserStack({ dataDir, env: { SEED_USERS: 'alice:correct-horse-battery' } });
    alice = new BrowserlessUser(stack.urls.issuer, 'alice', 'correct-horse-battery');
  });
  after(async () => {
    await stack?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('npm start prints where to point an agent and how to sign in', () => {
    const out = stack.output();
    assert.match(out, new RegExp(`MCP server: +${stack.urls.mcp.replace(/[/.]/g, '\\$&')}`));
    assert.match(out, /Issuer: +http:\/\/localhost:\d+/);
    assert.match(out, /Sign in as alice/);
    assert.match(out, /claude mcp add --transport http/);
  });

  test('the MCP SDK client: whole flow, a tool call, a refresh, and refusal after revocation', async () => {
    const provider = new TestOAuthProvider(alice, { clientName: 'e2e agent' });
    const { client } = await connectMcpClient(stack.urls.mcp, provider);
    const who = await client.callTool({ name: 'whoami', arguments: {} });
    assert.equal((who.structuredContent as Json).user, 'alice');

    const before = provider.savedTokens!;
    assert.equal(await auth(provider, { serverUrl: stack.urls.mcp }), 'AUTHORIZED', 'the SDK refreshes with the refresh token');
    const after = provider.savedTokens!;
    assert.notEqual(after.access_token, before.access_token);
    assert.notEqual(after.refresh_token, before.refresh_token, 'the refresh token rotated');
    const echo = await client.callTool({ name: 'echo', arguments: { message: 'after refresh' } });
    assert.deepEqual(echo.content, [{ type: 'text', text: 'after refresh' }]);

    const revoked = await http(`${stack.urls.token}/revoke`, { method: 'POST', form: { token: after.refresh_token!, client_id: provider.clientInfo!.client_id } });
    assert.equal(revoked.status, 200);
    const refused = await mcpPost(stack.urls.mcp, callTool('whoami'), after.access_token);
    assert.equal(refused.status, 401);
    assert.match(refused.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
    const refresh = await http(`${stack.urls.token}/token`, { method: 'POST', form: { grant_type: 'refresh_token', refresh_token: after.refresh_token!, client_id: provider.clientInfo!.client_id } });
    assert.equal(refresh.json!.error, 'invalid_grant');
    await client.close().catch(() => {});
  });

  test('a real browser signs in and consents by the labels and lands on the redirect URI (screenshots saved)', async (t) => {
    mkdirSync(ARTIFACTS, { recursive: true });
    const receiver = await startRedirectReceiver();
    const client = await registerPublicClient(stack.urls, { client_name: 'Browser e2e app', redirect_uris: [receiver.redirectUri] });
    const { challenge } = pkcePair();
    const state = 'e2e-state-123';
    const browser = await launchBrowser();
    try {
      const page = await (await browser.newContext()).newPage();
      await page.goto(authorizationUrl(stack.urls.issuer, { clientId: client.client_id, redirectUri: receiver.redirectUri, challenge, state, resource: stack.urls.resource }));
      await page.getByLabel('Username').fill('alice');
      await page.getByLabel('Password').fill('correct-horse-battery');
      await page.screenshot({ path: join(ARTIFACTS, 'e2e-sign-in.png') });
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('button', { name: 'Allow' }).waitFor();
      assert.match(await page.content(), /Browser e2e app/);
      await page.screenshot({ path: join(ARTIFACTS, 'e2e-consent.png'), fullPage: true });
      await page.getByRole('button', { name: 'Allow' }).click();
      const landed = await receiver.next(15_000);
      assert.match(landed.query.get('code') ?? '', /^[A-Za-z0-9_-]{43}\.\d+$/);
      assert.equal(landed.query.get('state'), state);
      assert.equal(landed.query.get('iss'), stack.urls.issuer);
      t.diagnostic(`screenshots: ${join(ARTIFACTS, 'e2e-sign-in.png')}, ${join(ARTIFACTS, 'e2e-consent.png')}`);
    } finally {
      await browser.close();
      await receiver.close();
    }
  });

  test('two replicas each of token and mcp-tools share nothing but NATS: alternating flows work, revocation reaches both', async () => {
    const env = { NATS_URL: stack.natsUrl, ISSUER: stack.urls.issuer, REGISTRATION_BASE_URL: stack.urls.registration, TOKEN_BASE_URL: stack.urls.token, MCP_RESOURCE_URL: stack.urls.resource };
    const [token2, mcp2] = await startedTogether(
      startService('token', { env: { ...env, NATS_CREDENTIALS_FILE: stack.credentialOf('token') } }),
      startService('mcp-tools', { env: { ...env, NATS_CREDENTIALS_FILE: stack.credentialOf('mcp-tools') } }),
    );
    try {
      const tokenUrls = [stack.urls.token, token2.url];
      const mcpUrls = [stack.urls.mcp, `${mcp2.url}/mcp`];
      const client = await registerPublicClient(stack.urls);
      for (let i = 0; i < 6; i++) {
        const tokens = await obtainTokens({ ...stack.urls, token: tokenUrls[i % 2]! }, alice, client);
        const refreshed = await http(`${tokenUrls[(i + 1) % 2]}/token`, { method: 'POST', form: { grant_type: 'refresh_token', refresh_token: tokens.refresh_token, client_id: client.client_id } });
        assert.equal(refreshed.status, 200, refreshed.text);
        for (const mcp of mcpUrls) assert.equal((await mcpPost(mcp, callTool('echo', { message: 'x' }), refreshed.json!.access_token)).status, 200);
      }
      const tokens = await obtainTokens(stack.urls, alice, client);
      await http(`${token2.url}/revoke`, { method: 'POST', form: { token: tokens.refresh_token, client_id: client.client_id } });
      for (const mcp of mcpUrls) assert.equal((await mcpPost(mcp, callTool('echo', { message: 'x' }), tokens.access_token)).status, 401);
    } finally {
      await Promise.all([token2.stop(), mcp2.stop()]);
    }
  });

  test('restart: Ctrl-C stops everything cleanly; after a start on the same data the client and refresh token still work', async () => {
    const client = await registerPublicClient(stack.urls, { client_name: 'survives restarts' });
    const tokens = await obtainTokens(stack.urls, alice, client);
    assert.equal(await stack.stop('SIGINT'), 0, 'exit code 0 on Ctrl-C');
    assert.match(stack.output(), /"msg":"stopped"/);

    stack = await startUserStack({ dataDir, ports: stack.ports, env: { SEED_USERS: 'alice:correct-horse-battery' } });
    const read = await http(`${stack.urls.registration}/register/${client.client_id}`, { headers: { Authorization: `Bearer ${client.registration_access_token}` } });
    assert.equal(read.status, 200, 'the client survived');
    const refreshed = await http(`${stack.urls.token}/token`, { method: 'POST', form: { grant_type: 'refresh_token', refresh_token: tokens.refresh_token, client_id: client.client_id } });
    assert.equal(refreshed.status, 200, `the refresh token survived: ${refreshed.text}`);
    const call = await mcpPost(stack.urls.mcp, callTool('whoami'), refreshed.json!.access_token);
    assert.equal(call.status, 200);
    const old = await mcpPost(stack.urls.mcp, callTool('whoami'), tokens.access_token);
    assert.equal(old.status, 200, 'a token signed before the restart still verifies (its key stays published)');
  });

  test('the README\'s stdio command works on this stack\'s random ports: it reads data/stack.json, and an HTTP client allows it at the printed URL', async () => {
    const credentials = mkdtempSync(join(tmpdir(), 'e2e-stdio-'));
    const mcp = await startStdioMcp({
      cwd: REPO_ROOT,
      args: ['services/mcp-tools/bin/mcp-tools.mjs', '--stdio'],
      env: { DATA_DIR: dataDir, STDIO_CREDENTIALS_DIR: join(credentials, 'mcp-tools'), STDIO_OPEN_BROWSER: 'false', LOG_LEVEL: 'warn' },
    });
    try {
      const printed = new URL((await mcp.waitForStderr(/^ {2}(http\S+\/authorize\?\S+)$/m))[1]!);
      assert.equal(printed.origin, new URL(stack.urls.issuer).origin);
      const answer = await alice.authorize(printed.href);
      const landed = await http(`${printed.searchParams.get('redirect_uri')}?${answer}`);
      assert.equal(landed.status, 200, landed.text);
      assert.match(landed.text, /mcp-tools is connected/);
      const who = await mcp.client.callTool({ name: 'whoami', arguments: {} });
      assert.equal((who.structuredContent as Json).user, 'alice');
    } finally {
      assert.equal(await mcp.close(), 0);
      rmSync(credentials, { recursive: true, force: true });
    }
  });
});

test('npm start without nats-server says how to install it and exits non-zero', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'no-nats-'));
  const run = spawnSync(process.execPath, [join(REPO_ROOT, 'scripts', 'start.mjs')], {
    cwd: REPO_ROOT,
    env: { ...process.env, NATS_URL: '', NATS_SERVER_BIN: '/nonexistent/nats-server', DATA_DIR: dataDir },
    encoding: 'utf8',
    timeout: 30_000,
  });
  rmSync(dataDir, { recursive: true, force: true });
  assert.equal(run.status, 1);
  assert.match(run.stdout, /apt-get install -y nats-server/);
  assert.match(run.stdout, /brew install nats-server/);
  assert.match(run.stdout, /docker run/);
});
