import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPair, SignJWT, exportJWK, decodeJwt } from 'jose';
import { auth } from '@modelcontextprotocol/sdk/client/auth.js';
import {
  AccountSession,
  BrowserlessUser,
  TestOAuthProvider,
  connectMcpClient,
  freePort,
  http,
  obtainTokens,
  registerPublicClient,
  startStack,
  toolEvents,
  type Json,
  type TestStack,
} from '@mcp-auth/testing';

const MCP_INIT = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } };
const callTool = (name: string, args: Json = {}) => ({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name, arguments: args } });

/** A raw POST to /mcp, as an agent's HTTP layer sends it. */
function mcpPost(url: string, body: unknown, headers: Record<string, string> = {}) {
  return http(url, { method: 'POST', headers: { Accept: 'application/json, text/event-stream', 'MCP-Protocol-Version': '2025-11-25', ...headers }, json: body });
}

function challenge(header: string | null): Record<string, string> {
  assert.ok(header, 'WWW-Authenticate is present');
  assert.match(header, /^Bearer /);
  return Object.fromEntries([...header.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]));
}

describe('MCP tools service: OAuth-protected MCP over Streamable HTTP', () => {
  let stack: TestStack;
  const waitToolDir = mkdtempSync(join(tmpdir(), 'wait-tool-'));
  const waitToolLog = join(waitToolDir, 'log');
  let alice: BrowserlessUser;
  let resourceMetadata: string;

  before(async () => {
    stack = await startStack({
      mcpReplicas: 2,
      serviceEnv: { 'mcp-tools': { TOOL_MODULES: 'examples/tools/dice.mjs,services/mcp-tools/test/fixtures/wait-tool.mjs', WAIT_TOOL_LOG: waitToolLog } },
    });
    alice = new BrowserlessUser(stack.urls.issuer, 'alice', 'password123');
    resourceMetadata = `${new URL(stack.urls.mcp).origin}/.well-known/oauth-protected-resource/mcp`;
  });
  after(async () => {
    await stack?.stop();
    rmSync(waitToolDir, { recursive: true, force: true });
  });

  test('the MCP SDK client, set up as the README says, discovers, registers, authorizes, exchanges the code, lists tools and calls whoami and notes_create', async () => {
    const provider = new TestOAuthProvider(alice, { clientName: 'SDK agent' });
    const { client } = await connectMcpClient(stack.urls.mcp, provider);
    assert.ok(provider.clientInfo?.client_id, 'registered itself (RFC 7591)');
    const authorizeUrl = provider.authorizationUrls[0]!;
    assert.equal(authorizeUrl.origin + authorizeUrl.pathname, `${stack.urls.issuer}/authorize`);
    assert.equal(authorizeUrl.searchParams.get('resource'), stack.urls.resource);
    assert.equal(authorizeUrl.searchParams.get('code_challenge_method'), 'S256');
    assert.equal(authorizeUrl.searchParams.get('scope'), 'profile notes:read notes:write', 'the SDK asked for what the challenge named: every scope the tools need');

    const { tools } = await client.listTools();
    const byName = Object.fromEntries(tools.map((t) => [t.name, t]));
    assert.deepEqual(Object.keys(byName).sort(), ['echo', 'notes_create', 'notes_delete', 'notes_list', 'roll_dice', 'wait_for_abort', 'whoami']);
    assert.deepEqual(byName.notes_create!._meta, { requiredScopes: ['notes:write'] });
    assert.match(byName.notes_create!.description!, /notes:write/);

    const who = await client.callTool({ name: 'whoami', arguments: {} });
    const identity = who.structuredContent as Json;
    assert.equal(identity.user, 'alice');
    assert.equal(identity.client, 'SDK agent');
    assert.deepEqual(identity.scopes, ['profile', 'notes:read', 'notes:write'], 'the consent page offered the optional scope ticked, and the user kept it');
    const created = await client.callTool({ name: 'notes_create', arguments: { title: 'first', text: 'reachable with no configuration' } });
    assert.equal(created.isError, undefined, JSON.stringify(created.content));
    const deleted = await client.callTool({ name: 'notes_delete', arguments: { noteId: (created.structuredContent as Json).noteId } });
    assert.equal((deleted.structuredContent as Json).deleted, true);
    const dice = await client.callTool({ name: 'roll_dice', arguments: { count: 3, sides: 6 } });
    assert.equal(((dice.structuredContent as Json).rolls as number[]).length, 3, 'an operator tool loaded from TOOL_MODULES works');
    await client.close();
  });

  test('no token: 401 with a challenge pointing at the protected-resource metadata and every scope the tools need', async () => {
    const res = await mcpPost(stack.urls.mcp, MCP_INIT);
    assert.equal(res.status, 401);
    const c = challenge(res.headers.get('www-authenticate'));
    assert.equal(c.resource_metadata, resourceMetadata);
    assert.equal(c.scope, 'profile notes:read notes:write');
    assert.equal(c.error, undefined, 'no error code when no token was sent (RFC 6750 §3.1)');
    const prm = await http(c.resource_metadata!);
    assert.equal(prm.status, 200);
    assert.deepEqual(prm.json, {
      resource: stack.urls.resource,
      authorization_servers: [stack.urls.issuer],
      scopes_supported: ['profile', 'notes:read', 'notes:write'],
      bearer_methods_supported: ['header'],
      resource_name: 'MCP tools',
    });
    assert.equal(prm.headers.get('access-control-allow-origin'), '*');
    const root = await http(`${new URL(stack.urls.mcp).origin}/.well-known/oauth-protected-resource`);
    assert.deepEqual(root.json, prm.json);
    const as = await http(`${stack.urls.issuer}/.well-known/oauth-authorization-server`);
    assert.equal(as.json!.issuer, prm.json!.authorization_servers[0], 'the issuer is byte-identical in both documents');
    const preflight = await fetch(stack.urls.mcp, { method: 'OPTIONS', headers: { Origin: 'http://localhost:6274', 'Access-Control-Request-Method': 'POST' } });
    assert.equal(preflight.status, 204);
    const exposed = await mcpPost(stack.urls.mcp, MCP_INIT, { Origin: 'http://localhost:6274' });
    assert.match(exposed.headers.get('access-control-expose-headers') ?? '', /WWW-Authenticate/i);
    assert.match(exposed.headers.get('access-control-expose-headers') ?? '', /Mcp-Session-Id/i);
  });

  test('bad tokens: 401 invalid_token, header by header', async () => {
    const cases: Array<[string, string]> = [
      ['garbage', 'Bearer not-a-jwt'],
      ['a wrong scheme', 'Basic YTpi'],
      ['three dots of nothing', 'Bearer a.b.c'],
      ['the scheme alone', 'Bearer'],
      ['the scheme and blanks', 'Bearer    '],
      ['two tokens', 'Bearer a.b.c d.e.f'],
      ['characters no token has', 'Bearer "a".b.c'],
    ];
    for (const [name, header] of cases) {
      const res = await mcpPost(stack.urls.mcp, MCP_INIT, { Authorization: header });
      assert.equal(res.status, 401, name);
      const c = challenge(res.headers.get('www-authenticate'));
      assert.equal(c.error, 'invalid_token', name);
      assert.equal(c.resource_metadata, resourceMetadata, name);
      assert.equal(c.scope, 'profile notes:read notes:write', name);
    }
    const tokens = await obtainTokens(stack.urls, alice, await registerPublicClient(stack.urls));
    // RFC 6750 with RFC 7235's case-insensitive scheme: any case, one or more spaces, trailing blanks.
    for (const header of [`Bearer ${tokens.access_token}`, `bearer ${tokens.access_token}`, `BEARER   ${tokens.access_token}  `]) {
      assert.equal((await mcpPost(stack.urls.mcp, callTool('echo', { message: 'form' }), { Authorization: header })).status, 200, header.slice(0, 12));
    }
    const inQuery = await mcpPost(`${stack.urls.mcp}?access_token=${tokens.access_token}`, MCP_INIT);
    assert.equal(inQuery.status, 400, 'tokens in the query string are refused');
    assert.equal(challenge(inQuery.headers.get('www-authenticate')).error, 'invalid_request');
  });

  test('forged tokens are refused: alg none, HS256 with the public key, unknown key, other audience, other issuer', async () => {
    const client = await registerPublicClient(stack.urls);
    const real = await obtainTokens(stack.urls, alice, client);
    const claims = decodeJwt(real.access_token);
    const header = JSON.parse(Buffer.from(real.access_token.split('.')[0]!, 'base64url').toString());
    const jwks = (await http(`${stack.urls.token}/jwks.json`)).json!;
    const publicJwk = jwks.keys.find((k: Json) => k.kid === header.kid);
    const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const none = `${b64({ alg: 'none', typ: 'at+jwt', kid: header.kid })}.${b64(claims)}.`;
    const hs256 = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid: header.kid }).sign(new TextEncoder().encode(JSON.stringify(publicJwk)));
    const attacker = await generateKeyPair('ES256');
    const unknownKid = await new SignJWT(claims).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'attacker-key' }).sign(attacker.privateKey);
    const sameKidOtherKey = await new SignJWT(claims).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: header.kid }).sign(attacker.privateKey);
    // The real token is used first, so the verified tokens remembered by the service include its signature,
    // which the tampered one reuses.
    assert.equal((await mcpPost(stack.urls.mcp, callTool('echo', { message: 'real' }), { Authorization: `Bearer ${real.access_token}` })).status, 200);
    const tampered = real.access_token.split('.');
    tampered[1] = b64({ ...claims, scope: 'profile notes:read notes:write' });
    for (const [name, token] of Object.entries({ none, hs256, unknownKid, sameKidOtherKey, tampered: tampered.join('.') })) {
      const res = await mcpPost(stack.urls.mcp, MCP_INIT, { Authorization: `Bearer ${token}` });
      assert.equal(res.status, 401, name);
      assert.equal(challenge(res.headers.get('www-authenticate')).error, 'invalid_token', name);
    }
    assert.ok((await exportJWK(attacker.publicKey)).x, 'the attacker key is a real key');

    // A genuinely signed token for another audience, and one from a token replica configured with another issuer.
    const elsewhere = await stack.addReplica('token', { ISSUER: 'http://evil.example' });
    const otherIssuer = await obtainTokensVia(elsewhere.url);
    const wrongIss = await mcpPost(stack.urls.mcp, MCP_INIT, { Authorization: `Bearer ${otherIssuer}` });
    assert.equal(wrongIss.status, 401);
    assert.match(challenge(wrongIss.headers.get('www-authenticate')).error_description!, /another authorization server/);
    await elsewhere.stop();

    async function obtainTokensVia(tokenUrl: string) {
      const t = await obtainTokens({ ...stack.urls, token: tokenUrl }, alice, await registerPublicClient(stack.urls));
      return t.access_token as string;
    }
  });

  test('an expired token is refused with invalid_token once past the small leeway', async () => {
    const shortLived = await stack.addReplica('token', { ACCESS_TOKEN_TTL_SECONDS: '1' });
    const t = await obtainTokens({ ...stack.urls, token: shortLived.url }, alice, await registerPublicClient(stack.urls));
    assert.equal(t.expires_in, 1);
    const auth = { Authorization: `Bearer ${t.access_token}` };
    assert.equal((await mcpPost(stack.urls.mcp, callTool('echo', { message: 'x' }), auth)).status, 200);
    await new Promise((r) => setTimeout(r, 7_000));
    const res = await mcpPost(stack.urls.mcp, callTool('echo', { message: 'x' }), auth);
    assert.equal(res.status, 401);
    assert.match(challenge(res.headers.get('www-authenticate')).error_description!, /expired/);
    await shortLived.stop();
  });

  test('a token for another resource is refused (wrong audience)', async () => {
    const other = 'http://127.0.0.1:1/other-mcp';
    const port = await freePort();
    const authz = await stack.addReplica('authorization', { RESOURCES: `${stack.urls.resource},${other}`, ISSUER: `http://127.0.0.1:${port}` }, port);
    // Another authorization service on the same stream that also knows a second resource: its codes redeem at our token service.
    const t = await obtainTokens({ ...stack.urls, issuer: authz.url, resource: other }, new BrowserlessUser(authz.url, 'alice', 'password123'), await registerPublicClient(stack.urls));
    assert.equal(decodeJwt(t.access_token).aud, other);
    const res = await mcpPost(stack.urls.mcp, MCP_INIT, { Authorization: `Bearer ${t.access_token}` });
    assert.equal(res.status, 401);
    assert.match(challenge(res.headers.get('www-authenticate')).error_description!, /not meant for this resource/);
    await authz.stop();
  });

  test('a token issued a moment ago is accepted by either replica at once', async () => {
    const client = await registerPublicClient(stack.urls);
    for (let i = 0; i < 5; i++) {
      const t = await obtainTokens(stack.urls, alice, client);
      for (const replica of stack.mcp) {
        const res = await mcpPost(`${replica.url}/mcp`, callTool('echo', { message: 'fresh' }), { Authorization: `Bearer ${t.access_token}` });
        assert.equal(res.status, 200, res.text);
      }
    }
  });

  test('step-up: notes_create with only notes:read (the user unticked notes:write) is 403 insufficient_scope; re-authorizing with the union succeeds', async () => {
    const provider = new TestOAuthProvider(alice, { clientName: 'step-up agent', untick: ['notes:write'] });
    const { client } = await connectMcpClient(stack.urls.mcp, provider);
    const raw = await mcpPost(stack.urls.mcp, callTool('notes_create', { title: 'hello' }), { Authorization: `Bearer ${provider.savedTokens!.access_token}` });
    assert.equal(raw.status, 403);
    const c = challenge(raw.headers.get('www-authenticate'));
    assert.equal(c.error, 'insufficient_scope');
    assert.equal(c.scope, 'profile notes:read notes:write', 'the union the client needs');
    assert.equal(c.resource_metadata, resourceMetadata);

    // The SDK first tries a refresh, which cannot widen a grant; the agent then authorizes again for the union.
    await assert.rejects(client.callTool({ name: 'notes_create', arguments: { title: 'hello' } }), /403/);
    provider.invalidateCredentials('tokens');
    provider.untick = [];
    const outcome = await auth(provider, { serverUrl: stack.urls.mcp, scope: c.scope });
    assert.equal(outcome, 'REDIRECT');
    const code = provider.lastRedirect!.get('code')!;
    assert.equal(await auth(provider, { serverUrl: stack.urls.mcp, authorizationCode: code }), 'AUTHORIZED');
    assert.equal(provider.savedTokens!.scope, 'profile notes:read notes:write');
    const { client: again } = await connectMcpClient(stack.urls.mcp, provider);
    const created = await again.callTool({ name: 'notes_create', arguments: { title: 'hello', text: 'world' } });
    assert.equal(created.isError, undefined);
    const listed = await again.callTool({ name: 'notes_list', arguments: {} });
    assert.deepEqual(((listed.structuredContent as Json).notes as Json[]).map((n) => n.title), ['hello']);
    await again.close();
    await client.close();
  });

  test('notes are private: bob sees none of alice\'s notes and cannot delete them', async () => {
    const writer = await registerPublicClient(stack.urls);
    const aliceTokens = await obtainTokens(stack.urls, alice, writer, { scope: 'profile notes:read notes:write' });
    const bob = new BrowserlessUser(stack.urls.issuer, 'bob', 'password456');
    const bobTokens = await obtainTokens(stack.urls, bob, writer, { scope: 'profile notes:read notes:write' });
    const as = (t: Json) => ({ Authorization: `Bearer ${t.access_token}` });
    const created = await mcpPost(stack.urls.mcp, callTool('notes_create', { title: 'alice only' }), as(aliceTokens));
    const noteId = (created.json!.result.structuredContent as Json).noteId;
    const bobList = await mcpPost(stack.mcp[1]!.url + '/mcp', callTool('notes_list'), as(bobTokens));
    assert.deepEqual(bobList.json!.result.structuredContent.notes, []);
    const bobDelete = await mcpPost(stack.urls.mcp, callTool('notes_delete', { noteId }), as(bobTokens));
    assert.equal(bobDelete.json!.result.isError, true);
    const aliceList = await mcpPost(stack.mcp[1]!.url + '/mcp', callTool('notes_list'), as(aliceTokens));
    assert.ok(aliceList.json!.result.structuredContent.notes.some((n: Json) => n.noteId === noteId));
  });

  test('revocation: after /revoke both MCP replicas refuse the token, within a generous bound', async () => {
    const client = await registerPublicClient(stack.urls);
    const t = await obtainTokens(stack.urls, alice, client);
    const auth = { Authorization: `Bearer ${t.access_token}` };
    for (const replica of stack.mcp) assert.equal((await mcpPost(`${replica.url}/mcp`, callTool('echo', { message: 'x' }), auth)).status, 200);
    const revoked = await http(`${stack.urls.token}/revoke`, { method: 'POST', form: { token: t.refresh_token, client_id: client.client_id } });
    assert.equal(revoked.status, 200);
    const answeredAt = performance.now();
    const delays: number[] = [];
    for (const replica of stack.mcp) {
      for (;;) {
        const res = await mcpPost(`${replica.url}/mcp`, callTool('echo', { message: 'x' }), auth);
        if (res.status === 401) {
          assert.match(challenge(res.headers.get('www-authenticate')).error_description!, /revoked/);
          break;
        }
        assert.ok(performance.now() - answeredAt < 5_000, 'refused within 5 s');
      }
      delays.push(performance.now() - answeredAt);
    }
    // The exact latency is the benchmark's business; this only says that it happens.
    assert.equal(delays.length, 2);
  });

  test('revoking one access token (by jti) ends it on both replicas at once, though each had it cached; its grant lives on', async () => {
    const client = await registerPublicClient(stack.urls);
    const t = await obtainTokens(stack.urls, alice, client);
    const auth = { Authorization: `Bearer ${t.access_token}` };
    // Two calls per replica: the second is answered from its cache of verified, honoured tokens.
    for (const replica of stack.mcp) for (let i = 0; i < 2; i++) assert.equal((await mcpPost(`${replica.url}/mcp`, callTool('echo', { message: 'x' }), auth)).status, 200);
    const revoked = await http(`${stack.urls.token}/revoke`, { method: 'POST', form: { token: t.access_token, token_type_hint: 'access_token', client_id: client.client_id } });
    assert.equal(revoked.status, 200);
    for (const replica of stack.mcp) {
      const deadline = Date.now() + 5_000;
      let res = await mcpPost(`${replica.url}/mcp`, callTool('echo', { message: 'x' }), auth);
      while (res.status !== 401 && Date.now() < deadline) res = await mcpPost(`${replica.url}/mcp`, callTool('echo', { message: 'x' }), auth);
      assert.equal(res.status, 401);
      assert.match(challenge(res.headers.get('www-authenticate')).error_description!, /revoked/);
    }
    const refreshed = await http(`${stack.urls.token}/token`, { method: 'POST', form: { grant_type: 'refresh_token', refresh_token: t.refresh_token, client_id: client.client_id } });
    assert.equal(refreshed.status, 200, 'the grant was not revoked with the access token');
    for (const replica of stack.mcp) {
      assert.equal((await mcpPost(`${replica.url}/mcp`, callTool('echo', { message: 'x' }), { Authorization: `Bearer ${refreshed.json!.access_token}` })).status, 200);
    }
  });

  test('revocation through the connected-apps page (ConsentRevoked) ends the token on both replicas', async () => {
    const provider = new TestOAuthProvider(alice, { clientName: 'revoked via page' });
    const { client } = await connectMcpClient(stack.urls.mcp, provider);
    await client.callTool({ name: 'whoami', arguments: {} });
    await new AccountSession(stack.urls.issuer, 'alice', 'password123').revokeApp(provider.clientInfo!.client_id);
    for (const replica of stack.mcp) {
      const deadline = Date.now() + 5_000;
      let status = 0;
      while (Date.now() < deadline) {
        status = (await mcpPost(`${replica.url}/mcp`, callTool('whoami'), { Authorization: `Bearer ${provider.savedTokens!.access_token}` })).status;
        if (status === 401) break;
      }
      assert.equal(status, 401);
    }
    await client.close().catch(() => {});
  });

  test('a call whose agent goes away before the answer is aborted: the tool sees its signal; answered calls are not', async () => {
    const tokens = await obtainTokens(stack.urls, alice, await registerPublicClient(stack.urls));
    const headers = { Authorization: `Bearer ${tokens.access_token}`, Accept: 'application/json, text/event-stream', 'Content-Type': 'application/json', 'MCP-Protocol-Version': '2025-11-25' };
    const log = () => (existsSync(waitToolLog) ? readFileSync(waitToolLog, 'utf8').split('\n').filter(Boolean) : []);
    const until = async (line: string) => {
      const deadline = Date.now() + 5_000;
      while (!log().includes(line)) {
        assert.ok(Date.now() < deadline, `"${line}" within 5 s; log: ${log().join(' | ')}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    const leaving = new AbortController();
    const call = fetch(stack.urls.mcp, { method: 'POST', headers, body: JSON.stringify(callTool('wait_for_abort', { mark: 'left' })), signal: leaving.signal });
    await until('left started');
    leaving.abort();
    await assert.rejects(call);
    await until('left aborted');
    await until(`left closed; stack trace limit ${Error.stackTraceLimit}`);

    // Answered calls of other tools around it leave nothing running and abort nothing.
    for (let i = 0; i < 5; i++) {
      const echoed = await mcpPost(stack.urls.mcp, callTool('echo', { message: `e${i}` }), { Authorization: headers.Authorization });
      assert.equal(echoed.status, 200);
      assert.equal(echoed.json!.result.isError, undefined, JSON.stringify(echoed.json));
    }
    assert.deepEqual(log(), ['left started', 'left aborted', `left closed; stack trace limit ${Error.stackTraceLimit}`]);

    // The same on MCP 2026-07-28, whose leg aborts through the request's signal.
    const modern = {
      jsonrpc: '2.0',
      id: 8,
      method: 'tools/call',
      params: { name: 'wait_for_abort', arguments: { mark: 'modern' }, _meta: { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {} } },
    };
    const leavingModern = new AbortController();
    const modernCall = fetch(stack.urls.mcp, {
      method: 'POST',
      headers: { ...headers, 'MCP-Protocol-Version': '2026-07-28', 'Mcp-Method': 'tools/call', 'Mcp-Name': 'wait_for_abort' },
      body: JSON.stringify(modern),
      signal: leavingModern.signal,
    });
    await until('modern started');
    leavingModern.abort();
    await assert.rejects(modernCall);
    await until('modern aborted');
  });

  test('a foreign Origin is refused with 403 before the token is looked at; GET and DELETE get the 401 challenge without a token, 405 with one', async () => {
    const foreign = await mcpPost(stack.urls.mcp, MCP_INIT, { Origin: 'https://evil.example' });
    assert.equal(foreign.status, 403);
    assert.equal(foreign.headers.get('www-authenticate'), null);
    const nullOrigin = await mcpPost(stack.urls.mcp, MCP_INIT, { Origin: 'null' });
    assert.equal(nullOrigin.status, 403);
    const inspector = await mcpPost(stack.urls.mcp, MCP_INIT, { Origin: 'http://localhost:6274' });
    assert.equal(inspector.status, 401, 'a loopback origin (the MCP Inspector) passes the origin check in development');
    assert.equal(inspector.headers.get('access-control-allow-origin'), 'http://localhost:6274');
    const t = await obtainTokens(stack.urls, alice, await registerPublicClient(stack.urls));
    for (const method of ['GET', 'DELETE']) {
      // mcp-remote probes with an unauthenticated GET: discovery starts from the challenge whatever the method.
      const probe = await fetch(stack.urls.mcp, { method, headers: { Accept: 'text/event-stream' } });
      assert.equal(probe.status, 401, method);
      assert.equal(challenge(probe.headers.get('www-authenticate')).resource_metadata, resourceMetadata, method);
      const res = await fetch(stack.urls.mcp, { method, headers: { Authorization: `Bearer ${t.access_token}` } });
      assert.equal(res.status, 405, method);
      assert.equal(res.headers.get('allow'), 'POST, OPTIONS', method);
    }
  });

  test('malformed requests get 4xx JSON-RPC errors, never a 5xx', async () => {
    const t = await obtainTokens(stack.urls, alice, await registerPublicClient(stack.urls));
    const auth = { Authorization: `Bearer ${t.access_token}` };
    const parse = await http(stack.urls.mcp, { method: 'POST', headers: { ...auth, 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' }, body: '{"jsonrpc":' });
    assert.equal(parse.status, 400);
    assert.equal(parse.json!.error.code, -32700);
    const type = await http(stack.urls.mcp, { method: 'POST', headers: { ...auth, 'Content-Type': 'text/plain' }, body: 'hi' });
    assert.equal(type.status, 415);
    const unknownTool = await mcpPost(stack.urls.mcp, callTool('no_such_tool'), auth);
    assert.ok(unknownTool.status < 500);
    const badArgs = await mcpPost(stack.urls.mcp, callTool('echo', { message: 42 }), auth);
    assert.equal(badArgs.json!.result.isError, true);
    assert.match(badArgs.json!.result.content[0].text, /Invalid arguments/);
  });

  test('a notification is answered 202 Accepted with no body (Streamable HTTP, 2025-11-25)', async () => {
    const t = await obtainTokens(stack.urls, alice, await registerPublicClient(stack.urls));
    const accepted = await mcpPost(stack.urls.mcp, { jsonrpc: '2.0', method: 'notifications/initialized' }, { Authorization: `Bearer ${t.access_token}` });
    assert.equal(accepted.status, 202);
    assert.equal(accepted.text, '');
  });
});

describe('MCP tools quotas and audit events', () => {
  let stack: TestStack;
  before(async () => {
    stack = await startStack({ serviceEnv: { 'mcp-tools': { TOOL_CALLS_PER_MINUTE_PER_GRANT: '3' } } });
  });
  after(async () => stack?.stop());

  test('a grant over its quota gets a tool error with the retry time; calls and denials are audited without the token', async () => {
    const alice = new BrowserlessUser(stack.urls.issuer, 'alice', 'password123');
    const t = await obtainTokens(stack.urls, alice, await registerPublicClient(stack.urls));
    const auth = { Authorization: `Bearer ${t.access_token}` };
    const results = [];
    for (let i = 0; i < 4; i++) results.push((await mcpPost(stack.urls.mcp, callTool('echo', { message: `m${i}` }), auth)).json!.result);
    assert.deepEqual(results.slice(0, 3).map((r) => r.isError), [undefined, undefined, undefined]);
    assert.equal(results[3].isError, true);
    assert.match(results[3].content[0].text, /Quota exceeded.*Retry in \d+ seconds/);
    assert.ok(results[3]._meta.retryAfterSeconds >= 1);
    await mcpPost(stack.urls.mcp, callTool('notes_create', { title: 'x' }), auth);

    const seen = await toolEvents(stack, (events) => events.filter((e) => e.type === 'ToolInvoked').length >= 3 && events.filter((e) => e.type === 'ToolDenied').length >= 2);
    const invoked = seen.filter((e) => e.type === 'ToolInvoked');
    const denied = seen.filter((e) => e.type === 'ToolDenied');
    assert.equal(invoked.length, 3);
    assert.ok(invoked.every((e) => e.data.tool === 'echo' && e.data.outcome === 'success' && e.data.clientId && e.data.userId && typeof e.data.durationMs === 'number'));
    assert.ok(seen.every((e) => e.metadata.sourceAddress === '127.0.0.1' && e.metadata.requestId), 'each call is audited with where it came from');
    assert.deepEqual(denied.map((e) => e.data.reason).sort(), ['insufficient_scope', 'quota_exceeded']);
    assert.ok(seen.every((e) => !e.raw.includes(t.access_token.split('.')[2])), 'no event carries the token');
  });
});

describe('the benchmark mode without the token check (UNSAFE_BENCHMARK_WITHOUT_AUTH)', () => {
  let stack: TestStack;
  before(async () => {
    stack = await startStack({ serviceEnv: { 'mcp-tools': { UNSAFE_BENCHMARK_WITHOUT_AUTH: 'true' } } });
  });
  after(async () => stack?.stop());

  test('serves the tools that need nobody, refuses the others, and audits each call with where it came from, as with the check', async () => {
    const echoed = await mcpPost(stack.urls.mcp, callTool('echo', { message: 'open' }));
    assert.equal(echoed.status, 200);
    assert.equal(echoed.json!.result.content[0].text, 'open');
    const notes = await mcpPost(stack.urls.mcp, callTool('notes_create', { title: 'x' }));
    assert.equal(notes.json!.result.isError, true);
    assert.match(notes.json!.result.content[0].text, /needs a signed-in user/);
    const [invoked] = await toolEvents(stack, (events) => events.some((e) => e.type === 'ToolInvoked'));
    assert.equal(invoked!.data.tool, 'echo');
    assert.equal(invoked!.data.userId, null);
    assert.equal(invoked!.metadata.sourceAddress, '127.0.0.1');
    assert.ok(invoked!.metadata.requestId);
  });
});
