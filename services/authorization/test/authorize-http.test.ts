import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { subjects, type DomainEvent } from '@mcp-auth/contracts';
import { EventStore } from '@mcp-auth/event-store';
import { hashSecret, s256 } from '@mcp-auth/oauth';
import { freePort, startNats, startService, startedTogether, type NatsHandle, type ServiceProcess } from '@mcp-auth/testing';
import { userIdFor } from '../src/users/usernames.ts';

// ---------------------------------------------------------------------------------------------------
// A minimal browser: a cookie jar, an Origin header on form posts, no automatic redirects. Every answer
// is checked for what no input may ever produce: a 5xx or a stack trace.
// ---------------------------------------------------------------------------------------------------

type Res = { status: number; headers: Headers; text: string; location: string | null; setCookies: string[] };

const STACK_TRACE = /\n\s+at [^\n]*[(/]|node_modules\/|\.ts:\d+:\d+/;

function assertSane(res: Res, what: string): void {
  assert.ok(res.status < 500, `${what}: answered ${res.status}\n${res.text.slice(0, 500)}`);
  assert.ok(!STACK_TRACE.test(res.text), `${what}: the answer contains a stack trace\n${res.text.slice(0, 1000)}`);
}

class UserAgent {
  readonly jar = new Map<string, string>();
  /** `origin` is what a browser sends in Origin on a same-origin form post: the issuer's origin. */
  constructor(readonly origin: string) {}

  async request(url: string, init: { method?: string; form?: URLSearchParams | Record<string, string>; headers?: Record<string, string>; origin?: string | null } = {}): Promise<Res> {
    const headers: Record<string, string> = { ...init.headers };
    if (this.jar.size > 0) headers.Cookie = [...this.jar].map(([k, v]) => `${k}=${v}`).join('; ');
    let body: string | undefined;
    if (init.form) {
      headers['Content-Type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(init.form as Record<string, string>).toString();
      const origin = init.origin === undefined ? this.origin : init.origin;
      if (origin !== null) headers.Origin = origin;
    }
    const response = await fetch(url, { method: init.method ?? (init.form ? 'POST' : 'GET'), headers, body, redirect: 'manual' });
    const res: Res = { status: response.status, headers: response.headers, text: await response.text(), location: response.headers.get('location'), setCookies: response.headers.getSetCookie() };
    for (const line of res.setCookies) {
      const [pair] = line.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      if (value === '' || /expires=Thu, 01 Jan 1970/i.test(line)) this.jar.delete(name);
      else this.jar.set(name, value);
    }
    assertSane(res, `${init.method ?? (init.form ? 'POST' : 'GET')} ${new URL(url).pathname}`);
    return res;
  }

  get(url: string, headers: Record<string, string> = {}): Promise<Res> {
    return this.request(url, { headers });
  }

  post(url: string, form: URLSearchParams | Record<string, string>, options: { origin?: string | null; headers?: Record<string, string> } = {}): Promise<Res> {
    return this.request(url, { form, ...options });
  }
}

// ---------------------------------------------------------------------------------------------------
// Reading the server-rendered pages the way a browser would submit them.
// ---------------------------------------------------------------------------------------------------

const unescapeHtml = (s: string) => s.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');

type Field = { name: string; value: string; type: string; checked: boolean; disabled: boolean };
type Form = { action: string; method: string; fields: Field[]; buttons: string[] };

function attributes(tag: string): Record<string, string> {
  const attrs: Record<string, string> = {};
  for (const m of tag.matchAll(/([a-zA-Z_:-]+)(?:="([^"]*)")?/g)) attrs[m[1]!.toLowerCase()] = unescapeHtml(m[2] ?? '');
  return attrs;
}

function forms(html: string): Form[] {
  const found = [...html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/g)].map((m) => {
    const attrs = attributes(m[1]!);
    const fields = [...m[2]!.matchAll(/<input\b([^>]*)>/g)].flatMap((i) => {
      const a = attributes(i[1]!);
      if (a.name === undefined) return [];
      return [{ name: a.name, value: a.value ?? '', type: a.type ?? 'text', checked: 'checked' in a, disabled: 'disabled' in a }];
    });
    const buttons = [...m[2]!.matchAll(/<button\b([^>]*)>([\s\S]*?)<\/button>/g)].map((b) => ({ owner: attributes(b[1]!).form, label: unescapeHtml(b[2]!.trim()) }));
    return { id: attrs.id, form: { action: attrs.action ?? '', method: attrs.method ?? 'get', fields, buttons: [] as string[] }, buttons };
  });
  // A button submits the form its `form` attribute names, else the form it sits in (HTML §4.10.18.3).
  for (const { buttons, form } of found) {
    for (const button of buttons) (found.find((f) => button.owner !== undefined && f.id === button.owner)?.form ?? form).buttons.push(button.label);
  }
  return found.map((f) => f.form);
}

function formWithButton(html: string, button: string): Form {
  const form = forms(html).find((f) => f.buttons.includes(button));
  assert.ok(form, `no form with a "${button}" button on the page:\n${html}`);
  return form;
}

/** What a browser posts: hidden and text fields, ticked and enabled checkboxes (minus those the user unticks). */
function submission(form: Form, { uncheck = [], set = {} }: { uncheck?: string[]; set?: Record<string, string> } = {}): URLSearchParams {
  const body = new URLSearchParams();
  for (const f of form.fields) {
    if (f.disabled) continue;
    if (f.type === 'checkbox' && (!f.checked || uncheck.includes(f.name))) continue;
    body.append(f.name, set[f.name] ?? f.value);
  }
  for (const [name, value] of Object.entries(set)) if (!body.has(name)) body.append(name, value);
  return body;
}

const alertText = (html: string) => /role="alert">([\s\S]*?)<\/p>/.exec(html)?.[1] ?? null;
const isSignInPage = (res: Res) => res.status < 400 && /<h1>Sign in<\/h1>/.test(res.text) && forms(res.text).some((f) => f.action === '/signin');
const isConsentPage = (res: Res) => /<h1>Allow [\s\S]*? to access your account\?<\/h1>/.test(res.text) && forms(res.text).some((f) => f.buttons.includes('Allow'));
const isErrorPage = (res: Res) => /<h1>This request cannot continue<\/h1>/.test(res.text);
/** The scopes a consent page lists (the <code> after each checkbox). */
const listedScopes = (html: string) => [...html.matchAll(/<li><input type="checkbox"[^>]*>(?:<input type="hidden"[^>]*>)? <label[^>]*>[^<]*<\/label> <code>([^<]+)<\/code>/g)].map((m) => unescapeHtml(m[1]!));

// ---------------------------------------------------------------------------------------------------
// OAuth helpers
// ---------------------------------------------------------------------------------------------------

type Client = { client_id: string; client_name: string; redirect_uris: string[]; registration_access_token: string; [k: string]: unknown };

const CODE = /^[A-Za-z0-9_-]{43}\.[1-9][0-9]*$/;
const random = () => randomBytes(12).toString('base64url');

function pkce() {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: s256(verifier) };
}

/** The query of an authorization request; `null` leaves a parameter out, an array repeats it. */
function authorizeQuery(client: Client, overrides: Record<string, string | string[] | null> = {}): URLSearchParams {
  const defaults: Record<string, string | string[] | null> = {
    response_type: 'code',
    client_id: client.client_id,
    redirect_uri: client.redirect_uris[0]!,
    code_challenge: pkce().challenge,
    code_challenge_method: 'S256',
    state: `st-${random()}`,
    resource: MCP_RESOURCE,
  };
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries({ ...defaults, ...overrides })) {
    if (value === null) continue;
    for (const v of Array.isArray(value) ? value : [value]) params.append(name, v);
  }
  return params;
}

/** Checks that an answer sends the browser back to the client's redirect URI, and returns the parameters it carries. */
function redirectedTo(res: Res, redirectUri: string, status: number): URLSearchParams {
  assert.equal(res.status, status, `expected a ${status} redirect, got ${res.status}: ${res.text.slice(0, 300)}`);
  assert.ok(res.location, 'a Location header');
  const url = new URL(res.location);
  const expected = new URL(redirectUri);
  assert.equal(`${url.origin}${url.pathname}`, `${expected.origin}${expected.pathname}`, 'back to the redirect URI the client sent');
  assert.equal(res.headers.get('cache-control'), 'no-store');
  return url.searchParams;
}

function assertNoRedirect(res: Res, what: string): void {
  assert.equal(res.status, 400, `${what}: ${res.status} ${res.text.slice(0, 300)}`);
  assert.equal(res.location, null, `${what}: must never redirect`);
  assert.ok(isErrorPage(res), `${what}: an error page`);
  assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
}

/**
 * A TCP proxy in front of NATS for one service replica. `pause()` holds back what NATS sends to the
 * replica (its event feed and every answer), as a slow network or an overloaded link would; `resume()`
 * delivers it all in order. What the replica sends to NATS always goes through.
 */
class FeedProxy {
  #paused = false;
  #held: Array<{ socket: Socket; chunk: Buffer }> = [];
  readonly #sockets = new Set<Socket>();
  private constructor(
    readonly server: Server,
    readonly url: string,
  ) {}

  static async start(target: string): Promise<FeedProxy> {
    const { hostname, port } = new URL(target);
    let proxy: FeedProxy | undefined;
    const server = createServer((downstream) => {
      const upstream = connect(Number(port), hostname);
      proxy!.#sockets.add(downstream).add(upstream);
      downstream.on('data', (chunk) => upstream.write(chunk));
      upstream.on('data', (chunk: Buffer) => {
        if (proxy!.#paused) proxy!.#held.push({ socket: downstream, chunk });
        else downstream.write(chunk);
      });
      const close = () => {
        downstream.destroy();
        upstream.destroy();
      };
      for (const socket of [downstream, upstream]) socket.on('error', close).on('close', close);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    proxy = new FeedProxy(server, `nats://127.0.0.1:${(server.address() as { port: number }).port}`);
    return proxy;
  }

  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    this.#paused = false;
    for (const { socket, chunk } of this.#held.splice(0)) if (!socket.destroyed) socket.write(chunk);
  }

  async stop(): Promise<void> {
    this.resume();
    for (const socket of this.#sockets) socket.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

const MCP_RESOURCE = 'http://mcp.test:3000/mcp';
const TOKEN_BASE = 'http://token.test:3003';

describe('authorization service over HTTP, two replicas on one real NATS', () => {
  let nats: NatsHandle;
  let reg: ServiceProcess;
  let a: ServiceProcess;
  let b: ServiceProcess;
  let store: EventStore;
  let issuer: string;
  let bFeed: FeedProxy;

  before(async () => {
    nats = await startNats();
    reg = await startService('registration', { env: { NATS_URL: nats.url, REGISTRATION_RATE_LIMIT: '0' } });
    const [portA, portB] = [await freePort(), await freePort()];
    issuer = `http://127.0.0.1:${portA}`;
    // Both replicas serve one issuer, as they would behind a load balancer.
    const env = {
      NATS_URL: nats.url,
      ISSUER: issuer,
      SEED_USERS: 'alice:password123,bob:password456,carol:password789',
      REGISTRATION_BASE_URL: reg.url,
      TOKEN_BASE_URL: TOKEN_BASE,
      MCP_RESOURCE_URL: MCP_RESOURCE,
      SIGNIN_RATE_LIMIT: '0',
      SIGNIN_MAX_FAILURES_PER_ACCOUNT: '1000',
      SIGNIN_MAX_FAILURES_PER_ADDRESS: '1000',
    };
    bFeed = await FeedProxy.start(nats.url);
    [a, b] = await startedTogether(startService('authorization', { port: portA, env }), startService('authorization', { port: portB, env: { ...env, NATS_URL: bFeed.url } }));
    store = await EventStore.connect({ servers: nats.url, connectionName: 'authorize-http-test' });
  });

  after(async () => {
    for (const service of [a, b]) {
      if (service) assert.ok(!/unhandled error/.test(service.output()), `no unhandled error in the logs:\n${service.output().slice(-3000)}`);
    }
    await store?.close();
    await Promise.all([a?.stop(), b?.stop(), reg?.stop()]);
    await bFeed?.stop();
    await nats?.stop();
  });

  async function register(overrides: Record<string, unknown> = {}): Promise<Client> {
    const res = await fetch(`${reg.url}/register`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({
        client_name: `test client ${random()}`,
        redirect_uris: [`http://127.0.0.1:${40_000 + Math.floor(Math.random() * 20_000)}/callback`],
        token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        ...overrides,
      }),
    });
    const text = await res.text();
    assert.equal(res.status, 201, text);
    return JSON.parse(text) as Client;
  }

  /** A browser signed in as `username` (through the account page's sign-in form). */
  async function signedIn(username = 'alice', password = 'password123', service = a): Promise<UserAgent> {
    const ua = new UserAgent(issuer);
    const page = await ua.get(`${service.url}/account`);
    assert.ok(isSignInPage(page));
    const res = await ua.post(`${service.url}/signin`, submission(formWithButton(page.text, 'Sign in'), { set: { username, password } }));
    assert.equal(res.status, 303, res.text);
    assert.ok(ua.jar.has('mcp_session'));
    return ua;
  }

  async function consentPageFor(ua: UserAgent, query: URLSearchParams, service = a): Promise<Res> {
    const res = await ua.get(`${service.url}/authorize?${query}`);
    assert.equal(res.status, 200, res.text.slice(0, 500));
    assert.ok(isConsentPage(res), `the consent page:\n${res.text}`);
    return res;
  }

  async function decide(ua: UserAgent, page: Res, button: 'Allow' | 'Deny', options: Parameters<typeof submission>[1] = {}, service = a): Promise<Res> {
    const form = formWithButton(page.text, button);
    assert.equal(form.action, '/authorize/consent');
    return ua.post(`${service.url}${form.action}`, submission(form, options));
  }

  /** The AuthorizationCodeIssued event a code stands for, read from the stream by the code's hash. */
  async function codeEvent(code: string) {
    assert.match(code, CODE);
    const secret = code.slice(0, code.lastIndexOf('.'));
    const last = await store.last(subjects.authorizationCode(hashSecret(secret)));
    assert.ok(last && last.outcome.kind === 'event', 'the code was recorded (hashed)');
    const event = last.outcome.event as DomainEvent;
    assert.equal(event.type, 'AuthorizationCodeIssued');
    assert.equal(last.position, Number(code.slice(code.lastIndexOf('.') + 1)), 'the code carries the position of its event');
    return event.data as Extract<DomainEvent, { type: 'AuthorizationCodeIssued' }>['data'];
  }

  async function allowAndGetCode(ua: UserAgent, client: Client, query: URLSearchParams, options: Parameters<typeof submission>[1] = {}) {
    const page = await consentPageFor(ua, query);
    const answer = await decide(ua, page, 'Allow', options);
    const params = redirectedTo(answer, query.get('redirect_uri') ?? client.redirect_uris[0]!, 303);
    assert.equal(params.get('state'), query.get('state'));
    assert.equal(params.get('iss'), issuer);
    assert.equal(params.get('error'), null);
    return { code: params.get('code')!, event: await codeEvent(params.get('code')!) };
  }

  // ------------------------------------------------------------------------------------------------
  describe('RFC 8414 metadata', () => {
    test('is validated field by field, with CORS; there is no OpenID configuration', async () => {
      const res = await fetch(`${a.url}/.well-known/oauth-authorization-server`, { headers: { Origin: 'http://localhost:6274' } });
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
      assert.equal(res.headers.get('access-control-allow-origin'), '*');
      const raw = await res.text();
      const m = JSON.parse(raw) as Record<string, unknown>;
      assert.equal(m.issuer, issuer, 'issuer byte-identical to the configured issuer');
      assert.ok(raw.includes(`"issuer":"${issuer}"`), 'issuer spelled byte for byte as configured (no trailing slash, no escaping)');
      assert.equal(m.authorization_endpoint, `${issuer}/authorize`);
      assert.equal(m.token_endpoint, `${TOKEN_BASE}/token`);
      assert.equal(m.registration_endpoint, `${reg.url}/register`);
      assert.equal(m.revocation_endpoint, `${TOKEN_BASE}/revoke`);
      assert.equal(m.introspection_endpoint, `${TOKEN_BASE}/introspect`);
      assert.equal(m.jwks_uri, `${TOKEN_BASE}/jwks.json`);
      for (const field of ['authorization_endpoint', 'token_endpoint', 'registration_endpoint', 'revocation_endpoint', 'introspection_endpoint', 'jwks_uri']) {
        const value = m[field];
        assert.equal(typeof value, 'string', field);
        assert.ok(URL.canParse(value as string) && new URL(value as string).protocol.startsWith('http'), `${field} is an absolute URL`);
      }
      assert.deepEqual(m.response_types_supported, ['code']);
      assert.deepEqual(m.code_challenge_methods_supported, ['S256']);
      assert.ok(Array.isArray(m.grant_types_supported));
      assert.ok((m.grant_types_supported as string[]).includes('authorization_code'));
      assert.ok((m.grant_types_supported as string[]).includes('refresh_token'));
      assert.ok(!(m.grant_types_supported as string[]).includes('implicit'));
      for (const method of ['none', 'client_secret_post', 'client_secret_basic', 'private_key_jwt']) {
        assert.ok((m.token_endpoint_auth_methods_supported as string[]).includes(method), method);
        assert.ok((m.revocation_endpoint_auth_methods_supported as string[]).includes(method), method);
      }
      // RFC 8414 §2: private_key_jwt listed, so are its algorithms; asymmetric only.
      assert.deepEqual(m.token_endpoint_auth_signing_alg_values_supported, ['ES256', 'ES384', 'EdDSA', 'PS256', 'RS256']);
      assert.deepEqual(m.revocation_endpoint_auth_signing_alg_values_supported, m.token_endpoint_auth_signing_alg_values_supported);
      assert.deepEqual(m.scopes_supported, ['profile', 'notes:read', 'notes:write', 'offline_access']);
      assert.equal(m.authorization_response_iss_parameter_supported, true);
      // CIMD §6: client_ids may be metadata document URLs; `none` stays listed for the public ones (opencode needs it).
      assert.equal(m.client_id_metadata_document_supported, true);

      // The replica serves the very same document.
      assert.deepEqual(await (await fetch(`${b.url}/.well-known/oauth-authorization-server`)).json(), m);

      const preflight = await fetch(`${a.url}/.well-known/oauth-authorization-server`, { method: 'OPTIONS', headers: { Origin: 'http://localhost:6274', 'Access-Control-Request-Method': 'GET' } });
      assert.equal(preflight.status, 204);
      assert.equal(preflight.headers.get('access-control-allow-origin'), '*');

      const oidc = await fetch(`${a.url}/.well-known/openid-configuration`);
      assert.equal(oidc.status, 404);
      await oidc.text();
    });
  });

  // ------------------------------------------------------------------------------------------------
  describe('/authorize refuses, without redirecting, what it cannot trust', () => {
    test('unknown client, missing or repeated client_id, unregistered redirect URI: an error page and no Location', async () => {
      const client = await register({ redirect_uris: ['https://app.example.com/cb'] });
      const ua = new UserAgent(issuer);
      const cases: Array<[string, URLSearchParams]> = [
        ['an unknown client', authorizeQuery({ ...client, client_id: 'no-such-client-0123456789' })],
        ['a client id that cannot be one', authorizeQuery({ ...client, client_id: 'a.b.>' })],
        ['no client_id', authorizeQuery(client, { client_id: null })],
        ['client_id twice', authorizeQuery(client, { client_id: [client.client_id, client.client_id] })],
        ['an unregistered redirect URI', authorizeQuery(client, { redirect_uri: 'https://evil.example/cb' })],
        ['a redirect URI on another path', authorizeQuery(client, { redirect_uri: 'https://app.example.com/cb2' })],
        ['a redirect URI with an extra query', authorizeQuery(client, { redirect_uri: 'https://app.example.com/cb?x=1' })],
        ['redirect_uri twice', authorizeQuery(client, { redirect_uri: ['https://app.example.com/cb', 'https://app.example.com/cb'] })],
      ];
      for (const [what, query] of cases) assertNoRedirect(await ua.get(`${a.url}/authorize?${query}`), what);

      // Even with everything else wrong, a bad client is an error page, never a redirect.
      const allWrong = authorizeQuery({ ...client, client_id: 'no-such-client-0123456789' }, { response_type: 'token', code_challenge: null });
      assertNoRedirect(await ua.get(`${a.url}/authorize?${allWrong}`), 'an unknown client with other errors');

      // The control: the same client with its registered redirect URI is welcomed (the sign-in page).
      assert.ok(isSignInPage(await ua.get(`${a.url}/authorize?${authorizeQuery(client)}`)));
    });

    test('a deleted client is refused like an unknown one', async () => {
      const client = await register();
      const del = await fetch(`${reg.url}/register/${client.client_id}`, { method: 'DELETE', headers: { Authorization: `Bearer ${client.registration_access_token}` } });
      assert.equal(del.status, 204);
      assertNoRedirect(await new UserAgent(issuer).get(`${a.url}/authorize?${authorizeQuery(client)}`), 'a deleted client');
    });

    test('loopback redirect URIs may differ in port only (RFC 8252 §7.3)', async () => {
      const client = await register({ redirect_uris: ['http://127.0.0.1:7777/callback'] });
      const ua = await signedIn();
      // Another port: accepted, and the answer goes to the port the client asked for.
      const otherPort = authorizeQuery(client, { redirect_uri: 'http://127.0.0.1:9999/callback' });
      const page = await consentPageFor(ua, otherPort);
      assert.match(page.text, /127\.0\.0\.1:9999/, 'the consent page names the host and port it returns to');
      const deny = await decide(ua, page, 'Deny');
      assert.equal(redirectedTo(deny, 'http://127.0.0.1:9999/callback', 303).get('error'), 'access_denied');
      assert.equal(new URL(deny.location!).port, '9999');
      // No port at all is a port variation too.
      assert.ok(isConsentPage(await ua.get(`${a.url}/authorize?${authorizeQuery(client, { redirect_uri: 'http://127.0.0.1/callback' })}`)));

      for (const [what, uri] of [
        ['another path', 'http://127.0.0.1:9999/other'],
        ['another loopback host name', 'http://localhost:7777/callback'],
        ['another host', 'http://127.0.0.2:7777/callback'],
        ['https instead of http', 'https://127.0.0.1:7777/callback'],
        ['an added query', 'http://127.0.0.1:7777/callback?x=1'],
        ['credentials in the URI', 'http://user@127.0.0.1:7777/callback'],
        ['a path prefix', 'http://127.0.0.1:7777/callback/more'],
      ] as const) {
        assertNoRedirect(await ua.get(`${a.url}/authorize?${authorizeQuery(client, { redirect_uri: uri })}`), what);
      }
    });

    test('a non-loopback redirect URI must match exactly, port included', async () => {
      const client = await register({ redirect_uris: ['https://app.example.com:8443/cb'] });
      const ua = new UserAgent(issuer);
      assertNoRedirect(await ua.get(`${a.url}/authorize?${authorizeQuery(client, { redirect_uri: 'https://app.example.com:9443/cb' })}`), 'another port on a remote host');
      assertNoRedirect(await ua.get(`${a.url}/authorize?${authorizeQuery(client, { redirect_uri: 'https://APP.example.com:8443/cb' })}`), 'another spelling');
      assert.ok(isSignInPage(await ua.get(`${a.url}/authorize?${authorizeQuery(client)}`)));
    });
  });

  // ------------------------------------------------------------------------------------------------
  describe('/authorize sends every other error back to the client, with state and iss', () => {
    test('each refusal redirects with the right error, the original state and the issuer', async () => {
      const client = await register();
      const redirectUri = client.redirect_uris[0]!;
      const challenge = pkce().challenge;
      const cases: Array<[string, Record<string, string | string[] | null>, string]> = [
        ['no code_challenge (PKCE required)', { code_challenge: null }, 'invalid_request'],
        ['no PKCE at all', { code_challenge: null, code_challenge_method: null }, 'invalid_request'],
        ['code_challenge_method=plain', { code_challenge_method: 'plain', code_challenge: pkce().verifier }, 'invalid_request'],
        ['no code_challenge_method', { code_challenge_method: null }, 'invalid_request'],
        ['a lower-case method', { code_challenge_method: 's256' }, 'invalid_request'],
        ['a malformed challenge', { code_challenge: 'too-short' }, 'invalid_request'],
        ['a challenge with a foreign character', { code_challenge: `${challenge.slice(0, 42)}=` }, 'invalid_request'],
        ['an unknown resource', { resource: 'https://other.example/mcp' }, 'invalid_target'],
        ['a resource on another path', { resource: `${MCP_RESOURCE}/more` }, 'invalid_target'],
        ['a resource with two trailing slashes', { resource: `${MCP_RESOURCE}//` }, 'invalid_target'],
        ['a resource with a fragment', { resource: `${MCP_RESOURCE}#x` }, 'invalid_target'],
        ['a resource that is not a URL', { resource: 'mcp' }, 'invalid_target'],
        ['two resources', { resource: [MCP_RESOURCE, MCP_RESOURCE] }, 'invalid_target'],
        ['a malformed scope (quote)', { scope: 'profile "notes:read"' }, 'invalid_scope'],
        ['a malformed scope (backslash)', { scope: 'profile\\notes' }, 'invalid_scope'],
        ['a malformed scope (control character)', { scope: 'profile\u0001' }, 'invalid_scope'],
        ['response_type=token', { response_type: 'token' }, 'unsupported_response_type'],
        ['response_type=code id_token', { response_type: 'code id_token' }, 'unsupported_response_type'],
        ['no response_type', { response_type: null }, 'invalid_request'],
        ['code_challenge twice', { code_challenge: [challenge, challenge] }, 'invalid_request'],
        ['scope twice', { scope: ['profile', 'notes:read'] }, 'invalid_request'],
        ['response_type twice', { response_type: ['code', 'code'] }, 'invalid_request'],
        ['state twice', { state: ['first-state', 'second-state'] }, 'invalid_request'],
        ['a state over 2 KiB', { state: 'x'.repeat(3000) }, 'invalid_request'],
      ];
      for (const [what, overrides, error] of cases) {
        const query = authorizeQuery(client, overrides);
        const expectedState = query.getAll('state')[0] ?? null;
        for (const service of [a, b]) {
          const res = await new UserAgent(issuer).get(`${service.url}/authorize?${query}`);
          const params = redirectedTo(res, redirectUri, 302);
          assert.equal(params.get('error'), error, `${what}: ${params.get('error_description')}`);
          assert.equal(typeof params.get('error_description'), 'string', what);
          assert.equal(params.get('state'), expectedState, `${what}: the original state`);
          assert.equal(params.get('iss'), issuer, `${what}: iss is the issuer (RFC 9207)`);
          assert.equal(params.get('code'), null, what);
        }
      }
    });

    test('without state, the error carries no state; errors keep the redirect URI\'s own query', async () => {
      const client = await register({ redirect_uris: ['https://app.example.com/cb?tenant=7'] });
      const res = await new UserAgent(issuer).get(`${a.url}/authorize?${authorizeQuery(client, { state: null, code_challenge: null })}`);
      const params = redirectedTo(res, 'https://app.example.com/cb', 302);
      assert.equal(params.get('tenant'), '7');
      assert.equal(params.get('error'), 'invalid_request');
      assert.equal(params.has('state'), false);
      assert.equal(params.get('iss'), issuer);
    });

    test('redirect_uri is required, even from a client that registered only one: an error page, never a redirect', async () => {
      const one = await register();
      assertNoRedirect(await new UserAgent(issuer).get(`${a.url}/authorize?${authorizeQuery(one, { redirect_uri: null })}`), 'no redirect_uri, one registered');
      const two = await register({ redirect_uris: ['https://app.example.com/a', 'https://app.example.com/b'] });
      assertNoRedirect(await new UserAgent(issuer).get(`${a.url}/authorize?${authorizeQuery(two, { redirect_uri: null })}`), 'no redirect_uri, two registered');
      // Either registered URI may be named.
      assert.ok(isSignInPage(await new UserAgent(issuer).get(`${a.url}/authorize?${authorizeQuery(two, { redirect_uri: 'https://app.example.com/b' })}`)));
    });
  });

  // ------------------------------------------------------------------------------------------------
  describe('valid requests', () => {
    test('the resource is compared modulo one trailing slash, and the code is bound to the configured spelling', async () => {
      const client = await register();
      const ua = await signedIn();
      const { event } = await allowAndGetCode(ua, client, authorizeQuery(client, { resource: `${MCP_RESOURCE}/`, scope: 'profile' }));
      assert.equal(event.resource, MCP_RESOURCE);
      const upper = authorizeQuery(client, { resource: 'HTTP://MCP.TEST:3000/mcp', scope: 'profile notes:write' });
      assert.ok(isConsentPage(await ua.get(`${a.url}/authorize?${upper}`)), 'scheme and host compare case-insensitively');
    });

    test('no resource means the deployment\'s resource; no scope means the default scopes (profile notes:read)', async () => {
      const client = await register();
      const ua = await signedIn();
      const query = authorizeQuery(client, { resource: null });
      const page = await consentPageFor(ua, query);
      assert.deepEqual(listedScopes(page.text), ['profile', 'notes:read']);
      const answer = await decide(ua, page, 'Allow');
      const code = redirectedTo(answer, client.redirect_uris[0]!, 303).get('code')!;
      const event = await codeEvent(code);
      assert.deepEqual(event.scopes, ['profile', 'notes:read']);
      assert.equal(event.resource, MCP_RESOURCE);
      assert.equal(event.codeChallenge, query.get('code_challenge'));
      assert.equal(event.codeChallengeMethod, 'S256');
      assert.equal(event.redirectUri, client.redirect_uris[0]);
      assert.equal(event.clientId, client.client_id);
      assert.equal(event.userId, userIdFor('alice'));
      const ttl = event.expiresAt - Math.floor(Date.now() / 1000);
      assert.ok(ttl > 50 && ttl <= 60, `the code lives 60 s by default (${ttl})`);
    });

    test('unknown scopes and openid are ignored, not refused: the consent page and the code name what is granted; offline_access is not a tool permission', async () => {
      const client = await register();
      const ua = await signedIn();
      const query = authorizeQuery(client, { scope: 'openid profile notes:read admin:everything offline_access' });
      const page = await consentPageFor(ua, query);
      assert.deepEqual(listedScopes(page.text), ['profile', 'notes:read'], 'only the tool permissions are listed as such');
      assert.match(page.text, /<strong>Stay connected while you are away<\/strong> <code>offline_access<\/code>/);
      assert.ok(!/openid|admin:everything/.test(page.text.replace(/name="scope" value="[^"]*"/g, '')), 'the ignored scopes are not shown');
      const answer = await decide(ua, page, 'Allow');
      const event = await codeEvent(redirectedTo(answer, client.redirect_uris[0]!, 303).get('code')!);
      assert.deepEqual(event.scopes, ['profile', 'notes:read', 'offline_access'], 'the grant records offline_access');
    });
  });

  // ------------------------------------------------------------------------------------------------
  describe('sign-in', () => {
    test('a bad password and an unknown user get the same status and the same generic message', async () => {
      const client = await register();
      const ua = new UserAgent(issuer);
      const query = authorizeQuery(client);
      const page = await ua.get(`${a.url}/authorize?${query}`);
      assert.ok(isSignInPage(page));
      const form = formWithButton(page.text, 'Sign in');
      const badPassword = await ua.post(`${a.url}/signin`, submission(form, { set: { username: 'alice', password: 'wrong-password' } }));
      const unknownUser = await ua.post(`${a.url}/signin`, submission(form, { set: { username: 'mallory', password: 'wrong-password' } }));
      const malformedUser = await ua.post(`${a.url}/signin`, submission(form, { set: { username: 'not a name!', password: 'wrong-password' } }));
      for (const res of [badPassword, unknownUser, malformedUser]) {
        assert.equal(res.status, 401);
        assert.equal(res.location, null);
        assert.equal(alertText(res.text), 'Incorrect username or password.');
        assert.ok(isSignInPage({ ...res, status: 200 }), 'the sign-in form again');
        assert.ok(!res.setCookies.some((c) => c.startsWith('mcp_session=')));
      }
      // Byte for byte the same page, apart from the CSRF token and the echoed username.
      const normalise = (r: Res) => r.text.replace(/name="_csrf" value="[^"]*"/, '').replace(/name="username" value="[^"]*"/, '');
      assert.equal(normalise(badPassword), normalise(unknownUser));
      assert.ok(!/mallory/.test(unknownUser.text.replace(/name="username" value="mallory"/, '')), 'the page does not talk about the unknown user');
      // The sign-in page keeps the way back to the authorization request, even after a failure.
      const returnTo = (r: Res) => formWithButton(r.text, 'Sign in').fields.find((f) => f.name === 'return_to')?.value;
      assert.equal(returnTo(page), `/authorize?${query}`);
      assert.equal(returnTo(badPassword), returnTo(page));
    });

    test('signing in returns to the authorization request; the session cookie is HttpOnly and SameSite=Lax, the CSRF cookie HttpOnly', async () => {
      const client = await register();
      const ua = new UserAgent(issuer);
      const query = authorizeQuery(client);
      const page = await ua.get(`${a.url}/authorize?${query}`);
      const csrfCookie = page.setCookies.find((c) => c.startsWith('mcp_csrf='));
      assert.ok(csrfCookie, 'the sign-in page sets the CSRF cookie');
      assert.match(csrfCookie, /;\s*httponly/i);
      assert.match(csrfCookie, /;\s*samesite=strict/i);
      assert.match(csrfCookie, /;\s*path=\//i);
      assert.doesNotMatch(csrfCookie, /;\s*secure/i, 'not Secure over http');
      const res = await ua.post(`${a.url}/signin`, submission(formWithButton(page.text, 'Sign in'), { set: { username: 'alice', password: 'password123' } }));
      assert.equal(res.status, 303);
      assert.equal(res.location, `/authorize?${query}`);
      const session = res.setCookies.find((c) => c.startsWith('mcp_session='));
      assert.ok(session, 'a session cookie');
      assert.match(session, /;\s*httponly/i);
      assert.match(session, /;\s*samesite=lax/i);
      assert.match(session, /;\s*path=\//i);
      assert.doesNotMatch(session, /;\s*secure/i, 'not Secure over http');
      assert.doesNotMatch(session, /;\s*domain=/i);
      assert.match(session.split(';')[0]!, /^mcp_session=[A-Za-z0-9_-]{43}\.[1-9][0-9]*$/, 'the session cookie carries the position of its event');
      // Usernames are case-insensitive.
      const again = new UserAgent(issuer);
      const form = formWithButton((await again.get(`${a.url}/account`)).text, 'Sign in');
      assert.equal((await again.post(`${a.url}/signin`, submission(form, { set: { username: 'ALICE', password: 'password123' } }))).status, 303);
    });

    test('return_to never leads to another site', async () => {
      const ua = new UserAgent(issuer);
      const form = formWithButton((await ua.get(`${a.url}/account`)).text, 'Sign in');
      const hostile = ['//evil.example', '//evil.example/authorize', 'https://evil.example', 'https://evil.example/authorize', '/\\evil.example', '\\\\evil.example', 'javascript:alert(1)', '/signin', '', `${issuer.replace('127.0.0.1', 'localhost')}/authorize`];
      for (const returnTo of hostile) {
        const res = await ua.post(`${a.url}/signin`, submission(form, { set: { username: 'bob', password: 'password456', return_to: returnTo } }));
        assert.equal(res.status, 303, returnTo);
        assert.equal(res.location, '/account', `return_to=${returnTo} falls back to the account page`);
        assert.ok(!res.location.includes('evil'));
      }
      const res = await ua.post(`${a.url}/signin`, submission(form, { set: { username: 'bob', password: 'password456', return_to: '/authorize?client_id=x&state=y' } }));
      assert.equal(res.location, '/authorize?client_id=x&state=y', 'a same-site return to /authorize is kept');
    });

    test('CSRF: a missing or wrong token, or a cross-site post, is refused with 403 and signs nobody in', async () => {
      const ua = new UserAgent(issuer);
      const page = await ua.get(`${a.url}/account`);
      const good = submission(formWithButton(page.text, 'Sign in'), { set: { username: 'carol', password: 'password789' } });
      const before = await store.last(subjects.signIn(userIdFor('carol')));
      const withToken = (token: string | null) => {
        const body = new URLSearchParams(good);
        if (token === null) body.delete('_csrf');
        else body.set('_csrf', token);
        return body;
      };
      const otherBrowser = new UserAgent(issuer);
      const otherToken = formWithButton((await otherBrowser.get(`${a.url}/account`)).text, 'Sign in').fields.find((f) => f.name === '_csrf')!.value;
      const attempts: Array<[string, () => Promise<Res>]> = [
        ['no token', () => ua.post(`${a.url}/signin`, withToken(null))],
        ['an empty token', () => ua.post(`${a.url}/signin`, withToken(''))],
        ['a made-up token', () => ua.post(`${a.url}/signin`, withToken('abc-def'))],
        ["another browser's token", () => ua.post(`${a.url}/signin`, withToken(otherToken))],
        ['a cross-site Origin', () => ua.post(`${a.url}/signin`, good, { origin: 'https://evil.example' })],
        ['a sibling origin', () => ua.post(`${a.url}/signin`, good, { origin: issuer.replace('127.0.0.1', 'localhost') })],
        ['Sec-Fetch-Site: cross-site', () => ua.post(`${a.url}/signin`, good, { origin: null, headers: { 'Sec-Fetch-Site': 'cross-site' } })],
        ['no CSRF cookie', async () => new UserAgent(issuer).post(`${a.url}/signin`, good)],
      ];
      for (const [what, attempt] of attempts) {
        const res = await attempt();
        assert.equal(res.status, 403, `${what}: ${res.status}`);
        assert.equal(res.location, null, what);
        assert.ok(isErrorPage(res), what);
        assert.ok(!res.setCookies.some((c) => c.startsWith('mcp_session=')), `${what}: no session`);
      }
      assert.equal((await store.last(subjects.signIn(userIdFor('carol'))))?.position, before?.position, 'no sign-in event was recorded');
      assert.ok(isSignInPage(await ua.get(`${a.url}/account`)), 'still signed out');
      // The control: the same form with its token signs in.
      assert.equal((await ua.post(`${a.url}/signin`, good)).status, 303);
      assert.ok(!isSignInPage(await ua.get(`${a.url}/account`)), 'signed in now');
    });

    test('signing out ends the session on the server, not just in the browser', async () => {
      const ua = await signedIn('bob', 'password456');
      const stolen = ua.jar.get('mcp_session')!;
      const account = await ua.get(`${a.url}/account`);
      assert.match(account.text, /Signed in as <strong>bob<\/strong>/);
      const signOutForm = formWithButton(account.text, 'Sign out');
      assert.equal(signOutForm.action, '/signout');
      // A forged sign-out (no token) does nothing.
      const forged = await new UserAgent(issuer).post(`${a.url}/signout`, {}, {});
      assert.equal(forged.status, 403);
      const res = await ua.post(`${a.url}${signOutForm.action}`, submission(signOutForm));
      assert.equal(res.status, 303);
      assert.ok(res.setCookies.some((c) => /^mcp_session=;/.test(c)), 'the cookie is cleared');
      assert.ok(!ua.jar.has('mcp_session'));
      assert.ok(isSignInPage(await ua.get(`${a.url}/account`)));
      // The old cookie, replayed, no longer opens a session: at once on the replica that signed out, and on the
      // other as soon as it has applied UserSignedOut (sessions are read from each replica's projection).
      const replayed = async (service: { url: string }) => {
        const replay = new UserAgent(issuer);
        replay.jar.set('mcp_session', stolen);
        return isSignInPage(await replay.get(`${service.url}/account`));
      };
      assert.ok(await replayed(a), 'the session is over on the replica that ended it');
      const deadline = Date.now() + 1_000;
      while (!(await replayed(b))) {
        assert.ok(Date.now() < deadline, 'the session is over on the other replica within a second');
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    });

    test('a forged or malformed session cookie is just "not signed in"', async () => {
      for (const value of ['garbage', 'a.b', `${'A'.repeat(43)}.1`, `${'A'.repeat(43)}.999999999`, `${'A'.repeat(43)}.0`, '%00%ff']) {
        const ua = new UserAgent(issuer);
        ua.jar.set('mcp_session', value);
        const started = Date.now();
        assert.ok(isSignInPage(await ua.get(`${a.url}/account`)), value);
        assert.ok(Date.now() - started < 5_000);
      }
    });
  });

  // ------------------------------------------------------------------------------------------------
  describe('consent', () => {
    test('Deny redirects with access_denied, the state and iss, and leaves no consent to remember', async () => {
      const client = await register();
      const ua = await signedIn();
      const query = authorizeQuery(client);
      const page = await consentPageFor(ua, query);
      const res = await decide(ua, page, 'Deny');
      const params = redirectedTo(res, client.redirect_uris[0]!, 303);
      assert.equal(params.get('error'), 'access_denied');
      assert.equal(params.get('state'), query.get('state'));
      assert.equal(params.get('iss'), issuer);
      assert.equal(params.get('code'), null);
      // Denying gives no consent to remember.
      assert.ok(isConsentPage(await ua.get(`${a.url}/authorize?${authorizeQuery(client)}`)));
    });

    test('Allow redirects with a code "<43 chars>.<position>", the state and iss; the consent is then remembered', async () => {
      const client = await register();
      const ua = await signedIn();
      const query = authorizeQuery(client, { scope: 'profile notes:read' });
      const { code, event } = await allowAndGetCode(ua, client, query);
      assert.match(code, CODE);
      assert.deepEqual(event.scopes, ['profile', 'notes:read']);

      // Same client, user, resource and scopes: answered at once with a fresh code.
      const again = authorizeQuery(client, { scope: 'profile notes:read' });
      const res = await ua.get(`${a.url}/authorize?${again}`);
      const params = redirectedTo(res, client.redirect_uris[0]!, 302);
      assert.match(params.get('code') ?? '', CODE);
      assert.notEqual(params.get('code'), code, 'a new code every time');
      assert.equal(params.get('state'), again.get('state'));
      assert.equal(params.get('iss'), issuer);
      const second = await codeEvent(params.get('code')!);
      assert.equal(second.consentId, event.consentId, 'issued under the remembered consent');
      assert.equal(second.codeChallenge, again.get('code_challenge'), 'bound to the new request\'s challenge');
      // A narrower request is covered too.
      redirectedTo(await ua.get(`${a.url}/authorize?${authorizeQuery(client, { scope: 'profile' })}`), client.redirect_uris[0]!, 302);

      // …but not with prompt=consent,
      assert.ok(isConsentPage(await ua.get(`${a.url}/authorize?${authorizeQuery(client, { scope: 'profile notes:read', prompt: 'consent' })}`)), 'prompt=consent asks again');
      // nor for a wider scope,
      const wider = await ua.get(`${a.url}/authorize?${authorizeQuery(client, { scope: 'profile notes:read notes:write' })}`);
      assert.ok(isConsentPage(wider), 'a wider scope asks again');
      assert.deepEqual(listedScopes(wider.text), ['profile', 'notes:read', 'notes:write']);
      // nor for another user.
      const bob = await signedIn('bob', 'password456');
      assert.ok(isConsentPage(await bob.get(`${a.url}/authorize?${authorizeQuery(client, { scope: 'profile notes:read' })}`)), "alice's consent is not bob's");
    });

    test('remembered consent is void once the client changes its redirect URIs (RFC 7592 PUT)', async () => {
      const client = await register();
      const ua = await signedIn();
      await allowAndGetCode(ua, client, authorizeQuery(client));
      redirectedTo(await ua.get(`${a.url}/authorize?${authorizeQuery(client)}`), client.redirect_uris[0]!, 302);

      const { registration_access_token: token, client_id_issued_at: _i, client_secret_expires_at: _e, registration_client_uri: _u, ...metadata } = client;
      const put = await fetch(`${reg.url}/register/${client.client_id}`, {
        method: 'PUT',
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
        body: JSON.stringify({ ...metadata, redirect_uris: [...client.redirect_uris, 'https://attacker.example/cb'] }),
      });
      assert.equal(put.status, 200, await put.text());
      const page = await ua.get(`${a.url}/authorize?${authorizeQuery(client)}`);
      assert.ok(isConsentPage(page), 'the client changed where codes may go: ask again');
      // Consenting again makes it remembered again.
      await decide(ua, page, 'Allow');
      redirectedTo(await ua.get(`${a.url}/authorize?${authorizeQuery(client)}`), client.redirect_uris[0]!, 302);
    });

    test('unticking an optional scope grants only the ticked ones; the required ones cannot be left out', async () => {
      const client = await register();
      const ua = await signedIn();
      const query = authorizeQuery(client, { scope: 'profile notes:read notes:write' });
      const page = await consentPageFor(ua, query);
      assert.deepEqual(listedScopes(page.text), ['profile', 'notes:read', 'notes:write']);
      const allow = formWithButton(page.text, 'Allow');
      // profile and notes:read are the resource's default scopes: shown ticked and disabled; notes:write may be unticked.
      assert.ok(allow.fields.some((f) => f.name === 'scope:notes:write' && f.type === 'checkbox' && f.checked && !f.disabled));
      assert.ok(!allow.fields.some((f) => f.name === 'scope:profile' && f.type === 'checkbox'));
      assert.ok(allow.fields.some((f) => f.name === 'scope:profile' && f.type === 'hidden'));

      // Leaving out a required scope (only a crafted post can) is refused with the consent page again.
      const crafted = submission(allow);
      crafted.delete('scope:profile');
      const refused = await ua.post(`${a.url}/authorize/consent`, crafted);
      assert.equal(refused.status, 400);
      assert.equal(refused.location, null);
      assert.ok(isConsentPage(refused));
      assert.match(alertText(refused.text) ?? '', /profile cannot be left out/);
      // Nothing ticked at all is refused too.
      const none = submission(allow, { uncheck: ['scope:notes:write'] });
      for (const name of [...none.keys()]) if (name.startsWith('scope:')) none.delete(name);
      const empty = await ua.post(`${a.url}/authorize/consent`, none);
      assert.equal(empty.status, 400);
      assert.ok(isConsentPage(empty));
      // A scope the request did not ask for cannot be smuggled in.
      const smuggled = submission(allow, { uncheck: ['scope:notes:write'], set: { 'scope:admin': 'on' } });

      const res = await ua.post(`${a.url}/authorize/consent`, smuggled);
      const params = redirectedTo(res, client.redirect_uris[0]!, 303);
      assert.equal(params.get('state'), query.get('state'));
      const event = await codeEvent(params.get('code')!);
      assert.deepEqual(event.scopes, ['profile', 'notes:read'], 'the code carries only the ticked scopes');

      // The consent covers what was ticked, and nothing more.
      redirectedTo(await ua.get(`${a.url}/authorize?${authorizeQuery(client, { scope: 'profile notes:read' })}`), client.redirect_uris[0]!, 302);
      const writeAgain = await ua.get(`${a.url}/authorize?${authorizeQuery(client, { scope: 'notes:write' })}`);
      assert.ok(isConsentPage(writeAgain), 'notes:write was not granted: the consent page shows again');
      assert.deepEqual(listedScopes(writeAgain.text), ['notes:write']);
    });

    test('CSRF: the consent form posted without its token, with a wrong one, or cross-site is refused and nothing happens', async () => {
      const client = await register();
      const ua = await signedIn();
      const page = await consentPageFor(ua, authorizeQuery(client));
      const good = submission(formWithButton(page.text, 'Allow'));
      const withToken = (token: string | null) => {
        const body = new URLSearchParams(good);
        if (token === null) body.delete('_csrf');
        else body.set('_csrf', token);
        return body;
      };
      const attempts: Array<[string, () => Promise<Res>]> = [
        ['no token', () => ua.post(`${a.url}/authorize/consent`, withToken(null))],
        ['a wrong token', () => ua.post(`${a.url}/authorize/consent`, withToken(`${good.get('_csrf')!.slice(0, -2)}xx`))],
        ['a cross-site Origin', () => ua.post(`${a.url}/authorize/consent`, good, { origin: 'https://evil.example' })],
        ['Sec-Fetch-Site: cross-site', () => ua.post(`${a.url}/authorize/consent`, good, { headers: { 'Sec-Fetch-Site': 'cross-site' } })],
      ];
      for (const [what, attempt] of attempts) {
        const res = await attempt();
        assert.equal(res.status, 403, what);
        assert.equal(res.location, null, `${what}: no redirect, no code`);
        assert.ok(isErrorPage(res), what);
      }
      // Nothing was granted: the consent page is still asked for.
      assert.ok(isConsentPage(await ua.get(`${a.url}/authorize?${authorizeQuery(client)}`)));
      // The control: the genuine post works.
      redirectedTo(await ua.post(`${a.url}/authorize/consent`, good), client.redirect_uris[0]!, 303);
    });

    test('the consent form re-validates what it carries, and a post without a session asks to sign in', async () => {
      const client = await register();
      const ua = await signedIn();
      const page = await consentPageFor(ua, authorizeQuery(client));
      const good = submission(formWithButton(page.text, 'Allow'));
      const tampered = new URLSearchParams(good);
      tampered.set('redirect_uri', 'https://evil.example/cb');
      assertNoRedirect(await ua.post(`${a.url}/authorize/consent`, tampered), 'a tampered redirect_uri');
      const noDecision = new URLSearchParams(good);
      noDecision.set('decision', 'maybe');
      const maybe = await ua.post(`${a.url}/authorize/consent`, noDecision);
      assert.equal(maybe.status, 400);
      assert.equal(maybe.location, null);
      const twice = `${good}&decision=deny`;
      const dup = await fetch(`${a.url}/authorize/consent`, { method: 'POST', redirect: 'manual', headers: { 'Content-Type': 'application/x-www-form-urlencoded', Origin: issuer, Cookie: [...ua.jar].map(([k, v]) => `${k}=${v}`).join('; ') }, body: twice });
      const dupText = await dup.text();
      assert.equal(dup.status, 400, 'a parameter sent twice in the form is refused');
      assert.equal(dup.headers.get('location'), null);
      assert.ok(!STACK_TRACE.test(dupText));
      // The session ended in the meantime: the sign-in page, and no decision.
      const signedOut = new UserAgent(issuer);
      signedOut.jar.set('mcp_csrf', ua.jar.get('mcp_csrf')!);
      const res = await signedOut.post(`${a.url}/authorize/consent`, good);
      assert.equal(res.status, 401);
      assert.equal(res.location, null);
      assert.match(res.text, /<h1>Sign in<\/h1>/);
    });

    test('pages carry the security headers; the consent page names the client and its redirect host', async () => {
      const client = await register({ redirect_uris: ['https://app.example.com/cb'], client_name: 'Notes Agent' });
      const ua = new UserAgent(issuer);
      const query = authorizeQuery(client, { scope: 'profile notes:read notes:write' });
      const signInPage = await ua.get(`${a.url}/authorize?${query}`);
      const errorPage = await ua.get(`${a.url}/authorize?${authorizeQuery({ ...client, client_id: 'nope-nope-nope' })}`);
      const signedInUa = await signedIn();
      const consent = await consentPageFor(signedInUa, query);
      const account = await signedInUa.get(`${a.url}/account`);
      const forbidden = await ua.post(`${a.url}/signin`, {});
      for (const [what, res] of [['sign-in', signInPage], ['error', errorPage], ['consent', consent], ['account', account], ['403', forbidden]] as const) {
        const csp = res.headers.get('content-security-policy') ?? '';
        assert.match(csp, /frame-ancestors 'none'/, `${what}: CSP frame-ancestors`);
        assert.match(csp, /default-src 'none'/, `${what}: CSP default-src`);
        assert.doesNotMatch(csp, /script-src/, `${what}: no scripts allowed at all`);
        assert.equal(res.headers.get('x-content-type-options'), 'nosniff', what);
        assert.equal(res.headers.get('referrer-policy'), 'no-referrer', what);
        assert.equal(res.headers.get('x-frame-options'), 'DENY', what);
        assert.equal(res.headers.get('cache-control'), 'no-store', what);
        assert.match(res.headers.get('content-type') ?? '', /^text\/html; charset=utf-8/, what);
      }
      // The consent form may lead to the client's redirect origin, and nowhere else.
      assert.match(consent.headers.get('content-security-policy') ?? '', /form-action 'self' https:\/\/app\.example\.com(;|$)/);
      // So may the sign-in form for an authorization request: with a remembered consent, signing in leads
      // (through /authorize) straight to the client, and browsers apply form-action to redirects.
      assert.match(signInPage.headers.get('content-security-policy') ?? '', /form-action 'self' https:\/\/app\.example\.com(;|$)/);
      const failed = await ua.post(`${a.url}/signin`, submission(formWithButton(signInPage.text, 'Sign in'), { set: { username: 'alice', password: 'wrong-password' } }));
      assert.equal(failed.status, 401);
      assert.match(failed.headers.get('content-security-policy') ?? '', /form-action 'self' https:\/\/app\.example\.com(;|$)/, 'the form shown again after a failure too');
      // A return_to naming a redirect URI the client did not register widens nothing.
      const forgedReturn = `/authorize?${authorizeQuery(client, { redirect_uri: 'https://evil.example/cb' })}`;
      const forged = await ua.post(`${a.url}/signin`, submission(formWithButton(signInPage.text, 'Sign in'), { set: { username: 'alice', password: 'wrong-password', return_to: forgedReturn } }));
      assert.match(forged.headers.get('content-security-policy') ?? '', /form-action 'self'(;|$)/);
      assert.match(account.headers.get('content-security-policy') ?? '', /form-action 'self'(;|$)/, 'the account page posts only to itself');

      assert.match(consent.text, /Allow Notes Agent to access your account\?/);
      assert.match(consent.text, /registered itself/, 'says the client is self-registered (unverified)');
      assert.match(consent.text, /<code>app\.example\.com<\/code>/, 'the host it returns to');
      assert.match(consent.text, /Know who you are/);
      assert.match(consent.text, /Read your notes/);
      assert.match(consent.text, /Create and delete your notes/);
      assert.match(consent.text, /Signed in as <strong>alice<\/strong>/);
      assert.match(consent.text, new RegExp(`<code>${MCP_RESOURCE.replace(/[.]/g, '\\.')}</code>`), 'the resource');
      assert.deepEqual(formWithButton(consent.text, 'Deny').fields.find((f) => f.name === 'decision')?.value, 'deny');
      assert.notEqual(formWithButton(consent.text, 'Allow'), formWithButton(consent.text, 'Deny'), 'Allow and Deny are separate forms');
    });

    test('a hostile client_name is HTML-escaped everywhere it appears', async () => {
      const client = await register({ client_name: '<script>alert(1)</script>', redirect_uris: ['https://app.example.com/cb?a=1&b="2"'] });
      const ua = await signedIn();
      const signInPage = await new UserAgent(issuer).get(`${a.url}/authorize?${authorizeQuery(client)}`);
      const consent = await consentPageFor(ua, authorizeQuery(client, { state: '"><img src=x onerror=alert(2)>' }));
      for (const [what, res] of [['sign-in', signInPage], ['consent', consent]] as const) {
        assert.ok(!res.text.includes('<script>'), `${what}: no raw <script>`);
        assert.match(res.text, /&lt;script&gt;alert\(1\)&lt;\/script&gt;/, `${what}: the name shows, escaped`);
        assert.ok(!res.text.includes('<img'), `${what}: state is escaped in hidden fields`);
      }
      // The hidden fields round-trip exactly.
      const form = formWithButton(consent.text, 'Allow');
      assert.equal(form.fields.find((f) => f.name === 'state')?.value, '"><img src=x onerror=alert(2)>');
      assert.equal(form.fields.find((f) => f.name === 'redirect_uri')?.value, 'https://app.example.com/cb?a=1&b="2"');
      const res = await decide(ua, consent, 'Allow');
      const params = redirectedTo(res, 'https://app.example.com/cb', 303);
      assert.equal(params.get('state'), '"><img src=x onerror=alert(2)>');
      assert.equal(params.get('b'), '"2"');
      const account = await ua.get(`${a.url}/account`);
      assert.ok(!account.text.includes('<script>'));
      assert.match(account.text, /&lt;script&gt;alert\(1\)&lt;\/script&gt;/);
    });
  });

  // ------------------------------------------------------------------------------------------------
  describe('connected apps', () => {
    test('the account page lists a granted app; Revoke emits ConsentRevoked and the app disappears', async () => {
      const client = await register({ client_name: `Revocable ${random()}` });
      const keep = await register({ client_name: `Kept ${random()}` });
      const ua = await signedIn('carol', 'password789');
      const { event } = await allowAndGetCode(ua, client, authorizeQuery(client, { scope: 'profile notes:read notes:write' }));
      await allowAndGetCode(ua, keep, authorizeQuery(keep));

      const account = await ua.get(`${a.url}/account`);
      assert.equal(account.status, 200);
      assert.ok(account.text.includes(client.client_name), 'the app is listed by name');
      assert.ok(account.text.includes(keep.client_name));
      assert.match(account.text, /<code>notes:write<\/code>/, 'with its scopes');
      assert.ok(account.text.includes(`<code>${MCP_RESOURCE}</code>`), 'and the resource');
      assert.match(account.text, /since \d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC/, 'and since when');
      const revokeForm = forms(account.text).find((f) => f.fields.some((x) => x.name === 'client_id' && x.value === client.client_id));
      assert.ok(revokeForm, 'a Revoke form for the app');
      assert.ok(revokeForm.buttons.includes('Revoke access'));

      // Without its CSRF token, the revoke post does nothing.
      const forged = submission(revokeForm);
      forged.delete('_csrf');
      assert.equal((await ua.post(`${a.url}${revokeForm.action}`, forged)).status, 403);
      const stillGranted = await store.last(subjects.consent(event.consentId));
      assert.ok(stillGranted?.outcome.kind === 'event' && stillGranted.outcome.event.type === 'ConsentGranted');

      const res = await ua.post(`${a.url}${revokeForm.action}`, submission(revokeForm));
      assert.equal(res.status, 303);
      assert.match(res.location!, new RegExp(`^/account\\?revoked=${client.client_id}&at=\\d+$`));
      const revoked = await store.last(subjects.consent(event.consentId));
      assert.ok(revoked?.outcome.kind === 'event');
      assert.equal(revoked.outcome.event.type, 'ConsentRevoked');
      assert.deepEqual(revoked.outcome.event.data, { consentId: event.consentId, userId: userIdFor('carol'), clientId: client.client_id });
      assert.equal(revoked.outcome.event.metadata.actor.kind, 'user');

      // Followed on either replica (the other may not have applied the revocation yet), the app is gone.
      for (const service of [a, b]) {
        const after = await ua.get(`${service.url}${res.location}`);
        assert.ok(!forms(after.text).some((f) => f.fields.some((x) => x.name === 'client_id' && x.value === client.client_id)), 'the app is gone');
        assert.ok(after.text.includes(keep.client_name), 'the other app stays');
      }
      const notice = await ua.get(`${a.url}${res.location}`);
      assert.match(notice.text, /has no access to your account/);
      // A position from a crafted link beyond the stream's end, or not a number, is not waited for.
      for (const at of ['999999999999', 'x', '-1']) assert.equal((await ua.get(`${b.url}/account?at=${at}`)).status, 200, at);
      // A crafted link naming an app that still has access says nothing false about it.
      const crafted = await ua.get(`${a.url}/account?revoked=${encodeURIComponent(keep.client_id)}`);
      assert.doesNotMatch(crafted.text, /has no access to your account/);
      // The revoked consent is no longer remembered.
      assert.ok(isConsentPage(await ua.get(`${a.url}/authorize?${authorizeQuery(client, { scope: 'profile' })}`)));
    });
  });

  // ------------------------------------------------------------------------------------------------
  describe('two replicas', () => {
    test('sign in through one replica, consent through the other, right after registering', async () => {
      const client = await register();
      const ua = new UserAgent(issuer);
      const query = authorizeQuery(client, { scope: 'profile notes:write' });
      // The client was registered a moment ago: B waits for it rather than calling it unknown.
      const page = await ua.get(`${b.url}/authorize?${query}`);
      assert.ok(isSignInPage(page));
      const signIn = await ua.post(`${a.url}/signin`, submission(formWithButton(page.text, 'Sign in'), { set: { username: 'alice', password: 'password123' } }));
      assert.equal(signIn.status, 303);
      // At once on B: the session cookie names the position of its event, so B waits for it.
      const consent = await ua.get(`${b.url}${signIn.location}`);
      assert.ok(isConsentPage(consent), 'B knows the session A created');
      const res = await decide(ua, consent, 'Allow', {}, b);
      const params = redirectedTo(res, client.redirect_uris[0]!, 303);
      assert.equal(params.get('state'), query.get('state'));
      assert.equal(params.get('iss'), issuer);
      const event = await codeEvent(params.get('code')!);
      assert.deepEqual(event.scopes, ['profile', 'notes:write']);
      // And the consent given on B is remembered on A.
      redirectedTo(await ua.get(`${a.url}/authorize?${authorizeQuery(client, { scope: 'profile notes:write' })}`), client.redirect_uris[0]!, 302);
    });

    test('a replica whose event feed lags waits for the session and the client a request names, instead of refusing them', async () => {
      // B's connection to NATS runs through a proxy the test controls: with the feed from NATS held back,
      // B still answers HTTP but learns nothing new from the stream until the feed resumes.
      bFeed.pause();
      let client: Client;
      let account: Promise<Res>;
      let authorize: Promise<Res>;
      const ua = new UserAgent(issuer);
      let settled = 0;
      try {
        client = await register();
        const page = await ua.get(`${a.url}/authorize?${authorizeQuery(client)}`);
        const signIn = await ua.post(`${a.url}/signin`, submission(formWithButton(page.text, 'Sign in'), { set: { username: 'alice', password: 'password123' } }));
        assert.equal(signIn.status, 303);
        account = ua.get(`${b.url}/account`).finally(() => settled++);
        authorize = ua.get(`${b.url}${signIn.location}`).finally(() => settled++);
        await new Promise((resolve) => setTimeout(resolve, 400));
        assert.equal(settled, 0, 'B holds both requests while it has not seen the events they depend on');
      } finally {
        bFeed.resume();
      }
      const accountPage = await account;
      assert.match(accountPage.text, /Signed in as <strong>alice<\/strong>/, 'B waited for the session the cookie names, instead of signing alice out');
      const consent = await authorize;
      assert.ok(isConsentPage(consent), `B waited for the just-registered client: ${alertText(consent.text) ?? consent.text.slice(0, 300)}`);
      redirectedTo(await decide(ua, consent, 'Allow', {}, b), client.redirect_uris[0]!, 303);
    });
  });

  test('malformed input never produces a 5xx or a stack trace', async () => {
    const ua = await signedIn();
    const client = await register();
    const probes: Array<[string, RequestInit]> = [
      ['/authorize?%', {}],
      ['/authorize?client_id=%E0%A4%A', {}],
      [`/authorize?${authorizeQuery(client, { scope: '\u0000' })}`, {}],
      [`/authorize?${authorizeQuery(client, { redirect_uri: 'http://[::1' })}`, {}],
      [`/authorize?${authorizeQuery(client, { resource: 'http://[::1' })}`, {}],
      [`/authorize?${authorizeQuery(client, { client_id: 'x'.repeat(5000) })}`, {}],
      ['/signin', { method: 'POST', headers: { 'Content-Type': 'application/json', Origin: issuer }, body: '{"username":"alice"}' }],
      ['/signin', { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded', Origin: issuer }, body: 'x='.padEnd(40_000, 'y') }],
      ['/signin', { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded', Origin: issuer }, body: '%%%' }],
      ['/authorize/consent', { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded', Origin: issuer }, body: '' }],
      ['/account/apps/revoke', { method: 'POST', headers: { 'Content-Type': 'text/plain', Origin: issuer }, body: 'x' }],
      ['/assets/../../etc/passwd', {}],
    ];
    for (const [path, init] of probes) {
      const headers = { ...(init.headers as Record<string, string>), Cookie: [...ua.jar].map(([k, v]) => `${k}=${v}`).join('; ') };
      const response = await fetch(`${a.url}${path}`, { ...init, headers, redirect: 'manual' });
      const res: Res = { status: response.status, headers: response.headers, text: await response.text(), location: response.headers.get('location'), setCookies: [] };
      assertSane(res, path.slice(0, 60));
      assert.ok(res.status >= 300, `${path.slice(0, 60)}: refused (${res.status})`);
    }
    // Junk in the account page's notice parameter is ignored.
    const account = await ua.get(`${a.url}/account?revoked=%00%3Cb%3E`);
    assert.equal(account.status, 200);
    assert.doesNotMatch(account.text, /Access revoked|<b>/);
  });
});

// -----------------------------------------------------------------------------------------------------
// Throttling has its own NATS: failures are events, shared by every replica on the stream.
// -----------------------------------------------------------------------------------------------------
describe('sign-in throttling and rate limits', () => {
  let nats: NatsHandle;
  let proxied: ServiceProcess;
  let direct: ServiceProcess;
  let proxiedIssuer: string;
  let directIssuer: string;

  before(async () => {
    nats = await startNats();
    const [p1, p2] = [await freePort(), await freePort()];
    proxiedIssuer = `http://127.0.0.1:${p1}`;
    directIssuer = `http://127.0.0.1:${p2}`;
    const base = { NATS_URL: nats.url, SEED_USERS: 'alice:password123,bob:password456,carol:password789,dave:password000,erin:password111' };
    // Behind a trusted proxy, each test speaks from addresses of its own (X-Forwarded-For).
    proxied = await startService('authorization', {
      port: p1,
      env: { ...base, ISSUER: proxiedIssuer, TRUSTED_PROXY_HOPS: '1', SIGNIN_MAX_FAILURES_PER_ACCOUNT: '3', SIGNIN_MAX_FAILURES_PER_ADDRESS: '5', SIGNIN_RATE_LIMIT: '6' },
    });
    direct = await startService('authorization', {
      port: p2,
      env: { ...base, ISSUER: directIssuer, TRUSTED_PROXY_HOPS: '0', SIGNIN_MAX_FAILURES_PER_ACCOUNT: '100', SIGNIN_MAX_FAILURES_PER_ADDRESS: '3', SIGNIN_RATE_LIMIT: '0' },
    });
  });

  after(async () => {
    await Promise.all([proxied?.stop(), direct?.stop()]);
    await nats?.stop();
  });

  async function attempt(service: ServiceProcess, issuerUrl: string, username: string, password: string, from?: string): Promise<Res> {
    const ua = new UserAgent(issuerUrl);
    const headers: Record<string, string> = from ? { 'X-Forwarded-For': from } : {};
    const page = await ua.get(`${service.url}/account`, headers);
    return ua.post(`${service.url}/signin`, submission(formWithButton(page.text, 'Sign in'), { set: { username, password } }), { headers });
  }

  function assertThrottled(res: Res, what: string): void {
    assert.equal(res.status, 429, `${what}: ${res.status} ${alertText(res.text)}`);
    const retryAfter = Number(res.headers.get('retry-after'));
    assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 15 * 60, `${what}: Retry-After ${res.headers.get('retry-after')}`);
    assert.ok(!res.setCookies.some((c) => c.startsWith('mcp_session=')), `${what}: no session`);
    assert.equal(res.location, null);
  }

  test('after SIGNIN_MAX_FAILURES_PER_ACCOUNT failures even the right password gets 429; other accounts are unaffected', async () => {
    const from = '198.51.100.1';
    for (let i = 0; i < 3; i++) assert.equal((await attempt(proxied, proxiedIssuer, 'alice', `wrong-${i}-password`, from)).status, 401, `failure ${i + 1}`);
    const blocked = await attempt(proxied, proxiedIssuer, 'alice', 'password123', from);
    assertThrottled(blocked, 'the right password after 3 failures');
    assert.match(alertText(blocked.text) ?? '', /Too many failed sign-in attempts/);
    // The account is throttled from any address.
    assertThrottled(await attempt(proxied, proxiedIssuer, 'ALICE', 'password123', '198.51.100.2'), 'another address, same account');
    // Another account from the same address signs in.
    assert.equal((await attempt(proxied, proxiedIssuer, 'bob', 'password456', from)).status, 303);
    // The other replica on the stream knows of the failures too (its own limit is higher: it lets alice in).
    assert.equal((await attempt(direct, directIssuer, 'alice', 'password123')).status, 303, 'the direct replica has a limit of 100');
  });

  test('after SIGNIN_MAX_FAILURES_PER_ADDRESS failures from one address it is throttled, for every account; other addresses are not', async () => {
    const from = '203.0.113.7';
    for (let i = 0; i < 5; i++) assert.equal((await attempt(proxied, proxiedIssuer, `nobody${i}`, 'wrong-password', from)).status, 401, `failure ${i + 1}`);
    assertThrottled(await attempt(proxied, proxiedIssuer, 'carol', 'password789', from), 'a valid account from the throttled address');
    assert.equal((await attempt(proxied, proxiedIssuer, 'carol', 'password789', '203.0.113.8')).status, 303, 'another address');
  });

  test('without a trusted proxy, X-Forwarded-For does not dodge the per-address limit', async () => {
    for (let i = 0; i < 3; i++) {
      const res = await attempt(direct, directIssuer, `stranger${i}`, 'wrong-password', `192.0.2.${i + 1}`);
      assert.equal(res.status, 401, `failure ${i + 1}`);
    }
    assertThrottled(await attempt(direct, directIssuer, 'erin', 'password111', '192.0.2.200'), 'the real address is throttled, whatever X-Forwarded-For says');
  });

  test('SIGNIN_RATE_LIMIT caps sign-in posts per address with 429, even successful ones', async () => {
    const from = '198.51.100.77';
    for (let i = 0; i < 6; i++) assert.equal((await attempt(proxied, proxiedIssuer, 'dave', 'password000', from)).status, 303, `post ${i + 1}`);
    const limited = await attempt(proxied, proxiedIssuer, 'dave', 'password000', from);
    assertThrottled(limited, 'the 7th post in a minute');
    assert.match(limited.text, /Too many sign-in attempts from your network/);
    assert.equal((await attempt(proxied, proxiedIssuer, 'dave', 'password000', '198.51.100.78')).status, 303, 'another address is not limited');
  });
});
