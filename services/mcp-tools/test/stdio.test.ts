import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AccountSession,
  BrowserlessUser,
  REPO_ROOT,
  http,
  launchBrowser,
  natsAccessOf,
  natsEnvOf,
  obtainTokens,
  registerPublicClient,
  startStack,
  startStdioMcp,
  type Json,
  type StdioMcpProcess,
  type TestStack,
} from '@mcp-auth/testing';

const BIN = join(REPO_ROOT, 'services', 'mcp-tools', 'bin', 'mcp-tools.mjs');
const AUTHORIZE_URL = /^ {2}(http\S+\/authorize\?\S+)$/m;

describe('mcp-tools --stdio: a local agent\'s tools for as long as the user\'s grant lives', () => {
  let stack: TestStack;
  let work: string;
  /** A data folder holding only the stack file, as `npm start` writes it: the process is told nothing else about the deployment. */
  let dataDir: string;

  before(async () => {
    // 5-second access tokens: a session of 30 s lives through several refreshes.
    stack = await startStack({ serviceEnv: { token: { ACCESS_TOKEN_TTL_SECONDS: '5' } } });
    work = mkdtempSync(join(tmpdir(), 'stdio-test-'));
    dataDir = join(work, 'data');
    mkdirSync(dataDir);
    const { MCP_RESOURCE_URL, ISSUER, REGISTRATION_BASE_URL, TOKEN_BASE_URL } = stack.env;
    // The stack file names the mcp-tools credential, as npm start's does.
    writeFileSync(join(dataDir, 'stack.json'), JSON.stringify({ MCP_RESOURCE_URL, ISSUER, REGISTRATION_BASE_URL, TOKEN_BASE_URL, ...natsEnvOf(stack.nats, 'mcp-tools') }));
  });
  after(async () => {
    await stack?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const env = (credentialsDir: string, extra: Record<string, string> = {}) => ({
    DATA_DIR: dataDir,
    STDIO_CREDENTIALS_DIR: credentialsDir,
    STDIO_OPEN_BROWSER: 'false',
    LOG_LEVEL: 'warn',
    ...extra,
  });
  const whoami = async (mcp: StdioMcpProcess) => (await mcp.client.callTool({ name: 'whoami', arguments: {} })) as Json;

  test('signs in once in a browser at the URL it prints, keeps the credential 0600 in a folder of its own, and a restart reuses it without a browser', async () => {
    const credentials = join(work, 'alice-credentials');
    const first = await startStdioMcp({ args: [BIN, '--stdio'], env: env(credentials) });
    const browser = await launchBrowser();
    try {
      const url = new URL((await first.waitForStderr(AUTHORIZE_URL))[1]!);
      assert.equal(url.searchParams.get('code_challenge_method'), 'S256');
      assert.equal(url.searchParams.get('resource'), stack.urls.mcp);
      assert.match(url.searchParams.get('redirect_uri') ?? '', /^http:\/\/127\.0\.0\.1:\d+\/callback$/);
      assert.equal(url.origin, new URL(stack.urls.issuer).origin, 'found through the MCP URL\'s 401 and its metadata');
      const early = await whoami(first);
      assert.equal(early.isError, true, 'no tool runs before the user allowed it');
      assert.match(early.content[0].text, /allow access at http/);

      const page = await (await browser.newContext()).newPage();
      await page.goto(url.href);
      await page.getByLabel('Username').fill('alice');
      await page.getByLabel('Password').fill('password123');
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('button', { name: 'Allow' }).click();
      await page.getByText('mcp-tools is connected').waitFor();
    } finally {
      await browser.close();
    }
    const who = (await whoami(first)).structuredContent as Json;
    assert.equal(who.user, 'alice');
    assert.match(who.client, /^MCP tools \(stdio, .+\)$/);
    assert.equal(await first.close(), 0, 'the agent closing stdin ends it cleanly');

    assert.equal(statSync(credentials).mode & 0o777, 0o700);
    const [file, ...others] = readdirSync(credentials);
    assert.deepEqual(others, [], 'one file, and no lock left behind');
    assert.equal(statSync(join(credentials, file!)).mode & 0o777, 0o600);
    const stored = JSON.parse(readFileSync(join(credentials, file!), 'utf8')) as Json;
    assert.equal(stored.resource, stack.urls.mcp);
    assert.equal(stored.client.clientId, who.clientId);
    assert.match(stored.grant.refreshToken, /\S{20,}/);

    const second = await startStdioMcp({ args: [BIN, '--stdio'], env: env(credentials) });
    try {
      await second.waitForStderr(/connected as alice/);
      assert.equal(((await whoami(second)).structuredContent as Json).user, 'alice');
      assert.doesNotMatch(second.stderr(), /authorize\?/, 'no sign-in the second time');
      assert.deepEqual([...first.strayStdout, ...second.strayStdout], [], 'nothing but protocol on stdout');
    } finally {
      await second.close();
    }
  });

  test('under 5-second access tokens it keeps calling tools for 30 s, refreshing before each expires, then stops with "revoked" within a second of the user revoking it on /account', async (t) => {
    // Started from a refresh token (STDIO_REFRESH_TOKEN), signed in by an HTTP client rather than a browser.
    const client = await registerPublicClient(stack.urls, { client_name: 'bob\'s desktop agent' });
    const tokens = await obtainTokens(stack.urls, new BrowserlessUser(stack.urls.issuer, 'bob', 'password456'), client, { scope: 'profile notes:read' });
    const credentials = join(work, 'bob-credentials');
    const mcp = await startStdioMcp({ args: [BIN, '--stdio'], env: env(credentials, { STDIO_REFRESH_TOKEN: tokens.refresh_token, STDIO_CLIENT_ID: client.client_id }) });
    try {
      const started = Date.now();
      let calls = 0;
      while (Date.now() - started < 30_000) {
        const result = await whoami(mcp);
        assert.equal(result.isError, undefined, `call ${calls} at ${Date.now() - started} ms: ${JSON.stringify(result.content)}`);
        assert.equal((result.structuredContent as Json).user, 'bob');
        calls++;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      const events = await grantEvents(stack, client.client_id);
      const rotations = events.filter((e) => e.type === 'RefreshTokenRotated');
      // One at start, then one at three quarters of each 5-s lifetime: 9 in 30 s, give or take one at either end.
      assert.ok(rotations.length >= 7 && rotations.length <= 11, `${rotations.length} refreshes in 30 s (${calls} calls)`);
      assert.ok(rotations.every((e) => !e.data.graceRetry), 'never a spent refresh token presented again');
      assert.deepEqual(events.filter((e) => e.type !== 'RefreshTokenRotated').map((e) => e.type), [], 'no reuse, no revocation');
      const stored = JSON.parse(readFileSync(join(credentials, readdirSync(credentials)[0]!), 'utf8')) as Json;
      assert.notEqual(stored.grant.refreshToken, tokens.refresh_token, 'the newest refresh token is the one stored');

      const bob = new AccountSession(stack.urls.issuer, 'bob', 'password456');
      await bob.accountPage();
      const revokedAt = Date.now();
      await bob.revokeApp(client.client_id);
      const exit = await mcp.exited;
      assert.equal(exit.code, 1);
      t.diagnostic(`${rotations.length} refreshes and ${calls} calls in 30 s; stopped ${exit.at - revokedAt} ms after the revocation`);
      assert.ok(exit.at - revokedAt < 1_000, `stopped ${exit.at - revokedAt} ms after the revocation`);
      assert.match(mcp.stderr(), /stopping: .*revoked/);
      assert.equal(JSON.parse(readFileSync(join(credentials, readdirSync(credentials)[0]!), 'utf8')).grant, null, 'the dead grant is forgotten');
      assert.deepEqual(mcp.strayStdout, []);
    } finally {
      await mcp.close();
    }
  });

  test('two agents sharing one stored credential rotate its refresh token in turn: never a spent one presented, both keep working', async () => {
    const client = await registerPublicClient(stack.urls, { client_name: 'two agents' });
    const tokens = await obtainTokens(stack.urls, new BrowserlessUser(stack.urls.issuer, 'alice', 'password123'), client);
    const shared = env(join(work, 'shared-credentials'), { STDIO_REFRESH_TOKEN: tokens.refresh_token, STDIO_CLIENT_ID: client.client_id });
    const agents = await Promise.all([startStdioMcp({ args: [BIN, '--stdio'], env: shared }), startStdioMcp({ args: [BIN, '--stdio'], env: shared })]);
    try {
      const started = Date.now();
      while (Date.now() - started < 8_000) {
        for (const agent of agents) {
          const result = await whoami(agent);
          assert.equal(result.isError, undefined, JSON.stringify(result.content));
        }
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      const events = await grantEvents(stack, client.client_id);
      assert.ok(events.filter((e) => e.type === 'RefreshTokenRotated').length >= 4, 'each refreshed at least twice');
      assert.ok(events.every((e) => e.type === 'RefreshTokenRotated' && !e.data.graceRetry), `no reuse, no grace retry, no revocation: ${events.map((e) => e.type)}`);
    } finally {
      for (const agent of agents) assert.equal(await agent.close(), 0);
    }
  });

  test('a user who answers Deny at the printed URL stops it, saying so', async () => {
    const mcp = await startStdioMcp({ args: [BIN, '--stdio'], env: env(join(work, 'denied-credentials')) });
    const url = (await mcp.waitForStderr(AUTHORIZE_URL))[1]!;
    const answer = await new BrowserlessUser(stack.urls.issuer, 'bob', 'password456').authorize(url, { decision: 'deny' });
    const landed = await http(`${new URL(url).searchParams.get('redirect_uri')}?${answer}`);
    assert.match(landed.text, /Access was not granted \(access_denied\)/);
    const exit = await mcp.exited;
    assert.equal(exit.code, 1);
    assert.match(mcp.stderr(), /stopping: access was not granted: access_denied/);
  });

  test('refuses, saying why and writing nothing on stdout: an access token, a dead refresh token, a credentials folder others can read', async () => {
    const run = (extra: Record<string, string>, credentials = join(work, `refusals-${Math.random()}`)) =>
      spawnSync(process.execPath, [BIN, '--stdio'], { env: { PATH: process.env.PATH ?? '', ...env(credentials, extra) }, encoding: 'utf8', timeout: 30_000, input: '' });

    // Started by an agent from another folder, without DATA_DIR: it looks where npm start keeps the stack.
    const accessToken = spawnSync(process.execPath, [BIN, '--stdio'], { cwd: tmpdir(), env: { PATH: process.env.PATH ?? '', MCP_ACCESS_TOKEN: 'eyJ.a.b', LOG_LEVEL: 'info' }, encoding: 'utf8', timeout: 30_000, input: '' });
    assert.equal(accessToken.status, 2);
    assert.match(accessToken.stderr, /MCP_ACCESS_TOKEN: mcp-tools --stdio does not take an access token.*STDIO_REFRESH_TOKEN/);
    assert.ok(accessToken.stderr.includes(`"file":"${join(REPO_ROOT, 'data', 'stack.json')}"`), accessToken.stderr);

    const client = await registerPublicClient(stack.urls);
    const dead = run({ STDIO_REFRESH_TOKEN: 'not-a-refresh-token', STDIO_CLIENT_ID: client.client_id });
    assert.equal(dead.status, 1);
    assert.match(dead.stderr, /STDIO_REFRESH_TOKEN was refused: the grant was revoked or has expired \(invalid_grant/);

    const open = join(work, 'open-folder');
    mkdirSync(open);
    chmodSync(open, 0o755);
    const exposed = run({}, open);
    assert.equal(exposed.status, 1);
    assert.match(exposed.stderr, /credentials folder .* is open to other users \(mode 755\)/);

    for (const outcome of [accessToken, dead, exposed]) assert.equal(outcome.stdout, '', 'nothing but protocol on stdout');
  });

  test('runs from the bundle alone, as in the Docker image: dist/mcp-tools.mjs and better-sqlite3, no dev dependency', async () => {
    const app = join(work, 'image');
    mkdirSync(join(app, 'dist'), { recursive: true });
    mkdirSync(join(app, 'node_modules'));
    copyFileSync(join(REPO_ROOT, 'dist', 'mcp-tools.mjs'), join(app, 'dist', 'mcp-tools.mjs'));
    for (const name of ['better-sqlite3', 'bindings', 'file-uri-to-path']) symlinkSync(join(REPO_ROOT, 'node_modules', name), join(app, 'node_modules', name));

    const client = await registerPublicClient(stack.urls);
    const tokens = await obtainTokens(stack.urls, new BrowserlessUser(stack.urls.issuer, 'alice', 'password123'), client);
    const mcp = await startStdioMcp({
      cwd: app,
      args: ['dist/mcp-tools.mjs', '--stdio'],
      env: env(join(work, 'image-credentials'), { STDIO_REFRESH_TOKEN: tokens.refresh_token, STDIO_CLIENT_ID: client.client_id }),
    });
    try {
      assert.equal(((await whoami(mcp)).structuredContent as Json).user, 'alice');
    } finally {
      assert.equal(await mcp.close(), 0);
    }
  });
});

/** The events of one client's grants (rotations, reuse, revocations), from the stream. */
async function grantEvents(stack: TestStack, clientId: string): Promise<Json[]> {
  const { EventStore } = await import('@mcp-auth/event-store');
  const { decodeEvent } = await import('@mcp-auth/contracts');
  // As the read-only identity an audit subscriber has.
  const store = await EventStore.connect({ servers: stack.nats.url, connectionName: 'grant-events-reader', ...natsAccessOf(stack.nats, 'reader') });
  const onGrants: Json[] = [];
  try {
    const { lastSequence } = await store.streamState();
    const messages = await store.consumeFrom(1);
    for await (const m of messages) {
      const outcome = decodeEvent(m.data);
      if (outcome.kind === 'event' && m.subject.startsWith('events.token.grant.')) onGrants.push(outcome.event);
      if (m.seq >= lastSequence) break;
    }
    messages.stop();
  } finally {
    await store.close();
  }
  const grants = new Set(onGrants.filter((e) => e.data.clientId === clientId).map((e) => e.data.grantId));
  return onGrants.filter((e) => grants.has(e.data.grantId));
}
