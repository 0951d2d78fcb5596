import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { natsClientOptions } from '@mcp-auth/event-store';
import { STREAM_NAME } from '@mcp-auth/contracts';
import {
  AccountSession,
  BrowserlessUser,
  TEST_ADMIN_TOKEN,
  http,
  natsAccessOf,
  obtainTokens,
  registerPublicClient,
  startStack,
  type Json,
  type TestStack,
} from '@mcp-auth/testing';

/**
 * Deleting a client and revoking a grant or an app end everything they hold, at once and in the log: the
 * client's tokens are refused, a client registered again under the same id starts with no consent and no live
 * grant, and every way of revoking records GrantRevoked and ConsentRevoked. The admin service only asks; the
 * registration and authorization services decide, and the authorization and token services' policies record the
 * consequences (services/*\/src/**\/policy.ts).
 */

const ADMIN = { Authorization: `Bearer ${TEST_ADMIN_TOKEN}` };
const INTROSPECTION = { id: 'resource-server', secret: 'introspection-secret-0123456789' };

function mcpCall(url: string, accessToken: string) {
  return http(url, {
    method: 'POST',
    headers: { Accept: 'application/json, text/event-stream', 'MCP-Protocol-Version': '2025-11-25', Authorization: `Bearer ${accessToken}` },
    json: { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'whoami', arguments: {} } },
  });
}

/** Polls until `check` holds or `ms` pass; returns the last value it saw. */
async function eventually<T>(read: () => Promise<T>, check: (value: T) => boolean, ms = 3_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (check(value) || Date.now() > deadline) return value;
    await sleep(25);
  }
}

describe('deleting a client and revoking: everything it holds ends, and the log says so', () => {
  let stack: TestStack;
  const refresh = (client: Json, refreshToken: string) =>
    http(`${stack.urls.token}/token`, { method: 'POST', form: { grant_type: 'refresh_token', refresh_token: refreshToken, client_id: client.client_id } });
  const introspect = (token: string) =>
    http(`${stack.urls.token}/introspect`, {
      method: 'POST',
      headers: { Authorization: `Basic ${Buffer.from(`${INTROSPECTION.id}:${INTROSPECTION.secret}`).toString('base64')}` },
      form: { token },
    });
  /** The audit trail's reading of the stream for one client: type, actor, the grant and the details (reason, consent). */
  const trail = async (clientId: string): Promise<Json[]> => {
    const res = await http(`${stack.urls.admin}/admin/api/audit/export?client=${clientId}`, { headers: ADMIN });
    assert.equal(res.status, 200);
    return res.text.split('\n').filter(Boolean).map((line) => JSON.parse(line) as Json);
  };
  const recordedWithin = (clientId: string, check: (entries: Json[]) => boolean) => eventually(() => trail(clientId), check);
  const revocationsOf = (entries: Json[], type: 'GrantRevoked' | 'ConsentRevoked', reason: string) => entries.filter((e) => e.type === type && e.details.reason === reason);
  const clientStatus = async (clientId: string) => (await http(`${stack.urls.admin}/admin/api/clients/${clientId}`, { headers: ADMIN })).json?.status;

  before(async () => {
    // Two token replicas: each policy reaction is recorded once, whichever replica handles it.
    stack = await startStack({ admin: true, tokenReplicas: 2, serviceEnv: { token: { INTROSPECTION_CREDENTIALS: `${INTROSPECTION.id}:${INTROSPECTION.secret}` } } });
  });
  after(() => stack?.stop());

  test('RFC 7592 DELETE: the tokens are refused at once, and the same client registered again has no consent and no live grant', async () => {
    const alice = new BrowserlessUser(stack.urls.issuer, 'alice', 'password123');
    const metadata = { client_name: 'Deleted By Itself' };
    const client = await registerPublicClient(stack.urls, metadata);
    const tokens = await obtainTokens(stack.urls, alice, client);
    assert.equal(alice.consentPagesAnswered, 1);
    assert.equal((await mcpCall(stack.urls.mcp, tokens.access_token)).status, 200);

    const deleted = await http(client.registration_client_uri, { method: 'DELETE', headers: { Authorization: `Bearer ${client.registration_access_token}` } });
    assert.equal(deleted.status, 204);
    const refused = await eventually(() => mcpCall(stack.urls.mcp, tokens.access_token), (res) => res.status === 401, 2_000);
    assert.equal(refused.status, 401, 'the MCP server refuses the deleted client\'s access token within 2 s');
    assert.deepEqual((await introspect(tokens.access_token)).json, { active: false });
    assert.deepEqual((await introspect(tokens.refresh_token)).json, { active: false });
    assert.notEqual((await refresh(client, tokens.refresh_token)).status, 200, 'its refresh token is refused');

    const again = await registerPublicClient(stack.urls, metadata);
    assert.equal(again.client_id, client.client_id, 'the same metadata gets the same client id back');
    const stale = await refresh(again, tokens.refresh_token);
    assert.equal(stale.status, 400);
    assert.equal(stale.json?.error, 'invalid_grant', 'the refresh token of before the deletion stays dead');
    assert.equal((await mcpCall(stack.urls.mcp, tokens.access_token)).status, 401);
    assert.deepEqual((await introspect(tokens.access_token)).json, { active: false });

    const fresh = await obtainTokens(stack.urls, alice, again);
    assert.equal(alice.consentPagesAnswered, 2, 'the consent page is shown again');
    assert.equal((await mcpCall(stack.urls.mcp, fresh.access_token)).status, 200, 'the new registration works');

    const entries = await recordedWithin(client.client_id, (e) => revocationsOf(e, 'GrantRevoked', 'client_deleted').length > 0 && revocationsOf(e, 'ConsentRevoked', 'client_deleted').length > 0);
    assert.equal(revocationsOf(entries, 'GrantRevoked', 'client_deleted').length, 1, 'the grant is revoked in the log, once');
    assert.equal(revocationsOf(entries, 'ConsentRevoked', 'client_deleted').length, 1, 'the consent is revoked in the log, once');
    assert.deepEqual(revocationsOf(entries, 'GrantRevoked', 'client_deleted')[0]!.actor, { kind: 'system', id: 'token-policies' });
    assert.deepEqual(revocationsOf(entries, 'ConsentRevoked', 'client_deleted')[0]!.actor, { kind: 'system', id: 'authorization-policies' });
    // The new registration's grant is not touched by the deletion before it.
    assert.equal((await mcpCall(stack.urls.mcp, fresh.access_token)).status, 200);
    assert.equal((await refresh(again, fresh.refresh_token)).status, 200);
  });

  test('an admin deletes a client: ClientDeleted, GrantRevoked and ConsentRevoked are recorded, and the client registered again asks for consent', async () => {
    const alice = new BrowserlessUser(stack.urls.issuer, 'alice', 'password123');
    const metadata = { client_name: 'Deleted By Admin' };
    const client = await registerPublicClient(stack.urls, metadata);
    const tokens = await obtainTokens(stack.urls, alice, client);

    assert.equal((await http(`${stack.urls.admin}/admin/api/clients/${client.client_id}`, { method: 'DELETE', headers: ADMIN })).status, 204);
    assert.equal(await clientStatus(client.client_id), 'deleted');
    assert.equal((await eventually(() => mcpCall(stack.urls.mcp, tokens.access_token), (res) => res.status === 401, 2_000)).status, 401);

    const entries = await recordedWithin(client.client_id, (e) => revocationsOf(e, 'GrantRevoked', 'client_deleted').length > 0 && revocationsOf(e, 'ConsentRevoked', 'client_deleted').length > 0);
    const deletion = entries.find((e) => e.type === 'ClientDeleted');
    assert.deepEqual(deletion?.actor, { kind: 'admin', id: 'admin' }, 'the registration service records who asked');
    assert.equal(revocationsOf(entries, 'GrantRevoked', 'client_deleted').length, 1);
    assert.equal(revocationsOf(entries, 'ConsentRevoked', 'client_deleted').length, 1);

    const again = await registerPublicClient(stack.urls, metadata);
    assert.equal(again.client_id, client.client_id);
    await obtainTokens(stack.urls, alice, again);
    assert.equal(alice.consentPagesAnswered, 2, 'the consent given before the deletion is gone');
  });

  test('an admin revokes a grant: the consent ends with it, /account no longer lists the app, and the same client asks for consent again', async () => {
    const alice = new BrowserlessUser(stack.urls.issuer, 'alice', 'password123');
    const account = new AccountSession(stack.urls.issuer, 'alice', 'password123');
    const client = await registerPublicClient(stack.urls, { client_name: 'Revoked By Admin' });
    const tokens = await obtainTokens(stack.urls, alice, client);
    assert.ok((await account.connectedApps()).includes(client.client_id));

    // The admin service's projection shows the grant a moment after the token service made it.
    const grants = await eventually(() => http(`${stack.urls.admin}/admin/api/grants?client=${client.client_id}`, { headers: ADMIN }), (res) => res.json?.grants.length === 1);
    const [grant] = grants.json!.grants as Json[];
    const revoked = await http(`${stack.urls.admin}/admin/api/grants/${grant!.grant_id}/revoke`, { method: 'POST', headers: ADMIN });
    assert.equal(revoked.json?.outcome, 'revoked');

    const apps = await eventually(() => account.connectedApps(), (list) => !list.includes(client.client_id));
    assert.ok(!apps.includes(client.client_id), '/account no longer lists the app');
    assert.equal((await mcpCall(stack.urls.mcp, tokens.access_token)).status, 401);
    await obtainTokens(stack.urls, alice, client);
    assert.equal(alice.consentPagesAnswered, 2, 'the next authorization shows the consent page');

    const entries = await recordedWithin(client.client_id, (e) => revocationsOf(e, 'ConsentRevoked', 'revoked_by_admin').length > 0 && revocationsOf(e, 'GrantRevoked', 'revoked_by_admin').length > 0);
    assert.equal(revocationsOf(entries, 'GrantRevoked', 'revoked_by_admin').length, 1);
    assert.deepEqual(revocationsOf(entries, 'ConsentRevoked', 'revoked_by_admin')[0]!.actor, { kind: 'admin', id: 'admin' }, 'the authorization service records who asked');
    assert.deepEqual(revocationsOf(entries, 'GrantRevoked', 'revoked_by_admin')[0]!.actor, { kind: 'system', id: 'token-policies' });
    const consentRevoked = revocationsOf(entries, 'ConsentRevoked', 'revoked_by_admin');
    assert.equal(consentRevoked.length, 1);
    assert.equal(consentRevoked[0]!.details.consent_id, revocationsOf(entries, 'GrantRevoked', 'revoked_by_admin')[0]!.details.consent_id);
  });

  test('a user revokes an app on /account: ConsentRevoked and GrantRevoked (revoked_by_user) are recorded', async () => {
    const alice = new BrowserlessUser(stack.urls.issuer, 'alice', 'password123');
    const account = new AccountSession(stack.urls.issuer, 'alice', 'password123');
    const client = await registerPublicClient(stack.urls, { client_name: 'Revoked By User' });
    const tokens = await obtainTokens(stack.urls, alice, client);
    await account.revokeApp(client.client_id);
    assert.equal((await mcpCall(stack.urls.mcp, tokens.access_token)).status, 401, 'refused at once');

    const entries = await recordedWithin(client.client_id, (e) => revocationsOf(e, 'GrantRevoked', 'revoked_by_user').length > 0);
    const grantRevoked = revocationsOf(entries, 'GrantRevoked', 'revoked_by_user');
    assert.equal(grantRevoked.length, 1, 'an audit query for revoked grants finds the user\'s revocation');
    assert.equal(grantRevoked[0]!.user_id, entries.find((e) => e.type === 'ConsentRevoked')?.actor.id);
    assert.equal(revocationsOf(entries, 'ConsentRevoked', 'revoked_by_user').length, 1);
  });

  test('a client revoking its own refresh token (RFC 7009) ends the grant but not the user\'s consent', async () => {
    const alice = new BrowserlessUser(stack.urls.issuer, 'alice', 'password123');
    const client = await registerPublicClient(stack.urls, { client_name: 'Signs Itself Out' });
    const tokens = await obtainTokens(stack.urls, alice, client);
    const res = await http(`${stack.urls.token}/revoke`, { method: 'POST', form: { token: tokens.refresh_token, client_id: client.client_id } });
    assert.equal(res.status, 200);
    assert.equal((await refresh(client, tokens.refresh_token)).status, 400);
    await obtainTokens(stack.urls, alice, client);
    assert.equal(alice.consentPagesAnswered, 1, 'the consent is still remembered');
    const entries = await recordedWithin(client.client_id, (e) => revocationsOf(e, 'GrantRevoked', 'revoked_by_client').length > 0);
    await sleep(300); // time for a policy to record what it would
    assert.equal(revocationsOf(entries, 'GrantRevoked', 'revoked_by_client').length, 1);
    assert.equal((await trail(client.client_id)).filter((e) => e.type === 'ConsentRevoked').length, 0);
  });

  test('a policy handed every event again (its durable consumer made anew) records nothing twice', async () => {
    const count = async () => {
      const res = await http(`${stack.urls.admin}/admin/api/audit/export?type=GrantRevoked,ConsentRevoked`, { headers: ADMIN });
      return res.text.split('\n').filter(Boolean).length;
    };
    const before = await count();
    assert.ok(before >= 8);
    // Durable consumers are their owners' and the operator's to delete.
    const nc = await connect({ servers: stack.nats.url, ...natsClientOptions(natsAccessOf(stack.nats, 'operator')) });
    try {
      const jsm = await jetstreamManager(nc);
      for (const name of ['token-policies', 'authorization-policies']) await jsm.consumers.delete(STREAM_NAME, name);
      // The replicas make them again from the first event and go through the whole stream.
      const drained = async () => {
        const infos = await Promise.all(['token-policies', 'authorization-policies'].map((name) => jsm.consumers.info(STREAM_NAME, name).catch(() => null)));
        return infos.every((info) => info !== null && info.num_pending === 0 && info.num_ack_pending === 0 && info.delivered.stream_seq > 0);
      };
      assert.ok(await eventually(drained, Boolean, 15_000), 'the policies went through the stream again');
    } finally {
      await nc.close();
    }
    await sleep(300);
    assert.equal(await count(), before);
  });
});

describe('the admin service asks the owning services, and writes nothing of theirs', () => {
  let stack: TestStack;
  before(async () => {
    stack = await startStack({ admin: true, mcpReplicas: 0 });
  });
  after(() => stack?.stop());

  test('with the registration or authorization service down, deleting a client or revoking a grant is 503 with Retry-After, and nothing is recorded', async () => {
    const alice = new BrowserlessUser(stack.urls.issuer, 'alice', 'password123');
    const client = await registerPublicClient(stack.urls, { client_name: 'Owner Away' });
    await obtainTokens(stack.urls, alice, client);
    const admin = `${stack.urls.admin}/admin/api`;
    const listed = await eventually(() => http(`${admin}/grants?client=${client.client_id}`, { headers: ADMIN }), (res) => res.json?.grants.length === 1);
    const [grant] = listed.json!.grants as Json[];

    await stack.registration.stop();
    const deletion = await http(`${admin}/clients/${client.client_id}`, { method: 'DELETE', headers: ADMIN });
    assert.equal(deletion.status, 503);
    assert.ok(Number(deletion.headers.get('retry-after')) > 0);

    await stack.authorization.stop();
    const revocation = await http(`${admin}/grants/${grant!.grant_id}/revoke`, { method: 'POST', headers: ADMIN });
    assert.equal(revocation.status, 503);
    assert.ok(Number(revocation.headers.get('retry-after')) > 0);

    const detail = await http(`${admin}/clients/${client.client_id}`, { headers: ADMIN });
    assert.equal(detail.json?.status, 'active');
    assert.equal(detail.json?.grants[0].state, 'live');
    const trail = await http(`${admin}/audit/export?client=${client.client_id}&type=ClientDeleted,GrantRevoked,ConsentRevoked`, { headers: ADMIN });
    assert.equal(trail.text.trim(), '', 'the admin service recorded neither itself');
  });
});
