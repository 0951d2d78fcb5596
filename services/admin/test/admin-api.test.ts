import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  BrowserlessUser,
  TEST_ADMIN_TOKEN,
  http,
  obtainTokens,
  registerPublicClient,
  startStack,
  type Json,
  type TestStack,
} from '@mcp-auth/testing';

const callTool = (name: string, args: Json = {}) => ({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name, arguments: args } });
const ADMIN = { Authorization: `Bearer ${TEST_ADMIN_TOKEN}` };

function mcpCall(url: string, accessToken: string) {
  return http(url, {
    method: 'POST',
    headers: { Accept: 'application/json, text/event-stream', 'MCP-Protocol-Version': '2025-11-25', Authorization: `Bearer ${accessToken}` },
    json: callTool('whoami'),
  });
}

/** The MCP server's own projection applies the revocation a moment after the admin's answer: poll briefly. */
async function refusedWithin(url: string, accessToken: string, ms = 3000): Promise<number> {
  const deadline = Date.now() + ms;
  for (;;) {
    const res = await mcpCall(url, accessToken);
    if (res.status !== 200 || Date.now() > deadline) return res.status;
    await sleep(20);
  }
}

describe('admin API: clients, users and grants, behind the admin credential', () => {
  let stack: TestStack;
  let admin: string;
  let alice: BrowserlessUser;

  before(async () => {
    stack = await startStack({ admin: true });
    admin = `${stack.urls.admin}/admin/api`;
    alice = new BrowserlessUser(stack.urls.issuer, 'alice', 'password123');
  });
  after(() => stack?.stop());

  test('without the admin token, or with a wrong one, every API answers 401 with a Bearer challenge', async () => {
    for (const path of ['/clients', '/users', '/grants', '/signing-keys']) {
      const none = await http(`${admin}${path}`);
      assert.equal(none.status, 401, path);
      assert.match(none.headers.get('www-authenticate') ?? '', /^Bearer realm="admin"/);
      const wrong = await http(`${admin}${path}`, { headers: { Authorization: `Bearer ${TEST_ADMIN_TOKEN}x` } });
      assert.equal(wrong.status, 401, path);
      assert.match(wrong.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
    }
  });

  test('malformed filters are 400 invalid_request, never a 500', async () => {
    for (const query of ['/clients?limit=abc', '/clients?status=gone', '/users?limit=0', '/grants?live=maybe', '/clients?offset=-1']) {
      const res = await http(`${admin}${query}`, { headers: ADMIN });
      assert.equal(res.status, 400, query);
      assert.equal(res.json?.error, 'invalid_request');
    }
    assert.equal((await http(`${admin}/clients/${'x'.repeat(300)}`, { headers: ADMIN })).status, 404);
    assert.equal((await http(`${admin}/grants/nope/revoke`, { method: 'POST', headers: ADMIN })).status, 404);
  });

  test('find a user, see the grant with its client, revoke it: the MCP server refuses its token and the refresh token is dead', async () => {
    const client = await registerPublicClient(stack.urls, { client_name: 'Admin API Agent' });
    const tokens = await obtainTokens(stack.urls, alice, client);
    assert.equal((await mcpCall(stack.urls.mcp, tokens.access_token)).status, 200);

    const users = await http(`${admin}/users?q=ali`, { headers: ADMIN });
    const aliceRow = users.json!.users.find((u: Json) => u.username === 'alice');
    assert.ok(aliceRow, 'alice is listed');
    assert.ok(aliceRow.last_signed_in_at, 'her sign-in is known');

    const detail = await http(`${admin}/users/${aliceRow.user_id}`, { headers: ADMIN });
    const grant = detail.json!.grants.find((g: Json) => g.client_id === client.client_id);
    assert.equal(grant.state, 'live');
    assert.equal(grant.client_name, 'Admin API Agent');
    assert.equal(grant.username, 'alice');

    const listed = await http(`${admin}/clients?q=Admin%20API%20Agent`, { headers: ADMIN });
    assert.equal(listed.json!.clients.length, 1);
    assert.equal(listed.json!.clients[0].live_grants, 1);
    assert.ok(Date.parse(listed.json!.clients[0].last_used_at) >= Date.parse(listed.json!.clients[0].registered_at));

    const revoked = await http(`${admin}/grants/${grant.grant_id}/revoke`, { method: 'POST', headers: ADMIN });
    assert.equal(revoked.status, 200);
    assert.equal(revoked.json!.outcome, 'revoked');
    assert.equal(revoked.json!.grant.state, 'revoked');
    assert.equal(revoked.json!.grant.revoke_reason, 'revoked_by_admin');

    assert.equal(await refusedWithin(stack.urls.mcp, tokens.access_token), 401);
    const refresh = await http(`${stack.urls.token}/token`, { method: 'POST', form: { grant_type: 'refresh_token', refresh_token: tokens.refresh_token, client_id: client.client_id } });
    assert.equal(refresh.status, 400);
    assert.equal(refresh.json?.error, 'invalid_grant');

    const again = await http(`${admin}/grants/${grant.grant_id}/revoke`, { method: 'POST', headers: ADMIN });
    assert.equal(again.json!.outcome, 'already_inactive');
    const live = await http(`${admin}/grants?user=${aliceRow.user_id}&live=true`, { headers: ADMIN });
    assert.ok(!live.json!.grants.some((g: Json) => g.grant_id === grant.grant_id));
  });

  test('deleting a client revokes its live grants, ends its registration and refuses its tokens', async () => {
    const client = await registerPublicClient(stack.urls, { client_name: 'Doomed Agent' });
    const tokens = await obtainTokens(stack.urls, alice, client);
    const deleted = await http(`${admin}/clients/${client.client_id}`, { method: 'DELETE', headers: ADMIN });
    assert.equal(deleted.status, 204);

    assert.equal(await refusedWithin(stack.urls.mcp, tokens.access_token), 401);
    const registration = await http(client.registration_client_uri, { headers: { Authorization: `Bearer ${client.registration_access_token}` } });
    assert.equal(registration.status, 401);
    const detail = await http(`${admin}/clients/${client.client_id}`, { headers: ADMIN });
    assert.equal(detail.json!.status, 'deleted');
    assert.equal(detail.json!.live_grants, 0);
    assert.ok(detail.json!.grants.every((g: Json) => g.state === 'revoked'));
    assert.equal((await http(`${admin}/clients/${client.client_id}`, { method: 'DELETE', headers: ADMIN })).status, 404);
  });

  test('signing keys: the token replica\'s published key, public half only', async () => {
    const res = await http(`${admin}/signing-keys`, { headers: ADMIN });
    assert.equal(res.status, 200);
    assert.ok(res.json!.keys.length >= 1);
    for (const key of res.json!.keys) {
      assert.equal(key.state, 'signing');
      assert.equal(key.public_jwk.d, undefined, 'no private part');
    }
  });
});

describe('idle client reaping', () => {
  let stack: TestStack;

  // About 6 seconds of idleness is "idle" here (longer than a sign-in with consent takes on a loaded machine,
  // so the busy client has its grant before it could look idle); the reaper looks every second after its first 5 s.
  before(async () => {
    stack = await startStack({ admin: { CLIENT_IDLE_DAYS: '0.00007', CLIENT_REAP_INTERVAL_SECONDS: '1' }, mcpReplicas: 0 });
  });
  after(() => stack?.stop());

  test('a client unused and without a live grant expires; a client with a live grant is kept; the expired one can register afresh', async () => {
    const alice = new BrowserlessUser(stack.urls.issuer, 'alice', 'password123');
    const idle = await registerPublicClient(stack.urls, { client_name: 'Idle Agent' });
    const busy = await registerPublicClient(stack.urls, { client_name: 'Busy Agent' });
    await obtainTokens(stack.urls, alice, busy);

    const status = async (clientId: string) => (await http(`${stack.urls.admin}/admin/api/clients/${clientId}`, { headers: ADMIN })).json!.status;
    const deadline = Date.now() + 30_000;
    while ((await status(idle.client_id)) !== 'deleted' && Date.now() < deadline) await sleep(250);
    assert.equal(await status(idle.client_id), 'deleted', 'the idle client expired');
    await sleep(1500); // more reaper passes
    assert.equal(await status(busy.client_id), 'active', 'a client with a live grant is never reaped');

    const registration = await http(idle.registration_client_uri, { headers: { Authorization: `Bearer ${idle.registration_access_token}` } });
    assert.equal(registration.status, 401);
    const again = await registerPublicClient(stack.urls, { client_name: 'Idle Agent' });
    assert.equal(again.client_id, idle.client_id, 'the same agent gets its deterministic id back');
    assert.equal(await status(again.client_id), 'active');
  });
});
