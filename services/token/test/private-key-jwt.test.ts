import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { SignJWT, UnsecuredJWT, exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose';
import { subjects } from '@mcp-auth/contracts';
import { EventStore } from '@mcp-auth/event-store';
import { CLIENT_ASSERTION_TYPE, assertionReplayKey } from '@mcp-auth/oauth';
import { BrowserlessUser, authorizationUrl, http, natsAccessOf, pkcePair, startStack, type HttpAnswer, type Json, type ServiceProcess, type TestStack } from '@mcp-auth/testing';

/** private_key_jwt (RFC 7523) for registered clients, on real processes: two token replicas on one NATS. */
describe('private_key_jwt client authentication', () => {
  let stack: TestStack;
  let alice: BrowserlessUser;
  let replicas: string[];
  let strictRegistration: ServiceProcess;
  let keyServer: Server;
  let served: { keys: JWK[] } = { keys: [] };
  let store: EventStore;
  const REDIRECT = 'http://127.0.0.1:8976/callback';

  before(async () => {
    stack = await startStack({
      tokenReplicas: 2,
      mcpReplicas: 0,
      serviceEnv: {
        registration: { CLIENT_METADATA_ALLOW_PRIVATE_TARGETS: 'true' },
        token: { CLIENT_METADATA_ALLOW_PRIVATE_TARGETS: 'true', CLIENT_KEYS_CACHE_MIN_SECONDS: '1' },
      },
    });
    replicas = stack.tokens.map((t) => t.url);
    strictRegistration = await stack.addReplica('registration', { CLIENT_METADATA_ALLOW_PRIVATE_TARGETS: 'false' });
    alice = new BrowserlessUser(stack.urls.issuer, 'alice', 'password123');
    keyServer = createServer((req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'max-age=3600' });
      res.end(JSON.stringify(served));
    });
    await new Promise<void>((resolve) => keyServer.listen(0, '127.0.0.1', resolve));
    store = await EventStore.connect({ servers: stack.nats.url, connectionName: 'private-key-jwt-test', ...natsAccessOf(stack.nats, 'operator') });
  });

  after(async () => {
    await store?.close();
    await new Promise((resolve) => keyServer?.close(resolve));
    for (const token of stack?.tokens ?? []) assert.ok(!/unhandled error/.test(token.output()), token.output().slice(-2000));
    await stack?.stop();
  });

  type Signer = { key: CryptoKey; kid: string; alg: string };

  async function signer(alg = 'ES256'): Promise<Signer & { publicJwk: JWK }> {
    const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
    const kid = randomUUID();
    return { key: privateKey, kid, alg, publicJwk: { ...(await exportJWK(publicKey)), kid, alg } };
  }

  async function assertion(clientId: string, s: Signer, claims: { aud?: string | string[]; exp?: number; jti?: string } = {}): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ jti: claims.jti ?? randomUUID() })
      .setProtectedHeader({ alg: s.alg, kid: s.kid })
      .setIssuer(clientId)
      .setSubject(clientId)
      .setAudience(claims.aud ?? `${stack.urls.token}/token`)
      .setIssuedAt(now)
      .setExpirationTime(claims.exp ?? now + 60)
      .sign(s.key);
  }

  async function register(body: Json, registration = stack.urls.registration): Promise<HttpAnswer> {
    return http(`${registration}/register`, {
      method: 'POST',
      json: { client_name: 'Keyed agent', redirect_uris: [REDIRECT], grant_types: ['authorization_code', 'refresh_token'], token_endpoint_auth_method: 'private_key_jwt', ...body },
    });
  }

  async function code(clientId: string): Promise<{ code: string; verifier: string }> {
    const { verifier, challenge } = pkcePair();
    const query = await alice.authorize(authorizationUrl(stack.urls.issuer, { clientId, redirectUri: REDIRECT, challenge, resource: stack.urls.resource, scope: 'profile notes:read' }));
    const value = query.get('code');
    assert.ok(value, `authorization failed: ${query}`);
    return { code: value, verifier };
  }

  function exchange(base: string, clientId: string, a: { code: string; verifier: string }, clientAssertion: string, extra: Record<string, string> = {}) {
    return http(`${base}/token`, {
      method: 'POST',
      form: { grant_type: 'authorization_code', code: a.code, redirect_uri: REDIRECT, code_verifier: a.verifier, resource: stack.urls.resource, client_assertion_type: CLIENT_ASSERTION_TYPE, client_assertion: clientAssertion, ...extra },
    });
  }

  function refresh(base: string, refreshToken: string, clientAssertion: string, extra: Record<string, string> = {}) {
    return http(`${base}/token`, {
      method: 'POST',
      form: { grant_type: 'refresh_token', refresh_token: refreshToken, client_assertion_type: CLIENT_ASSERTION_TYPE, client_assertion: clientAssertion, ...extra },
    });
  }

  function assertInvalidClient(res: HttpAnswer, what: string): void {
    assert.equal(res.status, 401, `${what}: ${res.text}`);
    assert.equal(res.json?.error, 'invalid_client', `${what}: ${res.text}`);
  }

  test('a client registering inline keys gets no secret, obtains tokens with a signed assertion, and the assertion is used once', async () => {
    const s = await signer();
    const registered = await register({ jwks: { keys: [s.publicJwk] } });
    assert.equal(registered.status, 201, registered.text);
    const client = registered.json!;
    assert.equal(client.token_endpoint_auth_method, 'private_key_jwt');
    assert.equal(client.client_secret, undefined, 'no shared secret');
    assert.equal(client.client_secret_expires_at, undefined);
    assert.deepEqual(client.jwks, { keys: [s.publicJwk] });

    const first = await assertion(client.client_id, s);
    const tokens = await exchange(replicas[0]!, client.client_id, await code(client.client_id), first, { client_id: client.client_id });
    assert.equal(tokens.status, 200, tokens.text);
    assert.equal(tokens.json!.scope, 'profile notes:read');

    // Its single use is an event on the replay key's subject.
    const used = await store.last(subjects.clientAssertion(assertionReplayKey(client.client_id, JSON.parse(Buffer.from(first.split('.')[1]!, 'base64url').toString()).jti)));
    assert.ok(used && used.outcome.kind === 'event' && used.outcome.event.type === 'ClientAssertionUsed', 'ClientAssertionUsed recorded');

    // The same assertion again, on either replica: refused.
    for (const base of replicas) assertInvalidClient(await refresh(base, tokens.json!.refresh_token, first), `replay on ${base}`);
    // A fresh one works, on the other replica, with aud = the issuer.
    const next = await refresh(replicas[1]!, tokens.json!.refresh_token, await assertion(client.client_id, s, { aud: stack.urls.issuer }));
    assert.equal(next.status, 200, next.text);

    // Every other failure is invalid_client too.
    const now = Math.floor(Date.now() / 1000);
    const hmac = await new SignJWT({ jti: randomUUID() }).setProtectedHeader({ alg: 'HS256' }).setIssuer(client.client_id).setSubject(client.client_id).setAudience(`${stack.urls.token}/token`).setExpirationTime(now + 60).sign(new TextEncoder().encode(JSON.stringify(s.publicJwk)));
    const unsigned = new UnsecuredJWT({ jti: randomUUID() }).setIssuer(client.client_id).setSubject(client.client_id).setAudience(`${stack.urls.token}/token`).setExpirationTime(now + 60).encode();
    const stranger = await signer();
    const cases: Array<[string, string, Record<string, string>?]> = [
      ['a wrong audience', await assertion(client.client_id, s, { aud: 'https://elsewhere.example/token' })],
      ['an expired assertion', await assertion(client.client_id, s, { exp: now - 120 })],
      ['one living too long', await assertion(client.client_id, s, { exp: now + 3600 })],
      ['alg none', unsigned],
      ['HMAC keyed with the public key', hmac],
      ['another key', await assertion(client.client_id, { ...stranger, kid: s.kid })],
      ['a client_id other than the assertion\'s subject', await assertion(client.client_id, s), { client_id: 'someone-else' }],
      ['a wrong client_assertion_type', await assertion(client.client_id, s), { client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:saml2-bearer' }],
      ['garbage', 'not.a.jwt'],
    ];
    for (const [what, value, extra] of cases) assertInvalidClient(await refresh(replicas[0]!, next.json!.refresh_token, value, extra), what);
    const both = await http(`${replicas[0]}/token`, {
      method: 'POST',
      form: { grant_type: 'refresh_token', refresh_token: next.json!.refresh_token, client_assertion_type: CLIENT_ASSERTION_TYPE, client_assertion: await assertion(client.client_id, s), client_secret: 'x' },
    });
    assert.equal(both.status, 400, 'two methods at once');
    // None of these spent the refresh token.
    assert.equal((await refresh(replicas[0]!, next.json!.refresh_token, await assertion(client.client_id, s))).status, 200);
  });

  test('one assertion sent to two token replicas at once: exactly one succeeds', async () => {
    const s = await signer('EdDSA');
    const client = (await register({ jwks: { keys: [s.publicJwk] } })).json!;
    for (let round = 0; round < 5; round++) {
      const a = await code(client.client_id);
      const shared = await assertion(client.client_id, s);
      const answers = await Promise.all(replicas.map((base) => exchange(base, client.client_id, a, shared)));
      assert.deepEqual(answers.map((r) => r.status).sort(), [200, 401], answers.map((r) => r.text).join('\n'));
      assert.equal(answers.find((r) => r.status === 401)!.json!.error, 'invalid_client');
    }
  });

  test('jwks_uri: fetched from a loopback server only with the development flag; a rotated key is found by one early refetch', async () => {
    const jwksUri = `http://127.0.0.1:${(keyServer.address() as AddressInfo).port}/jwks.json`;
    const refused = await register({ jwks_uri: jwksUri }, strictRegistration.url);
    assert.equal(refused.status, 400, refused.text);
    assert.equal(refused.json!.error, 'invalid_client_metadata');
    const privateHost = await register({ jwks_uri: 'https://10.0.0.1/jwks.json' }, strictRegistration.url);
    assert.equal(privateHost.status, 400, `a private address over https is refused too: ${privateHost.text}`);

    const s = await signer('RS256');
    served = { keys: [s.publicJwk] };
    const registered = await register({ jwks_uri: jwksUri, token_endpoint_auth_signing_alg: 'RS256' });
    assert.equal(registered.status, 201, registered.text);
    const client = registered.json!;
    const tokens = await exchange(replicas[0]!, client.client_id, await code(client.client_id), await assertion(client.client_id, s));
    assert.equal(tokens.status, 200, tokens.text);

    // The client rotates its key; the cached set (max-age=3600) lacks it, so the replica fetches once more.
    const rotated = await signer('RS256');
    served = { keys: [rotated.publicJwk] };
    await sleep(1_100);
    const after = await refresh(replicas[0]!, tokens.json!.refresh_token, await assertion(client.client_id, rotated));
    assert.equal(after.status, 200, after.text);
    // An algorithm other than the one it registered is refused, even with a key that verifies.
    const es = await signer('ES256');
    served = { keys: [rotated.publicJwk, es.publicJwk] };
    await sleep(1_100);
    assertInvalidClient(await refresh(replicas[0]!, after.json!.refresh_token, await assertion(client.client_id, es)), 'another algorithm');
  });
});
