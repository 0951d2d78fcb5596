import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { BrowserlessUser, http, obtainTokens, registerPublicClient, startNats, startStack, waitUntilAnswers, type HttpAnswer, type Json, type NatsHandle, type TestStack } from '@mcp-auth/testing';

/**
 * The stream goes backwards under running services: nats-server is stopped, an earlier copy of its store is put
 * back, and it starts again, as after a crash that lost acknowledged writes. Every service must notice and
 * rebuild; credentials minted after the copy are then unknown (invalid_grant, never an endless 503); and a
 * revocation written afterwards, at a position the services had already passed before, reaches every replica.
 */

const RS = { id: 'resource-server', secret: 'resource-server-secret-0123456789' };
const callEcho = { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', arguments: { message: 'x' } } };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('NATS restarted from an earlier copy of its store, under running services (two token and two MCP replicas)', () => {
  let nats: NatsHandle;
  let stack: TestStack;
  let client: Json;
  let alice: BrowserlessUser;

  const mcpCall = (mcpUrl: string, accessToken: string) =>
    http(mcpUrl, { method: 'POST', headers: { Authorization: `Bearer ${accessToken}`, Accept: 'application/json, text/event-stream' }, json: callEcho });
  const refresh = (tokenUrl: string, refreshToken: string) => http(`${tokenUrl}/token`, { method: 'POST', form: { grant_type: 'refresh_token', refresh_token: refreshToken, client_id: client.client_id } });
  const introspect = (tokenUrl: string, token: string) =>
    http(`${tokenUrl}/introspect`, { method: 'POST', headers: { Authorization: `Basic ${Buffer.from(`${RS.id}:${RS.secret}`).toString('base64')}` }, form: { token } });
  const everyService = () => [stack.registration, stack.authorization, ...stack.tokens, ...stack.mcp, stack.admin!];
  const mcpUrls = () => stack.mcp.map((m) => `${m.url}/mcp`);

  before(async () => {
    nats = await startNats({ restartable: true });
    stack = await startStack({ nats, tokenReplicas: 2, mcpReplicas: 2, admin: true, startTimeoutMs: 60_000, serviceEnv: { token: { INTROSPECTION_CREDENTIALS: `${RS.id}:${RS.secret}` } } });
    client = await registerPublicClient(stack.urls, { client_name: 'backward-log agent' });
    alice = new BrowserlessUser(stack.urls.issuer, 'alice', 'password123');
  });
  after(async () => {
    await stack?.stop();
    await nats?.stop();
  });

  test('every service rebuilds; what was minted after the copy is invalid_grant; a revocation written afterwards is honoured by every replica', async (t) => {
    // Two agents before the copy: one will refresh after it (its credentials then lost), one will not.
    const lostAgent = await obtainTokens(stack.urls, alice, client);
    const keptAgent = await obtainTokens(stack.urls, alice, client);
    const copy = await nats.copyStore();
    for (const service of everyService()) await waitUntilAnswers(`${service.url}/readyz`, 20_000);

    // After the copy: a client every service projects, then rotations and tool calls; the stream will lose them all.
    const lostClient = await registerPublicClient(stack.urls, { client_name: 'registered after the copy' });
    let lost = lostAgent;
    for (let i = 0; i < 8; i++) {
      const answer = await refresh(stack.tokens[i % 2]!.url, lost.refresh_token);
      assert.equal(answer.status, 200, answer.text);
      lost = answer.json!;
      assert.equal((await mcpCall(mcpUrls()[i % 2]!, lost.access_token)).status, 200);
    }

    await nats.restoreStore(copy);
    const restoredAt = Date.now();
    for (const service of everyService()) {
      await eventually(`${service.name} on port ${service.port} rebuilds`, () => /rebuilding the projection from sequence 1: the stream ends at \d+, before this projection's checkpoint/.test(service.output()), 20_000);
      await waitUntilAnswers(`${service.url}/readyz`, 20_000);
    }
    t.diagnostic(`every service rebuilt and was ready ${Date.now() - restoredAt} ms after the restart`);

    // A refresh token the stream no longer has is refused as unknown on every replica (the agent signs in again),
    // at once rather than with 503s. (Its access token, a signed token of a grant that is still alive, is honoured
    // until it expires, as any other token of that grant.)
    for (const token of stack.tokens) {
      const answer = await patiently(() => refresh(token.url, lost.refresh_token));
      assert.equal(answer.status, 400, `${token.url}: ${answer.status} ${answer.text}`);
      assert.equal(answer.json!.error, 'invalid_grant');
      assert.deepEqual((await introspect(token.url, lost.refresh_token)).json, { active: false });
    }
    const readLostClient = await http(`${stack.urls.registration}/register/${lostClient.client_id}`, { headers: { Authorization: `Bearer ${lostClient.registration_access_token}` } });
    assert.equal(readLostClient.status, 401, 'the client registered after the copy is unknown');

    // The grant from before the copy is alive on every replica; revoked now, at a position every projection had
    // already passed before the restore, it is refused everywhere.
    for (const mcp of mcpUrls()) assert.equal((await mcpCall(mcp, keptAgent.access_token)).status, 200, `${mcp} honours the kept grant`);
    const revoked = await http(`${stack.tokens[0]!.url}/revoke`, { method: 'POST', form: { token: keptAgent.refresh_token, client_id: client.client_id } });
    assert.equal(revoked.status, 200);
    const revokedAt = Date.now();
    for (const mcp of mcpUrls()) await eventually(`${mcp} refuses the revoked grant`, async () => (await mcpCall(mcp, keptAgent.access_token)).status === 401, 2_000 - (Date.now() - revokedAt));
    for (const token of stack.tokens) {
      await eventually(`introspection at ${token.url} says inactive`, async () => (await introspect(token.url, keptAgent.access_token)).json?.active === false, 2_000);
    }
    t.diagnostic(`the revocation was honoured by every replica ${Date.now() - revokedAt} ms after /revoke answered`);
  });

  test('a token replica whose signing key the stream lost publishes a new one, and what it signs is accepted again', async () => {
    const agent = await obtainTokens(stack.urls, alice, client);
    const copy = await nats.copyStore();
    for (const service of everyService()) await waitUntilAnswers(`${service.url}/readyz`, 20_000);
    // A replica started after the copy: its key's event is among what the stream will lose.
    const late = await stack.addReplica('token', { INTROSPECTION_CREDENTIALS: `${RS.id}:${RS.secret}` });
    const signedBefore = await refresh(late.url, agent.refresh_token);
    assert.equal(signedBefore.status, 200, signedBefore.text);
    const lostKid = kidOf(signedBefore.json!.access_token);
    for (const mcp of mcpUrls()) assert.equal((await mcpCall(mcp, signedBefore.json!.access_token)).status, 200);

    await nats.restoreStore(copy);
    await eventually('the late replica has published a new key', () => late.output().includes("the stream lost this replica's signing key; published a new one"), 20_000);
    await waitUntilAnswers(`${late.url}/readyz`, 20_000);
    // The rotation after the copy is lost too: the agent's refresh token from before it works again.
    const signedAfter = await patiently(() => refresh(late.url, agent.refresh_token));
    assert.equal(signedAfter.status, 200, signedAfter.text);
    assert.notEqual(kidOf(signedAfter.json!.access_token), lostKid, 'signed with a new key');
    for (const mcp of mcpUrls()) {
      await eventually(`${mcp} accepts a token of the new key`, async () => (await mcpCall(mcp, signedAfter.json!.access_token)).status === 200, 5_000);
    }
  });
});

function kidOf(jwt: string): string {
  return JSON.parse(Buffer.from(jwt.split('.')[0]!, 'base64url').toString('utf8')).kid;
}

/** Retries while the answer is a 503 (a replica rebuilding), for a bounded time; any other answer is returned. */
async function patiently(request: () => Promise<HttpAnswer>, timeoutMs = 10_000): Promise<HttpAnswer> {
  const deadline = Date.now() + timeoutMs;
  let answer = await request();
  while (answer.status === 503 && Date.now() < deadline) {
    await sleep(100);
    answer = await request();
  }
  return answer;
}

async function eventually(what: string, check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + Math.max(0, timeoutMs);
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`${what}: not within ${timeoutMs} ms`);
    await sleep(10);
  }
}
