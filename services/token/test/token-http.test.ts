import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import {
  AccountSession,
  BrowserlessUser,
  authorizationUrl,
  http,
  pkcePair,
  registerPublicClient,
  startStack,
  type HttpAnswer,
  type Json,
  type TestStack,
  type ServiceProcess,
} from '@mcp-auth/testing';

const ACCESS_TTL = 300;
const RS = { id: 'rs-notes', secret: 'rs-secret-0123456789abcdef' };
const STACK_TRACE = /\n\s+at [^\n]*[(/]|node_modules\/|\.ts:\d+:\d+/;

let stack: TestStack;
let alice: BrowserlessUser;

/** Every answer of the token service: never a 5xx, never a stack trace, never cached. */
function sane(res: HttpAnswer, what: string): HttpAnswer {
  assert.ok(res.status < 500, `${what}: ${res.status} ${res.text.slice(0, 300)}`);
  assert.ok(!STACK_TRACE.test(res.text), `${what}: stack trace in ${res.text.slice(0, 500)}`);
  return res;
}

function basic(id: string, secret: string): Record<string, string> {
  return { Authorization: `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}` };
}

async function post(path: string, form: Record<string, string>, { headers = {}, base = stack.urls.token }: { headers?: Record<string, string>; base?: string } = {}) {
  return sane(await http(`${base}${path}`, { method: 'POST', form, headers }), `POST ${path}`);
}

const tokenRequest = (form: Record<string, string>, options?: { headers?: Record<string, string>; base?: string }) => post('/token', form, options);
const introspect = (token: string, credentials = RS, base?: string) => post('/introspect', { token }, { headers: basic(credentials.id, credentials.secret), ...(base ? { base } : {}) });

/** An OAuth error answer (RFC 6749 §5.2): the exact status and error code, JSON, not cached. */
function assertError(res: HttpAnswer, status: number, error: string, what: string): void {
  assert.equal(res.status, status, `${what}: ${res.text}`);
  assert.equal(res.json?.error, error, `${what}: ${res.text}`);
  assert.equal(typeof res.json?.error_description, 'string', what);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/, what);
}

type Authorized = { code: string; verifier: string; redirectUri: string; client: Json };

/** Walks /authorize through the real sign-in and consent forms and returns the code with its PKCE verifier. */
async function authorize(client: Json, { user = alice, scope, issuer = stack.urls.issuer }: { user?: BrowserlessUser; scope?: string; issuer?: string } = {}): Promise<Authorized> {
  const { verifier, challenge } = pkcePair();
  const redirectUri = client.redirect_uris[0] as string;
  const query = await user.authorize(authorizationUrl(issuer, { clientId: client.client_id, redirectUri, challenge, resource: stack.urls.resource, ...(scope ? { scope } : {}) }));
  const code = query.get('code');
  assert.ok(code, `authorization failed: ${query}`);
  return { code, verifier, redirectUri, client };
}

function codeForm(a: Authorized, overrides: Record<string, string | undefined> = {}): Record<string, string> {
  const form: Record<string, string | undefined> = {
    grant_type: 'authorization_code',
    code: a.code,
    redirect_uri: a.redirectUri,
    code_verifier: a.verifier,
    client_id: a.client.client_id,
    resource: stack.urls.resource,
    ...overrides,
  };
  return Object.fromEntries(Object.entries(form).filter((e): e is [string, string] => e[1] !== undefined));
}

/** A public client's whole flow: authorize, then exchange the code. */
async function obtain(client: Json, options: { scope?: string; user?: BrowserlessUser; base?: string } = {}): Promise<Json> {
  const a = await authorize(client, options);
  const res = await tokenRequest(codeForm(a), options.base ? { base: options.base } : {});
  assert.equal(res.status, 200, res.text);
  return res.json!;
}

function refresh(client: Json, refreshToken: string, extra: Record<string, string> = {}, base?: string) {
  return tokenRequest({ grant_type: 'refresh_token', refresh_token: refreshToken, client_id: client.client_id, ...extra }, base ? { base } : {});
}

function revoke(client: Json, token: string, extra: Record<string, string> = {}) {
  return post('/revoke', { token, client_id: client.client_id, ...extra });
}

const newClient = (overrides: Json = {}) => registerPublicClient(stack.urls, overrides);

describe('token service over HTTP (real processes on one real NATS)', () => {
  /** A second authorization service whose codes live one second, and a token replica whose access tokens live two. */
  let shortCodes: ServiceProcess;
  let shortTokens: ServiceProcess;

  before(async () => {
    stack = await startStack({
      serviceEnv: { token: { ACCESS_TOKEN_TTL_SECONDS: String(ACCESS_TTL), INTROSPECTION_CREDENTIALS: `${RS.id}:${RS.secret},other-rs:other-secret-0123456789` } },
      mcpReplicas: 0,
      // Also a rotation period longer than a Node timer can hold (2^31 ms ≈ 24.8 days).
      extraTokens: [{ ACCESS_TOKEN_TTL_SECONDS: '2', INTROSPECTION_CREDENTIALS: `${RS.id}:${RS.secret}`, SIGNING_KEY_ROTATION_HOURS: '1000' }],
      extraAuthorizations: [{ AUTHORIZATION_CODE_TTL_SECONDS: '1' }],
    });
    shortTokens = stack.tokens[1]!;
    shortCodes = stack.extraAuthorizations[0]!;
    alice = new BrowserlessUser(stack.urls.issuer, 'alice', 'password123');
  });
  after(async () => {
    await stack?.stop();
  });

  describe('/token refuses with the exact RFC 6749 error', () => {
    test('missing or unknown grant_type', async () => {
      const client = await newClient();
      assertError(await tokenRequest({ client_id: client.client_id }), 400, 'invalid_request', 'no grant_type');
      assertError(await tokenRequest({ grant_type: '', client_id: client.client_id }), 400, 'invalid_request', 'empty grant_type');
      for (const grantType of ['password', 'client_credentials', 'implicit', 'urn:ietf:params:oauth:grant-type:device_code', 'toString', '__proto__', 'x'.repeat(5000)]) {
        assertError(await tokenRequest({ grant_type: grantType, client_id: client.client_id }), 400, 'unsupported_grant_type', grantType.slice(0, 40));
      }
    });

    test('malformed bodies are invalid_request, never a 5xx', async () => {
      const client = await newClient();
      const raw = async (body: string | undefined, contentType: string | null, what: string) => {
        const headers: Record<string, string> = contentType ? { 'Content-Type': contentType } : {};
        return sane(await http(`${stack.urls.token}/token`, { method: 'POST', headers, ...(body !== undefined ? { body } : {}) }), what);
      };
      const form = new URLSearchParams({ grant_type: 'authorization_code', code: 'x', client_id: client.client_id });
      assertError(await raw(`${form}&code=y`, 'application/x-www-form-urlencoded', 'duplicate code'), 400, 'invalid_request', 'a parameter sent twice');
      assertError(await raw(`${form}&grant_type=refresh_token`, 'application/x-www-form-urlencoded', 'duplicate grant_type'), 400, 'invalid_request', 'grant_type sent twice');
      assertError(await raw(JSON.stringify(Object.fromEntries(form)), 'application/json', 'JSON'), 415, 'invalid_request', 'a JSON body');
      assertError(await raw(form.toString(), null, 'no content type'), 415, 'invalid_request', 'no content type');
      assertError(await raw(form.toString(), 'text/plain', 'text/plain'), 415, 'invalid_request', 'text/plain');
      assertError(await raw(undefined, 'application/x-www-form-urlencoded', 'empty'), 400, 'invalid_request', 'an empty body');
      assertError(await raw(`${form}&pad=${'a'.repeat(40_000)}`, 'application/x-www-form-urlencoded', 'huge'), 413, 'invalid_request', 'a body over the limit');
      assertError(await raw('%%%&&&==grant_type=%ZZ', 'application/x-www-form-urlencoded', 'garbage'), 400, 'invalid_request', 'garbage encoding');
      assertError(await tokenRequest({ grant_type: 'authorization_code', client_id: client.client_id }), 400, 'invalid_request', 'no code');
      assertError(await tokenRequest({ grant_type: 'refresh_token', client_id: client.client_id }), 400, 'invalid_request', 'no refresh_token');
      assertError(await tokenRequest({ grant_type: 'refresh_token', refresh_token: 'x', scope: 'a"b', client_id: client.client_id }), 400, 'invalid_scope', 'a malformed scope');
      const get = sane(await http(`${stack.urls.token}/token?grant_type=authorization_code`), 'GET /token');
      assert.equal(get.status, 405);
    });

    test('client authentication: unknown client, wrong secret, wrong method → 401 invalid_client (Basic challenge when Basic was used)', async () => {
      const pub = await newClient();
      const basicClient = await newClient({ token_endpoint_auth_method: 'client_secret_basic' });
      const postClient = await newClient({ token_endpoint_auth_method: 'client_secret_post' });
      assert.ok(basicClient.client_secret && postClient.client_secret, 'confidential clients get secrets');
      const form = { grant_type: 'authorization_code', code: `${randomBytes(32).toString('base64url')}.1`, redirect_uri: 'http://127.0.0.1:8976/callback', code_verifier: pkcePair().verifier };
      const challenge = (res: HttpAnswer) => res.headers.get('www-authenticate') ?? '';

      const cases: Array<[string, Record<string, string>, Record<string, string>, boolean]> = [
        ['no client at all', form, {}, false],
        ['an unknown public client_id', { ...form, client_id: 'no-such-client-0123456789' }, {}, false],
        ['a client_id that cannot be one', { ...form, client_id: 'a.b c' }, {}, false],
        ['Basic for an unknown client', form, basic('no-such-client-0123456789', 'secret'), true],
        ['Basic with the wrong secret', form, basic(basicClient.client_id, 'wrong-secret'), true],
        ['Basic with a secret one character off', form, basic(basicClient.client_id, basicClient.client_secret.slice(0, -1)), true],
        ['Basic without a colon', form, { Authorization: `Basic ${Buffer.from('nocolon').toString('base64')}` }, true],
        ['Basic with an empty secret', form, basic(basicClient.client_id, ''), true],
        ['an Authorization scheme other than Basic', { ...form, client_id: pub.client_id }, { Authorization: 'Bearer abc' }, true],
        ['client_secret_post with the wrong secret', { ...form, client_id: postClient.client_id, client_secret: 'wrong' }, {}, false],
        ['a client_secret_basic client using client_secret_post', { ...form, client_id: basicClient.client_id, client_secret: basicClient.client_secret }, {}, false],
        ['a client_secret_post client using Basic', form, basic(postClient.client_id, postClient.client_secret), true],
        ['a confidential client sending no secret', { ...form, client_id: basicClient.client_id }, {}, false],
        ['a public client sending a secret', { ...form, client_id: pub.client_id, client_secret: 'anything' }, {}, false],
        ['a public client using Basic', form, basic(pub.client_id, 'anything'), true],
      ];
      for (const [what, body, headers, usedBasic] of cases) {
        const res = await tokenRequest(body, { headers });
        assertError(res, 401, 'invalid_client', what);
        if (usedBasic) assert.match(challenge(res), /^Basic\b/, `${what}: WWW-Authenticate`);
        else assert.doesNotMatch(challenge(res), /^Basic\b/, `${what}: no Basic challenge when Basic was not used`);
      }
      assertError(
        await tokenRequest({ ...form, client_id: postClient.client_id, client_secret: postClient.client_secret }, { headers: basic(postClient.client_id, postClient.client_secret) }),
        400,
        'invalid_request',
        'two authentication methods at once',
      );
      assertError(await tokenRequest({ ...form, client_id: pub.client_id }, { headers: basic(basicClient.client_id, basicClient.client_secret) }), 400, 'invalid_request', 'client_id differing from Basic');
    });

    test('confidential clients succeed with their registered method only, and a refused attempt does not spend the code', async () => {
      for (const method of ['client_secret_basic', 'client_secret_post'] as const) {
        const client = await newClient({ token_endpoint_auth_method: method });
        const a = await authorize(client);
        const viaBasic = { form: codeForm(a, { client_id: undefined }), headers: basic(client.client_id, client.client_secret) };
        const viaPost = { form: codeForm(a, { client_secret: client.client_secret }), headers: {} };
        const [right, wrong] = method === 'client_secret_basic' ? [viaBasic, viaPost] : [viaPost, viaBasic];

        const refused = await tokenRequest(wrong.form, { headers: wrong.headers });
        assertError(refused, 401, 'invalid_client', `${method} client with the other method`);
        const ok = await tokenRequest(right.form, { headers: right.headers });
        assert.equal(ok.status, 200, `${method}: ${ok.text}`);
        assert.equal(decodeJwt(ok.json!.access_token).client_id, client.client_id);
        assert.ok(ok.json!.refresh_token);

        // The refresh grant authenticates the same way.
        const refreshForm = { grant_type: 'refresh_token', refresh_token: ok.json!.refresh_token as string };
        const wrongRefresh = method === 'client_secret_basic'
          ? await tokenRequest({ ...refreshForm, client_id: client.client_id, client_secret: client.client_secret })
          : await tokenRequest(refreshForm, { headers: basic(client.client_id, client.client_secret) });
        assertError(wrongRefresh, 401, 'invalid_client', `${method} refresh with the other method`);
        const rightRefresh = method === 'client_secret_basic'
          ? await tokenRequest(refreshForm, { headers: basic(client.client_id, client.client_secret) })
          : await tokenRequest({ ...refreshForm, client_id: client.client_id, client_secret: client.client_secret });
        assert.equal(rightRefresh.status, 200, rightRefresh.text);
      }
    });

    test('a client registered without the refresh_token grant gets no refresh token, and refresh_token is unauthorized_client', async () => {
      const client = await newClient({ grant_types: ['authorization_code'] });
      const tokens = await obtain(client);
      assert.equal(tokens.refresh_token, undefined);
      assert.ok(tokens.access_token);
      // Even with a real refresh token of another client's grant, the grant type itself is refused.
      const other = await obtain(await newClient());
      assertError(await refresh(client, other.refresh_token), 400, 'unauthorized_client', 'refresh by a client without the grant');
      assertError(await refresh(client, 'garbage'), 400, 'unauthorized_client', 'refresh by a client without the grant (garbage token)');
    });

    test('code exchange: PKCE, redirect_uri, client, garbage or made-up codes are invalid_grant; a foreign resource is invalid_target', async () => {
      const client = await newClient();
      const intruder = await newClient();
      const a = await authorize(client);
      const other = pkcePair();
      const cases: Array<[string, Record<string, string>, string]> = [
        ['a code_verifier that does not match', codeForm(a, { code_verifier: other.verifier }), 'invalid_grant'],
        ['no code_verifier', codeForm(a, { code_verifier: undefined }), 'invalid_grant'],
        ['a malformed code_verifier', codeForm(a, { code_verifier: 'short' }), 'invalid_grant'],
        ['the challenge sent as verifier', codeForm(a, { code_verifier: other.challenge }), 'invalid_grant'],
        ['another redirect_uri', codeForm(a, { redirect_uri: 'http://127.0.0.1:8976/other' }), 'invalid_grant'],
        ['no redirect_uri', codeForm(a, { redirect_uri: undefined }), 'invalid_grant'],
        ['the code of another client', codeForm(a, { client_id: intruder.client_id }), 'invalid_grant'],
        ['a garbage code', codeForm(a, { code: 'garbage' }), 'invalid_grant'],
        ['a code with no position', codeForm(a, { code: a.code.split('.')[0] }), 'invalid_grant'],
        ['a code with the right position and another secret', codeForm(a, { code: `${randomBytes(32).toString('base64url')}.${a.code.split('.')[1]}` }), 'invalid_grant'],
        ['a resource that was not authorized', codeForm(a, { resource: 'https://evil.example/mcp' }), 'invalid_target'],
        ['a resource that is not a URL', codeForm(a, { resource: 'mcp' }), 'invalid_target'],
      ];
      for (const [what, form, error] of cases) assertError(await tokenRequest(form), 400, error, what);

      // A position the stream never reached: refused at once, not after a wait and not as 503.
      for (const made of [`${randomBytes(32).toString('base64url')}.999999999`, `${a.code.split('.')[0]}.999999999999999`]) {
        const started = performance.now();
        const res = await tokenRequest(codeForm(a, { code: made }));
        const ms = performance.now() - started;
        assertError(res, 400, 'invalid_grant', 'a made-up position');
        assert.ok(ms < 1_000, `a made-up position took ${Math.round(ms)} ms`);
      }

      // None of those attempts spent the code: the legitimate exchange still works (the trailing-slash spelling of the resource is the same resource)…
      const ok = await tokenRequest(codeForm(a, { resource: `${stack.urls.resource}/` }));
      assert.equal(ok.status, 200, ok.text);
      assert.equal(decodeJwt(ok.json!.access_token).aud, stack.urls.resource);
      // …and the code is now spent.
      assertError(await tokenRequest(codeForm(a)), 400, 'invalid_grant', 'a spent code');
    });

    test('a used code presented by another client is invalid_grant and revokes nothing; presented again by its own client, it revokes the grant', async () => {
      const client = await newClient();
      const intruder = await newClient();
      const a = await authorize(client);
      const t = await tokenRequest(codeForm(a));
      assert.equal(t.status, 200, t.text);
      // Another client that got hold of the spent code (a leaked redirect, a log): not a second redemption by the client it was issued to.
      assertError(await tokenRequest(codeForm(a, { client_id: intruder.client_id })), 400, 'invalid_grant', 'the used code, from another client');
      assert.equal((await introspect(t.json!.access_token)).json?.active, true, "the real client's access token is still active");
      const rotated = await refresh(client, t.json!.refresh_token);
      assert.equal(rotated.status, 200, `the real client's grant is not revoked: ${rotated.text}`);
      // RFC 6749 §4.1.2: the client the code was issued to using it twice is what revokes the grant.
      assertError(await tokenRequest(codeForm(a)), 400, 'invalid_grant', 'the used code, from its own client');
      assertError(await refresh(client, rotated.json!.refresh_token), 400, 'invalid_grant', 'the grant is revoked');
    });

    test('refresh: another client’s, a garbage or a made-up refresh token is invalid_grant, and nothing is spent or revoked', async () => {
      const client = await newClient();
      const intruder = await newClient();
      const t = await obtain(client);
      assertError(await refresh(intruder, t.refresh_token), 400, 'invalid_grant', 'another client’s refresh token');
      assertError(await refresh(client, 'garbage'), 400, 'invalid_grant', 'garbage');
      assertError(await refresh(client, `${randomBytes(32).toString('base64url')}.${t.refresh_token.split('.')[1]}`), 400, 'invalid_grant', 'unknown secret');
      const started = performance.now();
      assertError(await refresh(client, `${t.refresh_token.split('.')[0]}.999999999`), 400, 'invalid_grant', 'a made-up position');
      assert.ok(performance.now() - started < 1_000, 'refused at once');
      assertError(await refresh(client, t.access_token), 400, 'invalid_grant', 'an access token as refresh token');
      const r = await refresh(client, t.refresh_token);
      assert.equal(r.status, 200, `the owner's token is neither spent nor revoked: ${r.text}`);
    });

    test('an expired code is invalid_grant (AUTHORIZATION_CODE_TTL_SECONDS=1), a fresh one from the same server works', async () => {
      const user = new BrowserlessUser(shortCodes.url, 'alice', 'password123');
      const client = await newClient();
      // Control: a code redeemed well inside its second.
      await user.authorize(authorizationUrl(shortCodes.url, { clientId: client.client_id, redirectUri: client.redirect_uris[0], challenge: pkcePair().challenge, resource: stack.urls.resource }));
      await sleep(1000 - (Date.now() % 1000));
      const fresh = await authorize(client, { user, issuer: shortCodes.url });
      const ok = await tokenRequest(codeForm(fresh));
      assert.equal(ok.status, 200, ok.text);

      const stale = await authorize(client, { user, issuer: shortCodes.url });
      await sleep(1_100);
      const res = await tokenRequest(codeForm(stale));
      assertError(res, 400, 'invalid_grant', 'an expired code');
      assert.match(res.json!.error_description, /expired/);
    });
  });

  describe('token responses and the JWT access token', () => {
    test('response fields, headers, and every claim verified with jose against /jwks.json', async () => {
      const client = await newClient();
      const bobUser = new BrowserlessUser(stack.urls.issuer, 'bob', 'password456');
      const before = Math.floor(Date.now() / 1000);
      const a = await authorize(client, { scope: 'profile notes:read' });
      const res = await tokenRequest(codeForm(a));
      const after = Math.ceil(Date.now() / 1000);
      assert.equal(res.status, 200, res.text);
      assert.equal(res.headers.get('cache-control'), 'no-store');
      assert.equal(res.headers.get('pragma'), 'no-cache');
      assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
      const body = res.json!;
      assert.deepEqual(Object.keys(body).sort(), ['access_token', 'expires_in', 'refresh_token', 'scope', 'token_type']);
      assert.equal(body.token_type, 'Bearer');
      assert.equal(body.expires_in, ACCESS_TTL);
      assert.equal(body.scope, 'profile notes:read');
      assert.match(body.refresh_token, /^[A-Za-z0-9_-]{43}\.[1-9][0-9]*$/, 'opaque, 256 bits, with its stream position');

      const jwks = createRemoteJWKSet(new URL(`${stack.urls.token}/jwks.json`));
      const { payload, protectedHeader } = await jwtVerify(body.access_token, jwks, { issuer: stack.urls.issuer, audience: stack.urls.resource, typ: 'at+jwt', algorithms: ['ES256'] });
      assert.equal(protectedHeader.typ, 'at+jwt');
      assert.equal(protectedHeader.alg, 'ES256');
      const keys = (await http(`${stack.urls.token}/jwks.json`)).json!.keys as Json[];
      assert.ok(keys.some((k) => k.kid === protectedHeader.kid && k.use === 'sig' && k.alg === 'ES256' && k.d === undefined), 'the kid is a published public key, without its private part');
      assert.equal(keys.length, stack.tokens.length, `one key per token replica: ${keys.map((k) => k.kid).join(', ')}`.slice(0, 300));

      const rawPayload = JSON.parse(Buffer.from(body.access_token.split('.')[1], 'base64url').toString('utf8')) as Json;
      assert.equal(rawPayload.iss, stack.urls.issuer, 'iss is the issuer, byte for byte');
      assert.equal(payload.aud, stack.urls.resource, 'aud is the resource (a string)');
      assert.equal(payload.client_id, client.client_id);
      assert.equal(payload.scope, 'profile notes:read');
      assert.match(String(payload.sub), /\S{8,}/);
      assert.notEqual(payload.sub, 'alice', 'sub is a stable id, not the username');
      assert.match(String(payload.jti), /^[0-9a-f-]{36}$/);
      assert.match(String(payload.grant_id), /^[A-Za-z0-9_-]{16,}$/);
      assert.ok(payload.iat! >= before && payload.iat! <= after, `iat ${payload.iat} within [${before}, ${after}]`);
      assert.equal(payload.exp! - payload.iat!, body.expires_in, 'exp - iat = expires_in');
      assert.ok(Number.isInteger(payload.stream_position) && (payload.stream_position as number) > 0);

      // The same user gets the same sub; another user another; every token its own jti; a refresh keeps the grant.
      const second = await obtain(client);
      const ofBob = await obtain(client, { user: bobUser });
      const refreshed = await refresh(client, body.refresh_token, { scope: 'notes:read' });
      assert.equal(refreshed.status, 200, refreshed.text);
      assert.equal(refreshed.headers.get('cache-control'), 'no-store');
      assert.equal(refreshed.json!.scope, 'notes:read');
      assert.equal(refreshed.json!.expires_in, ACCESS_TTL);
      assert.notEqual(refreshed.json!.refresh_token, body.refresh_token, 'the refresh token rotates');
      const claims = [second, ofBob, refreshed.json!].map((t) => decodeJwt(t.access_token as string));
      assert.equal(claims[0]!.sub, payload.sub);
      assert.notEqual(claims[1]!.sub, payload.sub);
      assert.equal(new Set([payload.jti, ...claims.map((c) => c.jti)]).size, 4, 'jti unique per token');
      assert.equal(claims[2]!.grant_id, payload.grant_id, 'a refresh stays in its grant');
      assert.notEqual(claims[0]!.grant_id, payload.grant_id, 'a new code starts a new grant');
      assert.equal(claims[2]!.scope, 'notes:read');
      const verifiedRefresh = await jwtVerify(refreshed.json!.access_token, jwks, { issuer: stack.urls.issuer, audience: stack.urls.resource, typ: 'at+jwt' });
      assert.equal(verifiedRefresh.payload.client_id, client.client_id);

      // Asking for more than the grant on refresh is invalid_scope; another resource is invalid_target.
      assertError(await refresh(client, refreshed.json!.refresh_token, { scope: 'notes:read notes:write' }), 400, 'invalid_scope', 'a wider scope');
      assertError(await refresh(client, refreshed.json!.refresh_token, { resource: 'https://evil.example/mcp' }), 400, 'invalid_target', 'a foreign resource');
      const stillGood = await refresh(client, refreshed.json!.refresh_token, { resource: stack.urls.resource });
      assert.equal(stillGood.status, 200, 'refused refreshes did not spend the token');
      assert.equal(stillGood.json!.scope, 'profile notes:read', 'without scope, a refresh gets the whole grant back');
    });
  });

  describe('revocation (RFC 7009)', () => {
    test('revoking a refresh token revokes the grant: refresh fails, its access token is inactive', async () => {
      const client = await newClient();
      const t = await obtain(client);
      assert.equal((await introspect(t.access_token)).json!.active, true);
      const res = await revoke(client, t.refresh_token);
      assert.equal(res.status, 200, res.text);
      assert.equal(res.headers.get('cache-control'), 'no-store');
      assertError(await refresh(client, t.refresh_token), 400, 'invalid_grant', 'refresh after revocation');
      assert.deepEqual((await introspect(t.access_token)).json, { active: false });
      assert.deepEqual((await introspect(t.refresh_token)).json, { active: false });
      assert.equal((await revoke(client, t.refresh_token)).status, 200, 'revoking twice is fine');
    });

    test('revoking an access token revokes that token only (by jti): the refresh token still works', async () => {
      const client = await newClient();
      const t = await obtain(client);
      const res = await revoke(client, t.access_token);
      assert.equal(res.status, 200, res.text);
      assert.deepEqual((await introspect(t.access_token)).json, { active: false });
      const r = await refresh(client, t.refresh_token);
      assert.equal(r.status, 200, r.text);
      assert.equal((await introspect(r.json!.access_token)).json!.active, true, 'the new access token of the same grant is live');
    });

    test('unknown tokens, and tokens of another client, answer 200 and revoke nothing', async () => {
      const client = await newClient();
      const thief = await newClient();
      const t = await obtain(client);
      for (const token of ['garbage', `${randomBytes(32).toString('base64url')}.5`, `${randomBytes(32).toString('base64url')}.999999999`, 'a.b.c']) {
        const res = await revoke(client, token);
        assert.equal(res.status, 200, `${token}: ${res.text}`);
      }
      assert.equal((await revoke(thief, t.refresh_token)).status, 200);
      assert.equal((await revoke(thief, t.access_token)).status, 200);
      assert.equal((await revoke(thief, t.access_token, { token_type_hint: 'access_token' })).status, 200);
      assert.equal((await introspect(t.access_token)).json!.active, true, 'another client cannot revoke the access token');
      const r = await refresh(client, t.refresh_token);
      assert.equal(r.status, 200, `another client cannot revoke the grant: ${r.text}`);
    });

    test('token_type_hint is a hint: a wrong or unknown hint still finds the token', async () => {
      const client = await newClient();
      const a = await obtain(client);
      assert.equal((await revoke(client, a.refresh_token, { token_type_hint: 'access_token' })).status, 200);
      assertError(await refresh(client, a.refresh_token), 400, 'invalid_grant', 'refresh token revoked under the access_token hint');

      const b = await obtain(client);
      assert.equal((await revoke(client, b.access_token, { token_type_hint: 'refresh_token' })).status, 200);
      assert.deepEqual((await introspect(b.access_token)).json, { active: false }, 'access token revoked under the refresh_token hint');
      const stillWorks = await refresh(client, b.refresh_token);
      assert.equal(stillWorks.status, 200, 'the wrong hint did not escalate to the grant');

      const c = await obtain(client);
      assert.equal((await revoke(client, c.refresh_token, { token_type_hint: 'refresh_token' })).status, 200);
      assertError(await refresh(client, c.refresh_token), 400, 'invalid_grant', 'with the right hint');
      const d = await obtain(client);
      assert.equal((await revoke(client, d.access_token, { token_type_hint: 'access_token' })).status, 200);
      assert.deepEqual((await introspect(d.access_token)).json, { active: false });
      const e = await obtain(client);
      assert.equal((await revoke(client, e.refresh_token, { token_type_hint: 'something_else' })).status, 200);
      assertError(await refresh(client, e.refresh_token), 400, 'invalid_grant', 'with an unknown hint');
    });

    test('revocation needs client authentication and a token', async () => {
      const confidential = await newClient({ token_endpoint_auth_method: 'client_secret_basic' });
      assertError(await post('/revoke', { token: 'x' }), 401, 'invalid_client', 'no client');
      assertError(await post('/revoke', { token: 'x' }, { headers: basic(confidential.client_id, 'wrong') }), 401, 'invalid_client', 'wrong secret');
      assertError(await post('/revoke', { client_id: confidential.client_id }, { headers: basic(confidential.client_id, confidential.client_secret) }), 400, 'invalid_request', 'no token');
      assert.equal((await post('/revoke', { token: 'x' }, { headers: basic(confidential.client_id, confidential.client_secret) })).status, 200);
    });
  });

  describe('introspection (RFC 7662)', () => {
    test('only configured resource servers may introspect', async () => {
      const client = await newClient({ token_endpoint_auth_method: 'client_secret_basic' });
      const t = { token: 'whatever' };
      const noCredentials = await post('/introspect', t);
      assertError(noCredentials, 401, 'invalid_client', 'no credentials');
      const wrong = await post('/introspect', t, { headers: basic(RS.id, 'wrong-secret') });
      assertError(wrong, 401, 'invalid_client', 'wrong secret');
      assert.match(wrong.headers.get('www-authenticate') ?? '', /^Basic\b/);
      assertError(await post('/introspect', { ...t, client_id: RS.id, client_secret: 'wrong' }), 401, 'invalid_client', 'wrong secret in the form');
      assertError(await post('/introspect', t, { headers: basic(client.client_id, client.client_secret) }), 401, 'invalid_client', 'an OAuth client is not a resource server');
      assertError(await post('/introspect', t, { headers: basic('unknown', RS.secret) }), 401, 'invalid_client', 'a secret of another resource server');
      assert.equal((await post('/introspect', { ...t, client_id: RS.id, client_secret: RS.secret })).status, 200, 'client_secret_post works too');
      assert.equal((await introspect('x', { id: 'other-rs', secret: 'other-secret-0123456789' })).status, 200);
      assertError(await post('/introspect', {}, { headers: basic(RS.id, RS.secret) }), 400, 'invalid_request', 'no token');
    });

    test('live access and refresh tokens are active with their claims; spent, revoked, expired and garbage are not', async () => {
      const client = await newClient();
      const t = await obtain(client, { scope: 'profile notes:read' });
      const claims = decodeJwt(t.access_token);
      const access = await introspect(t.access_token);
      assert.equal(access.status, 200);
      assert.equal(access.headers.get('cache-control'), 'no-store');
      assert.deepEqual(access.json, {
        active: true,
        token_type: 'Bearer',
        scope: 'profile notes:read',
        client_id: client.client_id,
        sub: claims.sub,
        aud: stack.urls.resource,
        iss: stack.urls.issuer,
        exp: claims.exp,
        iat: claims.iat,
        jti: claims.jti,
        grant_id: claims.grant_id,
      });
      const current = await introspect(t.refresh_token);
      assert.equal(current.json!.active, true, current.text);
      assert.equal(current.json!.token_type, 'refresh_token');
      assert.equal(current.json!.client_id, client.client_id);
      assert.equal(current.json!.scope, 'profile notes:read');
      assert.equal(current.json!.sub, claims.sub);
      assert.equal(current.json!.grant_id, claims.grant_id);
      assert.ok(current.json!.exp > claims.exp!, 'a refresh token lives as long as its grant');

      const r = await refresh(client, t.refresh_token);
      assert.equal(r.status, 200);
      assert.deepEqual((await introspect(t.refresh_token)).json, { active: false }, 'a spent refresh token');
      assert.equal((await introspect(r.json!.refresh_token)).json!.active, true);
      assert.equal((await introspect(t.access_token)).json!.active, true, 'rotation does not revoke the earlier access token');

      for (const garbage of ['garbage', 'a.b.c', `${randomBytes(32).toString('base64url')}.3`, `${randomBytes(32).toString('base64url')}.999999999`]) {
        assert.deepEqual((await introspect(garbage)).json, { active: false }, garbage);
      }
      // A JWT with a forged payload (signature no longer matches).
      const [h, , s] = t.access_token.split('.');
      const forged = `${h}.${Buffer.from(JSON.stringify({ ...claims, scope: 'notes:write' })).toString('base64url')}.${s}`;
      assert.deepEqual((await introspect(forged)).json, { active: false }, 'a forged token');
    });

    test('an expired access token is inactive (ACCESS_TOKEN_TTL_SECONDS=2 on its own replica)', async () => {
      const client = await newClient();
      const t = await obtain(client, { base: shortTokens.url });
      assert.equal(t.expires_in, 2);
      const { exp } = decodeJwt(t.access_token);
      assert.equal((await introspect(t.access_token)).json!.active, true);
      await sleep(exp! * 1000 - Date.now() + 50);
      for (const replica of [stack.urls.token, shortTokens.url]) {
        assert.deepEqual((await introspect(t.access_token, RS, replica)).json, { active: false }, `expired, at ${replica}`);
      }
      assert.equal((await introspect(t.refresh_token)).json!.active, true, 'the grant itself lives on');
      const r = await refresh(client, t.refresh_token, {}, shortTokens.url);
      assert.equal(r.status, 200, 'an expired access token is replaced by refreshing');
    });
  });

  test('revoking the app on the connected-apps page (ConsentRevoked) makes refresh fail and the access token inactive', async () => {
    const client = await newClient({ client_name: `revocable ${randomBytes(3).toString('hex')}` });
    const bystander = await newClient();
    const t = await obtain(client);
    const other = await obtain(bystander);
    const page = new AccountSession(stack.urls.issuer, 'alice', 'password123');
    assert.ok((await page.connectedApps()).includes(client.client_id));
    await page.revokeApp(client.client_id);
    assert.ok(!(await page.connectedApps()).includes(client.client_id), 'no longer listed');

    assertError(await refresh(client, t.refresh_token), 400, 'invalid_grant', 'refresh after ConsentRevoked');
    assert.deepEqual((await introspect(t.access_token)).json, { active: false });
    assert.deepEqual((await introspect(t.refresh_token)).json, { active: false });
    // Only that app: another app of the same user is untouched.
    assert.equal((await refresh(bystander, other.refresh_token)).status, 200);
    // A new consent starts a new, working grant.
    const again = await obtain(client);
    assert.equal((await refresh(client, again.refresh_token)).status, 200);
  });
});
