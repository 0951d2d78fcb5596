import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Client as ClientV2, StreamableHTTPClientTransport as TransportV2, UnauthorizedError as UnauthorizedV2, type OAuthClientProvider as ProviderV2 } from '@modelcontextprotocol/client';
import { BrowserlessUser, TestOAuthProvider, connectMcpClient, http, obtainTokens, registerPublicClient, startStack, toolEvents, type Json, type TestStack } from '@mcp-auth/testing';

/**
 * MCP 2026-07-28 beside the 2025 era at one /mcp (issue 22 §5): the v1 SDK client (2025-11-25) and the v2 SDK
 * client pinned to 2026-07-28 each complete the whole OAuth flow with the SDK's own auth code and call tools on
 * one running stack; both meet the same token check and the same step-up challenge.
 */
describe('MCP revisions 2026-07-28 and 2025-11-25 at one /mcp, on one stack', () => {
  let stack: TestStack;
  let alice: BrowserlessUser;
  before(async () => {
    stack = await startStack();
    alice = new BrowserlessUser(stack.urls.issuer, 'alice', 'password123');
  });
  after(async () => stack?.stop());

  /** A fetch that records the protocol revision each MCP request declares (the SDKs' own fetch otherwise). */
  const recordingRevisions = () => {
    const revisions: string[] = [];
    const fetchRecording = (input: string | URL | Request, init?: RequestInit) => {
      const revision = new Headers(init?.headers).get('mcp-protocol-version');
      if (String(input instanceof Request ? input.url : input).startsWith(stack.urls.mcp) && revision) revisions.push(revision);
      return fetch(input, init);
    };
    return { revisions, fetch: fetchRecording };
  };

  test('the v1 client speaks 2025-11-25: OAuth flow, whoami, notes_create, notes_list', async () => {
    const provider = new TestOAuthProvider(alice, { clientName: 'v1 agent' });
    const { fetch: recording, revisions } = recordingRevisions();
    const { client, transport } = await connectMcpClient(stack.urls.mcp, provider, { fetch: recording });
    try {
      assert.equal(transport.protocolVersion, '2025-11-25');
      assert.equal(((await client.callTool({ name: 'whoami', arguments: {} })).structuredContent as Json).client, 'v1 agent');
      const created = await client.callTool({ name: 'notes_create', arguments: { title: 'from 2025-11-25' } });
      assert.equal(created.isError, undefined, JSON.stringify(created.content));
      const listed = await client.callTool({ name: 'notes_list', arguments: {} });
      assert.ok(((listed.structuredContent as Json).notes as Json[]).some((n) => n.title === 'from 2025-11-25'));
      assert.ok(revisions.length > 0 && revisions.every((r) => r === '2025-11-25'), revisions.join(' '));
    } finally {
      await client.close();
    }
  });

  test('the v2 client pinned to 2026-07-28: OAuth flow through its own auth code, tools/list, whoami, notes_create', async () => {
    const provider = new TestOAuthProvider(alice, { clientName: 'v2 agent' });
    const { fetch: recording, revisions } = recordingRevisions();
    const client = await connectV2(stack.urls.mcp, provider, recording);
    try {
      assert.equal(client.getNegotiatedProtocolVersion(), '2026-07-28');
      assert.ok(provider.clientInfo?.client_id, 'registered itself');
      // The v2 client adds offline_access as the issuer lists it (the SDK's way of asking for a refresh token).
      assert.equal(provider.authorizationUrls[0]!.searchParams.get('scope'), 'profile notes:read notes:write offline_access', 'asked for what the challenge named');
      const { tools } = await client.listTools();
      assert.ok(tools.some((t) => t.name === 'notes_create' && (t._meta as Json | undefined)?.requiredScopes?.[0] === 'notes:write'));
      const who = await client.callTool({ name: 'whoami', arguments: {} });
      assert.equal((who.structuredContent as Json).client, 'v2 agent');
      const created = await client.callTool({ name: 'notes_create', arguments: { title: 'from 2026-07-28' } });
      assert.equal(created.isError, undefined, JSON.stringify(created.content));
      const listed = await client.callTool({ name: 'notes_list', arguments: {} });
      assert.deepEqual(((listed.structuredContent as Json).notes as Json[]).map((n) => n.title).sort(), ['from 2025-11-25', 'from 2026-07-28'], 'one stack, one user, both revisions');
      assert.ok(revisions.length > 0 && revisions.every((r) => r === '2026-07-28'), revisions.join(' '));
    } finally {
      await client.close();
    }
  });

  test('the v2 client on 2026-07-28 steps up on 403 insufficient_scope: the user is asked again and the call goes through', async () => {
    const provider = new TestOAuthProvider(alice, { clientName: 'v2 step-up agent', untick: ['notes:write'] });
    const client = await connectV2(stack.urls.mcp, provider, fetch);
    try {
      assert.deepEqual(((await client.callTool({ name: 'whoami', arguments: {} })).structuredContent as Json).scopes, ['profile', 'notes:read', 'offline_access']);
      provider.untick = [];
      // The SDK sends the user to authorize the union and hands the callback to the agent, as at the first connection.
      const first = client.callTool({ name: 'notes_create', arguments: { title: 'after step-up' } });
      await assert.rejects(first, UnauthorizedV2);
      await (client.transport as TransportV2).finishAuth(provider.lastRedirect!);
      const created = await client.callTool({ name: 'notes_create', arguments: { title: 'after step-up' } });
      assert.equal(created.isError, undefined, JSON.stringify(created.content));
      assert.equal(provider.authorizationUrls.length, 2, 'the second authorization is the step-up');
      // The union of what it held (offline_access included) and what the 403 named.
      assert.equal(provider.authorizationUrls[1]!.searchParams.get('scope'), 'profile notes:read offline_access notes:write');
    } finally {
      await client.close();
    }
  });

  test('a 2026-07-28 request meets the same checks as a 2025 one: 401 without a token, 403 insufficient_scope before the tool, JSON answers', async () => {
    const modernCall = (name: string) => ({
      jsonrpc: '2.0',
      id: 3,
      method: 'tools/call',
      params: { name, arguments: name === 'notes_create' ? { title: 'x' } : {}, _meta: { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {} } },
    });
    const modernHeaders = (name: string) => ({ Accept: 'application/json, text/event-stream', 'MCP-Protocol-Version': '2026-07-28', 'Mcp-Method': 'tools/call', 'Mcp-Name': name });
    const anonymous = await http(stack.urls.mcp, { method: 'POST', headers: modernHeaders('whoami'), json: modernCall('whoami') });
    assert.equal(anonymous.status, 401);
    assert.match(anonymous.headers.get('www-authenticate') ?? '', /resource_metadata=/);

    const reader = await obtainTokens(stack.urls, alice, await registerPublicClient(stack.urls), { scope: 'profile notes:read' });
    const auth = { Authorization: `Bearer ${reader.access_token}` };
    const refused = await http(stack.urls.mcp, { method: 'POST', headers: { ...auth, ...modernHeaders('notes_create') }, json: modernCall('notes_create') });
    assert.equal(refused.status, 403);
    assert.match(refused.headers.get('www-authenticate') ?? '', /error="insufficient_scope".*scope="profile notes:read notes:write"/);

    const answered = await http(stack.urls.mcp, { method: 'POST', headers: { ...auth, ...modernHeaders('whoami') }, json: modernCall('whoami') });
    assert.equal(answered.status, 200, answered.text);
    assert.match(answered.headers.get('content-type') ?? '', /^application\/json/);
    assert.equal(answered.json!.result.resultType, 'complete', 'answered in the 2026-07-28 shape');
    assert.equal(answered.json!.result.structuredContent?.user, 'alice', answered.text);

    // Both revisions are audited alike: each client's calls and the refusal above, by the one tool path.
    const audited = await toolEvents(stack, (events) => events.some((e) => e.type === 'ToolDenied') && events.filter((e) => e.data.tool === 'notes_create' && e.type === 'ToolInvoked').length >= 3);
    const created = audited.filter((e) => e.type === 'ToolInvoked' && e.data.tool === 'notes_create');
    assert.equal(new Set(created.map((e) => e.data.clientId)).size, 3, 'notes_create audited for the v1, the v2 and the stepped-up v2 client');
    assert.ok(created.every((e) => e.data.outcome === 'success' && e.metadata.sourceAddress === '127.0.0.1'));
    assert.deepEqual(audited.filter((e) => e.type === 'ToolDenied').map((e) => [e.data.tool, e.data.reason]), [['notes_create', 'insufficient_scope'], ['notes_create', 'insufficient_scope']], 'the v2 step-up and the raw 2026-07-28 call');

    const mismatch = await http(stack.urls.mcp, { method: 'POST', headers: { ...auth, ...modernHeaders('echo') }, json: modernCall('whoami') });
    assert.equal(mismatch.status, 400);
    assert.equal(mismatch.json!.error.code, -32020, 'an Mcp-Name header that disagrees with the body is refused by the SDK');
  });
});

/** The v2 SDK client with its OAuth provider, as an agent connects it: 401 → the SDK's auth flow → finishAuth → again. */
async function connectV2(url: string, provider: TestOAuthProvider, fetchImpl: typeof fetch): Promise<ClientV2> {
  // The test provider implements the v1 interface; the v2 one has the same members.
  const authProvider = provider as unknown as ProviderV2;
  for (let attempt = 0; attempt < 3; attempt++) {
    const client = new ClientV2({ name: 'mcp-auth-test-agent-v2', version: '1.0.0' }, { versionNegotiation: { mode: { pin: '2026-07-28' } } });
    const transport = new TransportV2(new URL(url), { authProvider, fetch: fetchImpl });
    try {
      await client.connect(transport);
      return client;
    } catch (err) {
      if (!(err instanceof UnauthorizedV2) || !provider.lastRedirect) throw err;
      const callback = provider.lastRedirect;
      provider.lastRedirect = null;
      await transport.finishAuth(callback);
    }
  }
  throw new Error('could not connect after authorizing');
}
