// Every route of every service, sent what an attacker or a broken client sends: malformed and oversized bodies,
// wrong types for every field, duplicated and odd parameters, broken credentials. Whatever the answer, it is a
// 4xx (or a 2xx/3xx where the input is merely unusual), comes within seconds, carries no stack trace or
// internal detail, and no service logs an error for it.
import assert from 'node:assert/strict';
import { after, before, describe, test, type TestContext } from 'node:test';
import { BrowserlessUser, TEST_ADMIN_TOKEN, http, obtainTokens, registerPublicClient, startStack, type TestStack } from '@mcp-auth/testing';

type Hostile = { method: string; url: string; body?: string; headers?: Record<string, string> };

const JSON_TYPE = { 'Content-Type': 'application/json' };
const FORM_TYPE = { 'Content-Type': 'application/x-www-form-urlencoded' };
const LEAKS = /\bat [\w.<>]+ \(|node_modules|\/src\/|SqliteError|ZodError|TypeError|ReferenceError|RangeError/;

/** Bodies no endpoint should choke on, under any content type. */
const MALFORMED_BODIES = [
  '',
  'null',
  '[]',
  '{',
  '{"a":',
  '"text"',
  '1',
  '\u0000',
  '{"__proto__":{"polluted":1}}',
  '{"constructor":{"prototype":{"polluted":1}}}',
  Buffer.from([0xff, 0xfe, 0xfd]).toString('latin1'),
  '{"a":"\\ud800"}',
];
/** Values of the wrong type, size or encoding, for any field. */
const WRONG_VALUES: unknown[] = [null, true, 0, -1, 1e308, '', [], {}, [null], [[[]]], 'A'.repeat(100_000), '\u0000', '\ud800', { constructor: 'x' }];
const CONTENT_TYPES: Array<Record<string, string>> = [JSON_TYPE, FORM_TYPE, { 'Content-Type': 'text/plain' }, {}];

async function send(request: Hostile): Promise<string | null> {
  const where = `${request.method} ${request.url.slice(0, 100)} ${JSON.stringify(request.headers ?? {}).slice(0, 80)} ${String(request.body ?? '').slice(0, 60)}`;
  try {
    const res = await http(request.url, { method: request.method, headers: request.headers, body: request.body, signal: AbortSignal.timeout(10_000) });
    if (res.status >= 500) return `${where} -> ${res.status} ${res.text.slice(0, 200)}`;
    if (LEAKS.test(res.text)) return `${where} -> ${res.status} leaks: ${res.text.slice(0, 200)}`;
    return null;
  } catch (err) {
    return `${where} -> no answer: ${String(err)}`;
  }
}

/** Sends them a few at a time and returns every answer that is a problem. */
async function problemsOf(requests: Hostile[]): Promise<string[]> {
  const problems: string[] = [];
  for (let i = 0; i < requests.length; i += 8) {
    for (const problem of await Promise.all(requests.slice(i, i + 8).map(send))) if (problem) problems.push(problem);
  }
  return problems;
}

function assertNone(t: TestContext, problems: string[], sent: number): void {
  t.diagnostic(`${sent} hostile requests`);
  assert.deepEqual(problems.slice(0, 20), [], `${problems.length} of ${sent} hostile requests were mishandled`);
}

describe('hostile input at every route: 4xx, never a 5xx, a hang or a leak', () => {
  let stack: TestStack;
  let clientId: string;
  let registrationToken: string;
  let accessToken: string;

  before(async () => {
    // Rate limits off, so that every request reaches the code that parses it.
    stack = await startStack({ admin: true, env: { REGISTRATION_RATE_LIMIT: '0', REREGISTRATION_RATE_LIMIT: '0', SIGNIN_RATE_LIMIT: '0' } });
    const client = await registerPublicClient(stack.urls);
    clientId = client.client_id;
    registrationToken = client.registration_access_token;
    accessToken = (await obtainTokens(stack.urls, new BrowserlessUser(stack.urls.issuer, 'alice', 'password123'), client)).access_token;
  });
  after(async () => stack?.stop());

  test('registration (RFC 7591/7592)', async (t) => {
    const R = stack.urls.registration;
    const requests: Hostile[] = [];
    for (const body of MALFORMED_BODIES) for (const headers of CONTENT_TYPES) requests.push({ method: 'POST', url: `${R}/register`, body, headers });
    const fields = ['redirect_uris', 'token_endpoint_auth_method', 'grant_types', 'response_types', 'client_name', 'client_uri', 'logo_uri', 'scope', 'contacts', 'tos_uri', 'policy_uri', 'jwks_uri', 'jwks', 'software_id', 'software_version', 'application_type', 'software_statement', 'client_id', 'client_secret'];
    for (const field of fields) {
      for (const value of WRONG_VALUES) requests.push({ method: 'POST', url: `${R}/register`, headers: JSON_TYPE, body: JSON.stringify({ redirect_uris: ['http://127.0.0.1:9/cb'], token_endpoint_auth_method: 'none', [field]: value }) });
    }
    const uris = ['javascript:alert(1)', 'http://127.0.0.1:99999/cb', 'http://user:pw@127.0.0.1/cb', 'https://example.com/cb#frag', 'custom.scheme:/cb', 'http://%00/cb', `http://127.0.0.1:9/${'a'.repeat(5000)}`, 'data:text/html,x', 'file:///etc/passwd', '//evil.example', 'http://127.1/cb'];
    for (const uri of uris) requests.push({ method: 'POST', url: `${R}/register`, headers: JSON_TYPE, body: JSON.stringify({ redirect_uris: [uri], token_endpoint_auth_method: 'none' }) });
    for (const id of ['x', '..', '%2e%2e', 'a'.repeat(500), '%00', '%ff', "'", clientId]) {
      for (const authorization of ['Bearer abc', 'Basic !!!', `Bearer ${registrationToken}`]) {
        requests.push({ method: 'GET', url: `${R}/register/${id}`, headers: { Authorization: authorization } });
        for (const body of ['{}', '[]', 'null', `{"client_id":"${clientId}","redirect_uris":"x"}`, `{"client_id":"${clientId}","client_secret":{}}`]) {
          requests.push({ method: 'PUT', url: `${R}/register/${id}`, headers: { Authorization: authorization, ...JSON_TYPE }, body });
        }
      }
      requests.push({ method: 'DELETE', url: `${R}/register/${id}`, headers: { Authorization: 'Bearer abc' } });
    }
    assertNone(t, await problemsOf(requests), requests.length);
  });

  test('authorization: /authorize, sign-in, consent, account', async (t) => {
    const A = stack.urls.issuer;
    const requests: Hostile[] = [];
    const valid: Record<string, string> = {
      response_type: 'code',
      client_id: clientId,
      redirect_uri: 'http://127.0.0.1:9/cb',
      code_challenge: 'a'.repeat(43),
      code_challenge_method: 'S256',
      resource: stack.urls.resource,
      state: 's',
    };
    const params = ['response_type', 'client_id', 'redirect_uri', 'scope', 'state', 'code_challenge', 'code_challenge_method', 'resource', 'prompt', 'request', 'request_uri'];
    for (const param of params) {
      for (const value of ['', 'x', '\u0000', 'a'.repeat(10_000), '\ud800', 'S256 plain', 'http://evil.example/']) {
        const query = new URLSearchParams({ ...valid, [param]: value });
        requests.push({ method: 'GET', url: `${A}/authorize?${query}` }, { method: 'GET', url: `${A}/authorize?${query}&${param}=again` });
      }
    }
    requests.push({ method: 'GET', url: `${A}/authorize?%ZZ=1` }, { method: 'GET', url: `${A}/authorize?client_id[]=1&client_id[x]=2` }, { method: 'GET', url: `${A}/authorize?${'a=1&'.repeat(5000)}` });
    const forms = [...MALFORMED_BODIES, 'username=alice&password=x', 'username[]=a&password[]=b', `username=${'a'.repeat(100_000)}`, `csrf=x&decision=allow&request=${'z'.repeat(3000)}`];
    for (const path of ['/signin', '/authorize/consent', '/signout', '/account/apps/revoke']) {
      for (const body of forms) for (const headers of [FORM_TYPE, JSON_TYPE]) requests.push({ method: 'POST', url: `${A}${path}`, body, headers });
    }
    requests.push({ method: 'GET', url: `${A}/account`, headers: { Cookie: `session=${'x'.repeat(5000)}` } }, { method: 'GET', url: `${A}/account`, headers: { Cookie: '%%%; ;;; =; session' } });
    assertNone(t, await problemsOf(requests), requests.length);
  });

  test('token: /token, /revoke, /introspect', async (t) => {
    const T = stack.urls.token;
    const requests: Hostile[] = [];
    const basic = (credentials: string) => ({ ...FORM_TYPE, Authorization: `Basic ${Buffer.from(credentials).toString('base64')}` });
    const authentications = [FORM_TYPE, JSON_TYPE, basic('a:b'), basic(`${clientId}:`), basic('%zz:%zz'), { ...FORM_TYPE, Authorization: 'Basic !!!' }];
    const extras = ['', '&code=x', '&refresh_token=x', '&code=x&code=y', `&client_id=${clientId}`, `&client_id=${clientId}&code=x&code_verifier=${'a'.repeat(200)}&redirect_uri=http://127.0.0.1:9/cb`, '&resource=%00', `&scope=${'x '.repeat(1000)}`];
    for (const grant of ['authorization_code', 'refresh_token', 'client_credentials', 'password', '', 'x']) {
      for (const extra of extras) for (const headers of authentications) requests.push({ method: 'POST', url: `${T}/token`, body: `grant_type=${grant}${extra}`, headers });
    }
    for (const body of MALFORMED_BODIES) requests.push({ method: 'POST', url: `${T}/token`, body, headers: FORM_TYPE });
    const tokens = ['token=x', 'token=x&token_type_hint=access_token', 'token=a.b.c', 'token=eyJhbGciOiJub25lIn0.e30.', `token=${'x'.repeat(100_000)}`, `token=${accessToken}&token_type_hint=refresh_token`];
    for (const path of ['/revoke', '/introspect']) {
      for (const body of [...MALFORMED_BODIES, ...tokens]) for (const headers of [FORM_TYPE, JSON_TYPE, basic('a:b'), { ...FORM_TYPE, Authorization: 'Bearer x' }]) requests.push({ method: 'POST', url: `${T}${path}`, body, headers });
    }
    assertNone(t, await problemsOf(requests), requests.length);
  });

  test('MCP: /mcp without, with broken and with a valid token', async (t) => {
    const url = stack.urls.mcp;
    const headers = { ...JSON_TYPE, Accept: 'application/json, text/event-stream', 'MCP-Protocol-Version': '2025-06-18' };
    const requests: Hostile[] = [];
    const calls = [
      ...MALFORMED_BODIES,
      '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo"}}',
      '[{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":123}}]',
      ...WRONG_VALUES.map((value) => JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', arguments: { message: value } } })),
      ...WRONG_VALUES.map((value) => JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'notes_create', arguments: value } })),
      ...['tools/list', 'initialize', 'resources/list', 'x', ''].flatMap((method) => [undefined, null, 1, 'x', [], { cursor: '%%%' }].map((params) => JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }))),
      ...[null, {}, [], 1.5, 'x'.repeat(10_000), true].map((id) => JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/list' })),
      JSON.stringify(Array.from({ length: 500 }, (_, id) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'echo', arguments: { message: 'x' } } }))),
    ];
    for (const authorization of [undefined, 'Bearer x', 'Bearer a.b.c', 'Bearer eyJhbGciOiJub25lIn0.e30.', 'Basic x', `Bearer ${'x'.repeat(20_000)}`, 'bearer  x', `Bearer ${accessToken}`]) {
      for (const body of calls) requests.push({ method: 'POST', url, body, headers: authorization ? { ...headers, Authorization: authorization } : headers });
    }
    for (const method of ['GET', 'DELETE', 'PUT', 'PATCH', 'OPTIONS']) requests.push({ method, url, headers: { Origin: 'http://evil.example' } });
    requests.push({ method: 'POST', url: `${url}?access_token=x`, body: '{}', headers });
    assertNone(t, await problemsOf(requests), requests.length);
  });

  test('admin: API and console', async (t) => {
    const base = stack.urls.admin;
    const admin = { Authorization: `Bearer ${TEST_ADMIN_TOKEN}` };
    const requests: Hostile[] = [];
    const queries = ['', '?limit=-1', '?limit=abc', '?limit=99999999999', '?cursor=%%%', `?cursor=${'a'.repeat(3000)}`, '?from=notadate&to=x', '?type=x&type=y', '?user=x&client=y&grant=z&outcome=x', '?format=x'];
    for (const path of ['/clients', '/clients/x', '/grants', '/users', '/users/x', '/audit', '/audit/export', '/signing-keys', '/webhooks', '/webhooks/x', '/webhooks/deliveries']) {
      for (const query of queries) requests.push({ method: 'GET', url: `${base}/admin/api${path}${query}`, headers: admin });
    }
    const webhooks = [...MALFORMED_BODIES, '{"url":"ftp://x","eventTypes":[]}', `{"url":"${'h'.repeat(10_000)}"}`, '{"url":"https://example.com","eventTypes":"x"}'];
    for (const body of webhooks) requests.push({ method: 'POST', url: `${base}/admin/api/webhooks`, body, headers: { ...admin, ...JSON_TYPE } });
    for (const path of ['/grants/x/revoke', '/webhooks/deliveries/x/retry']) requests.push({ method: 'POST', url: `${base}/admin/api${path}`, body: '{}', headers: { ...admin, ...JSON_TYPE } });
    requests.push({ method: 'DELETE', url: `${base}/admin/api/clients/%ff`, headers: admin }, { method: 'GET', url: `${base}/admin/api/clients`, headers: { Authorization: 'Bearer wrong' } });
    for (const path of ['/admin', '/admin/clients', '/admin/grants', '/admin/keys', '/admin/users', '/admin/webhooks', '/admin/audit/export?from=x']) {
      requests.push({ method: 'GET', url: `${base}${path}`, headers: { Cookie: 'admin_session=garbage' } });
    }
    for (const body of ['token=x', '', 'token[]=a', `token=${'x'.repeat(100_000)}`]) requests.push({ method: 'POST', url: `${base}/admin/sign-in`, body, headers: FORM_TYPE });
    assertNone(t, await problemsOf(requests), requests.length);
  });

  test('no service logged an error for any of it', () => {
    const services = [stack.registration, stack.authorization, ...stack.tokens, ...stack.mcp, stack.admin!];
    for (const service of services) {
      const errors = service
        .output()
        .split('\n')
        .filter((line) => /"level":(50|60)/.test(line));
      assert.deepEqual(errors.slice(0, 5), [], `${service.name} logged errors`);
    }
  });
});
