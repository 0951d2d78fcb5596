import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose';
import { CLIENT_ASSERTION_TYPE } from '@mcp-auth/oauth';
import {
  BrowserlessUser,
  TEST_ADMIN_TOKEN,
  TestOAuthProvider,
  authorizationUrl,
  connectMcpClient,
  http,
  launchBrowserInBackground,
  loopbackCertificate,
  obtainTokens,
  pageText,
  pkcePair,
  startRedirectReceiver,
  startStack,
  type BackgroundBrowser,
  type HttpAnswer,
  type Json,
  type LoopbackCertificate,
  type RedirectReceiver,
  type TestStack,
} from '@mcp-auth/testing';

/**
 * Client ID Metadata Documents end to end: documents served over https from loopback (a test certificate the
 * services trust through NODE_EXTRA_CA_CERTS, as the SDK insists on https), fetched by the authorization service,
 * recorded as events, and used by authorization, token and MCP alike.
 */

const AGENT_REDIRECT = 'http://127.0.0.1:33418/callback';

/** Documents the test server serves, by path: a body and headers, or a function of the request. */
type Served = { status?: number; headers?: Record<string, string>; body: string };

class SdkDocumentAgent extends TestOAuthProvider {
  constructor(
    user: BrowserlessUser,
    readonly clientMetadataUrl: string,
  ) {
    super(user, { redirectUrl: AGENT_REDIRECT });
  }
}

describe('client ID metadata documents', () => {
  let cert: LoopbackCertificate;
  let documents: Server;
  let origin: string;
  let stack: TestStack;
  let receiver: RedirectReceiver;
  let browser: BackgroundBrowser;
  const served = new Map<string, Served>();
  const fetchesOf = new Map<string, number>();

  const documentUrl = (path: string) => `${origin}${path}`;
  const serveDocument = (path: string, document: Json, headers: Record<string, string> = {}) =>
    served.set(path, { headers: { 'content-type': 'application/json', 'cache-control': 'max-age=300', ...headers }, body: JSON.stringify({ client_id: documentUrl(path), ...document }) });

  before(async () => {
    browser = launchBrowserInBackground();
    cert = loopbackCertificate();
    documents = createServer({ key: cert.key, cert: cert.cert }, (req, res) => {
      const path = new URL(req.url ?? '/', 'https://x').pathname;
      fetchesOf.set(path, (fetchesOf.get(path) ?? 0) + 1);
      const document = served.get(path);
      if (!document) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(document.status ?? 200, document.headers ?? {}).end(document.body);
    });
    await new Promise<void>((resolve) => documents.listen(0, '127.0.0.1', resolve));
    origin = `https://127.0.0.1:${(documents.address() as AddressInfo).port}`;
    receiver = await startRedirectReceiver();
    // The development flag only where a loopback target is fetched: documents by authorization, key sets by token.
    // The second token replica runs without it, as a deployment would.
    const allowLoopback = { CLIENT_METADATA_ALLOW_PRIVATE_TARGETS: 'true' };
    stack = await startStack({
      admin: true,
      startTimeoutMs: 60_000,
      env: { NODE_EXTRA_CA_CERTS: cert.certFile, CLIENT_METADATA_CACHE_MIN_SECONDS: '1', CLIENT_METADATA_FETCHES_PER_MINUTE: '0' },
      serviceEnv: { authorization: allowLoopback, token: allowLoopback },
      extraTokens: [{ CLIENT_METADATA_ALLOW_PRIVATE_TARGETS: 'false' }],
    });
    await browser.settled();
  });

  after(async () => {
    await browser?.close();
    await receiver?.close();
    await stack?.stop();
    await new Promise((resolve) => documents?.close(resolve));
    cert?.remove();
  });

  /** The audit trail's entries of one type for a client (details in snake case, as the API gives them), once the admin service has them. */
  async function auditOf(type: string, clientId: string, atLeast = 1): Promise<Json[]> {
    let entries: Json[] = [];
    for (const deadline = Date.now() + 5_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 100))) {
      const audit = await http(`${stack.urls.admin}/admin/api/audit?type=${type}`, { headers: { Authorization: `Bearer ${TEST_ADMIN_TOKEN}` } });
      assert.equal(audit.status, 200, audit.text);
      entries = (audit.json!.events as Json[]).filter((e) => e.client_id === clientId);
      if (entries.length >= atLeast) break;
    }
    return entries;
  }

  function authorizeUrl(clientId: string, redirectUri = AGENT_REDIRECT, issuer = stack.urls.issuer): string {
    return authorizationUrl(issuer, { clientId, redirectUri, challenge: pkcePair().challenge, resource: stack.urls.resource });
  }

  test('the authorization server says it accepts metadata documents as client ids, public or with private_key_jwt', async () => {
    const metadata = await http(`${stack.urls.issuer}/.well-known/oauth-authorization-server`);
    assert.equal(metadata.json!.client_id_metadata_document_supported, true);
    const methods = metadata.json!.token_endpoint_auth_methods_supported as string[];
    assert.ok(methods.includes('none'), 'public document clients');
    assert.ok(methods.includes('private_key_jwt'), 'document clients with keys (ChatGPT)');
    assert.ok((metadata.json!.token_endpoint_auth_signing_alg_values_supported as string[]).includes('RS256'));
    assert.ok((metadata.json!.scopes_supported as string[]).includes('offline_access'));
  });

  test('the MCP SDK client with clientMetadataUrl goes through the whole flow to a tool call, never registering', async () => {
    serveDocument('/sdk-agent/client.json', { client_name: 'SDK Document Agent', redirect_uris: [AGENT_REDIRECT], grant_types: ['authorization_code', 'refresh_token'], token_endpoint_auth_method: 'none' });
    const clientId = documentUrl('/sdk-agent/client.json');
    const provider = new SdkDocumentAgent(new BrowserlessUser(stack.urls.issuer, 'alice', 'password123'), clientId);
    const registrations = async () => (await http(`${stack.urls.admin}/admin/api/audit?type=ClientRegistered`, { headers: { Authorization: `Bearer ${TEST_ADMIN_TOKEN}` } })).json!.events.length as number;
    const registeredBefore = await registrations();
    const { client } = await connectMcpClient(stack.urls.mcp, provider);
    try {
      assert.equal(provider.clientInformation()?.client_id, clientId, 'the SDK used the URL as its client_id');
      assert.equal(provider.authorizationUrls[0]!.searchParams.get('client_id'), clientId);
      const who = await client.callTool({ name: 'whoami', arguments: {} });
      assert.match(JSON.stringify(who.content), /alice/);
      const [whoText] = who.content as Array<{ type: string; text: string }>;
      assert.equal(JSON.parse(whoText!.text).client, `SDK Document Agent (${new URL(origin).host})`, 'a tool sees the document client by its name and verified host');
      assert.equal(fetchesOf.get('/sdk-agent/client.json'), 1, 'fetched once, by the authorization service only');
      const [fetched] = await auditOf('ClientMetadataDocumentFetched', clientId);
      assert.equal(fetched?.details.verified_host, new URL(origin).host);
      assert.equal(fetched?.details.localhost_only, true);
      assert.equal(fetched?.details.change, 'first document');
      assert.equal(await registrations(), registeredBefore, 'no dynamic registration');
    } finally {
      await client.close();
    }
  });

  test('a browser sees the verified host, the self-declared name and the localhost warning on the consent page, and gets a code', async () => {
    serveDocument('/browser-agent/client.json', { client_name: 'Browser Document Agent', redirect_uris: [receiver.redirectUri] });
    const clientId = documentUrl('/browser-agent/client.json');
    const context = await browser.get().newContext();
    context.setDefaultTimeout(10_000);
    try {
      const page = await context.newPage();
      await page.goto(authorizeUrl(clientId, receiver.redirectUri));
      await page.getByLabel('Username').fill('alice');
      await page.getByLabel('Password').fill('password123');
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('button', { name: 'Allow' }).waitFor();
      const heading = await page.getByRole('heading', { level: 1 }).innerText();
      assert.match(heading, new RegExp(`Browser Document Agent \\(${new URL(origin).host.replace(/\./g, '\\.')}\\)`));
      const verified = await page.locator('.verified-host').innerText();
      assert.match(verified, new RegExp(`described by ${new URL(origin).host.replace(/\./g, '\\.')}: that host is verified`));
      assert.match(verified, /calls itself Browser Document Agent, which is its own claim/);
      assert.match(await page.locator('.localhost-warning').innerText(), /any program running here could claim to be this application/);
      const [redirected] = await Promise.all([receiver.next(), page.getByRole('button', { name: 'Allow' }).click()]);
      assert.ok(redirected.query.get('code'), 'the code went to the redirect URI the document names');
    } finally {
      await context.close();
    }
  });

  test('unusable documents end on an error page that never redirects, and are recorded as refused', async () => {
    const valid = { client_name: 'Attacker', redirect_uris: [AGENT_REDIRECT] };
    serveDocument('/attack/real.json', valid);
    served.set('/attack/redirect.json', { status: 302, headers: { location: documentUrl('/attack/real.json') }, body: '' });
    serveDocument('/attack/big.json', { ...valid, padding: 'x'.repeat(10_000) });
    served.set('/attack/not-json.json', { headers: { 'content-type': 'application/json' }, body: '<html>not json</html>' });
    served.set('/attack/other-id.json', { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ client_id: documentUrl('/attack/real.json'), ...valid }) });
    serveDocument('/attack/secret.json', { ...valid, token_endpoint_auth_method: 'client_secret_basic' });
    const cases: Array<[string, RegExp, string]> = [
      ['/attack/redirect.json', /redirects are not followed/, 'redirect'],
      ['/attack/big.json', /larger than 5120 bytes/, 'too_large'],
      ['/attack/not-json.json', /not valid JSON/, 'invalid_document'],
      ['/attack/other-id.json', /client_id is not exactly the URL/, 'invalid_client_id'],
      ['/attack/secret.json', /token_endpoint_auth_method must be one of none, private_key_jwt/, 'invalid_document'],
      ['/attack/missing.json', /HTTP 404/, 'http_status'],
    ];
    for (const [path, message, reason] of cases) {
      const page = await http(authorizeUrl(documentUrl(path)));
      assert.equal(page.status, 400, `${path}: ${page.text.slice(0, 200)}`);
      assert.equal(page.headers.get('location'), null, `${path} is never redirected`);
      assert.match(pageText(page.text), message, path);
      const [refused] = await auditOf('ClientMetadataDocumentRefused', documentUrl(path));
      assert.equal(refused?.details.reason, reason, path);
    }
    const notAUrl = await http(authorizeUrl('http://example.com/client.json'));
    assert.equal(notAUrl.status, 400);
    assert.equal(notAUrl.headers.get('location'), null);
    assert.match(pageText(notAUrl.text), /must be an https URL/);
  });

  test('a redirect_uri the document does not name ends on the error page; nothing goes to it', async () => {
    serveDocument('/strict/client.json', { client_name: 'Strict', redirect_uris: [AGENT_REDIRECT] });
    for (const redirectUri of ['https://attacker.example/cb', 'http://127.0.0.1:33418/other']) {
      const page = await http(authorizeUrl(documentUrl('/strict/client.json'), redirectUri));
      assert.equal(page.status, 400);
      assert.equal(page.headers.get('location'), null);
      assert.match(pageText(page.text), /not one this application registered/);
    }
    // The loopback port is free (RFC 8252 §7.3), as for registered clients.
    const otherPort = await http(authorizeUrl(documentUrl('/strict/client.json'), 'http://127.0.0.1:40001/callback'));
    assert.equal(otherPort.status, 200, pageText(otherPort.text).slice(0, 200));
  });

  test('a document at a private address is refused unless the development setting is on', async () => {
    serveDocument('/private/client.json', { client_name: 'Private', redirect_uris: [AGENT_REDIRECT] });
    const strict = await stack.startAuthorization({ CLIENT_METADATA_ALLOW_PRIVATE_TARGETS: 'false' });
    const before = fetchesOf.get('/private/client.json') ?? 0;
    const page = await http(authorizeUrl(documentUrl('/private/client.json'), AGENT_REDIRECT, strict.url));
    assert.equal(page.status, 400);
    assert.equal(page.headers.get('location'), null);
    assert.match(pageText(page.text), /not allowed|private|loopback/i);
    assert.equal(fetchesOf.get('/private/client.json') ?? 0, before, 'no connection was made');
    const [refused] = await auditOf('ClientMetadataDocumentRefused', documentUrl('/private/client.json'));
    assert.equal(refused?.details.reason, 'refused_target');
  });

  test('one replica fetches a client_id once at a time, and each address only so often', async () => {
    serveDocument('/burst/client.json', { client_name: 'Burst', redirect_uris: [AGENT_REDIRECT] });
    const pages = await Promise.all(Array.from({ length: 5 }, () => http(authorizeUrl(documentUrl('/burst/client.json')))));
    for (const page of pages) assert.equal(page.status, 200, pageText(page.text).slice(0, 200));
    assert.equal(fetchesOf.get('/burst/client.json'), 1, 'five requests at once, one fetch');

    const limited = await stack.startAuthorization({ CLIENT_METADATA_FETCHES_PER_MINUTE: '2' });
    const answers = [];
    for (const n of [1, 2, 3]) {
      serveDocument(`/limited/${n}.json`, { client_name: `Limited ${n}`, redirect_uris: [AGENT_REDIRECT] });
      answers.push(await http(authorizeUrl(documentUrl(`/limited/${n}.json`), AGENT_REDIRECT, limited.url)));
    }
    assert.deepEqual(answers.map((a) => a.status), [200, 200, 429]);
    assert.equal(answers[2]!.headers.get('location'), null);
    assert.ok(Number(answers[2]!.headers.get('retry-after')) >= 1);
    assert.equal(fetchesOf.get('/limited/3.json') ?? 0, 0, 'the third was never fetched');
    // A document recorded by another replica needs no fetch, so no rate limit applies to it.
    assert.equal((await http(authorizeUrl(documentUrl('/burst/client.json'), AGENT_REDIRECT, limited.url))).status, 200);
  });

  test('the token endpoint knows a document client only once its document is recorded, and never fetches it', async () => {
    serveDocument('/token-only/client.json', { client_name: 'Never authorized', redirect_uris: [AGENT_REDIRECT] });
    const answer = await http(`${stack.urls.token}/token`, {
      method: 'POST',
      form: { grant_type: 'authorization_code', code: 'x'.repeat(43) + '.1', redirect_uri: AGENT_REDIRECT, code_verifier: 'v'.repeat(43), client_id: documentUrl('/token-only/client.json') },
    });
    assert.equal(answer.status, 401);
    assert.equal(answer.json!.error, 'invalid_client');
    assert.equal(fetchesOf.get('/token-only/client.json') ?? 0, 0);
  });

  test('once stale, a document is fetched again: the same bytes are refreshed, changed ones recorded with what changed, and consent is asked again', async () => {
    const path = '/changing/client.json';
    const fresh = { 'cache-control': 'max-age=2' };
    const stale = () => new Promise((r) => setTimeout(r, 2_100));
    serveDocument(path, { client_name: 'Changing Agent', redirect_uris: [AGENT_REDIRECT] }, fresh);
    const clientId = documentUrl(path);
    const alice = new BrowserlessUser(stack.urls.issuer, 'alice', 'password123');
    const client = { client_id: clientId, redirect_uris: [AGENT_REDIRECT] };
    const fetches = () => fetchesOf.get(path) ?? 0;
    assert.ok((await obtainTokens(stack.urls, alice, client)).access_token);
    assert.equal(alice.consentPagesAnswered, 1);

    await stale();
    let before = fetches();
    await obtainTokens(stack.urls, alice, client);
    assert.equal(fetches(), before + 1, 'fetched again once stale, once');
    assert.equal(alice.consentPagesAnswered, 1, 'the same document: the consent is remembered');
    const [refreshed] = await auditOf('ClientMetadataDocumentRefreshed', clientId);
    assert.equal(refreshed?.details.change, 'document unchanged');

    serveDocument(path, { client_name: 'Changing Agent, renamed', redirect_uris: [AGENT_REDIRECT] }, fresh);
    await stale();
    before = fetches();
    await obtainTokens(stack.urls, alice, client);
    assert.equal(fetches(), before + 1, 'the consent form is answered from what was recorded, not fetched again');
    assert.equal(alice.consentPagesAnswered, 2, 'a renamed client is asked about again');
    const fetched = await auditOf('ClientMetadataDocumentFetched', clientId, 2);
    assert.deepEqual(fetched.map((e) => e.details.change).sort(), ['document changed: client_name', 'first document']);
  });
  test('the admin API and console list a document client by its verified host and name, read-only', async () => {
    serveDocument('/admin-listed/client.json', { client_name: 'Listed Document Agent', redirect_uris: [AGENT_REDIRECT] });
    const clientId = documentUrl('/admin-listed/client.json');
    const host = new URL(origin).host;
    await obtainTokens(stack.urls, new BrowserlessUser(stack.urls.issuer, 'alice', 'password123'), { client_id: clientId, redirect_uris: [AGENT_REDIRECT] });
    const admin = (path: string, init: Parameters<typeof http>[1] = {}) => http(`${stack.urls.admin}/admin/api${path}`, { ...init, headers: { Authorization: `Bearer ${TEST_ADMIN_TOKEN}` } });

    let listed: Json | undefined;
    for (const deadline = Date.now() + 5_000; !listed?.live_grants && Date.now() < deadline; await new Promise((r) => setTimeout(r, 100))) {
      const clients = await admin(`/clients?q=${encodeURIComponent('Listed Document')}`);
      assert.equal(clients.status, 200, clients.text);
      listed = (clients.json!.clients as Json[]).find((c) => c.client_id === clientId);
    }
    assert.ok(listed, 'a document client, which has no registration, is listed');
    assert.equal(listed.source, 'document');
    assert.equal(listed.verified_host, host);
    assert.equal(listed.client_name, 'Listed Document Agent');
    assert.equal(listed.status, 'active');
    assert.equal(listed.live_grants, 1);
    assert.ok((await admin(`/clients?q=${encodeURIComponent(host)}`)).json!.clients.some((c: Json) => c.client_id === clientId), 'found by its host');

    const one = await admin(`/clients/${encodeURIComponent(clientId)}`);
    assert.equal(one.status, 200, one.text);
    assert.equal(one.json!.verified_host, host);
    const [grant] = one.json!.grants as Json[];
    assert.equal(grant?.client_name, 'Listed Document Agent');
    assert.equal(grant?.client_verified_host, host);
    const grants = await admin(`/grants?client=${encodeURIComponent(clientId)}`);
    assert.equal(grants.json!.grants[0]?.client_verified_host, host);

    const deletion = await admin(`/clients/${encodeURIComponent(clientId)}`, { method: 'DELETE' });
    assert.equal(deletion.status, 409, deletion.text);
    assert.equal(deletion.json!.error, 'client_not_deletable');
    assert.match(deletion.json!.error_description, /metadata document.*no registration to delete or expire/);
    assert.equal((await admin(`/clients/${encodeURIComponent(documentUrl('/admin-unknown/client.json'))}`, { method: 'DELETE' })).status, 404);
    assert.equal((await admin(`/clients/${encodeURIComponent(clientId)}`)).json!.live_grants, 1, 'nothing ended');

    const context = await browser.get().newContext();
    context.setDefaultTimeout(10_000);
    try {
      const page = await context.newPage();
      await page.goto(`${stack.urls.admin}/admin`);
      await page.getByLabel('Admin token').fill(TEST_ADMIN_TOKEN);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('heading', { name: 'Activity' }).waitFor();
      await page.goto(`${stack.urls.admin}/admin/clients?q=${encodeURIComponent('Listed Document')}`);
      const row = page.getByRole('row').filter({ hasText: 'Listed Document Agent' });
      assert.match(await row.innerText(), new RegExp(`its document at ${host.replace(/\./g, '\\.')} \\(verified\\)`));
      assert.match(await row.innerText(), /not deletable: no registration/);
      assert.equal(await row.getByRole('button', { name: 'Delete' }).count(), 0, 'no delete button for a document client');
      await page.goto(`${stack.urls.admin}/admin/grants?client=${encodeURIComponent(clientId)}`);
      assert.match(await page.locator('main').innerText(), new RegExp(`Listed Document Agent \\(${host.replace(/\./g, '\\.')}\\)`));
    } finally {
      await context.close();
    }
  });

  type Signer = { key: CryptoKey; kid: string; alg: string; publicJwk: JWK };

  async function signer(alg: string): Promise<Signer> {
    const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
    const kid = randomUUID();
    return { key: privateKey, kid, alg, publicJwk: { ...(await exportJWK(publicKey)), kid, alg } };
  }

  /** An RFC 7523 client assertion, addressed to the token endpoint the deployment names. */
  function clientAssertion(clientId: string, s: Signer): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ jti: randomUUID() })
      .setProtectedHeader({ alg: s.alg, kid: s.kid })
      .setIssuer(clientId)
      .setSubject(clientId)
      .setAudience(`${stack.urls.token}/token`)
      .setIssuedAt(now)
      .setExpirationTime(now + 60)
      .sign(s.key);
  }

  /** An authorization code for a document client, as alice consents to it. */
  async function codeFor(clientId: string): Promise<{ code: string; verifier: string }> {
    const { verifier, challenge } = pkcePair();
    const query = await new BrowserlessUser(stack.urls.issuer, 'alice', 'password123').authorize(
      authorizationUrl(stack.urls.issuer, { clientId, redirectUri: AGENT_REDIRECT, challenge, resource: stack.urls.resource }),
    );
    const code = query.get('code');
    assert.ok(code, `authorization failed: ${query}`);
    return { code, verifier };
  }

  function tokenRequest(base: string, form: Record<string, string>, assertion?: string) {
    const authentication: Record<string, string> = assertion ? { client_assertion_type: CLIENT_ASSERTION_TYPE, client_assertion: assertion } : {};
    return http(`${base}/token`, { method: 'POST', form: { resource: stack.urls.resource, ...form, ...authentication } });
  }

  function exchange(base: string, clientId: string, { code, verifier }: { code: string; verifier: string }, assertion?: string) {
    return tokenRequest(base, { grant_type: 'authorization_code', code, redirect_uri: AGENT_REDIRECT, code_verifier: verifier, client_id: clientId }, assertion);
  }

  function assertInvalidClient(answer: HttpAnswer, what: string): void {
    assert.equal(answer.status, 401, `${what}: ${answer.text}`);
    assert.equal(answer.json?.error, 'invalid_client', `${what}: ${answer.text}`);
  }

  test('a document declaring private_key_jwt with inline keys authenticates at /token with a signed assertion, used once, and never as a public client', async () => {
    const s = await signer('ES256');
    serveDocument('/keyed/client.json', {
      client_name: 'Keyed Document Agent',
      redirect_uris: [AGENT_REDIRECT],
      grant_types: ['authorization_code', 'refresh_token'],
      token_endpoint_auth_method: 'private_key_jwt',
      jwks: { keys: [s.publicJwk] },
    });
    const clientId = documentUrl('/keyed/client.json');
    const granted = await codeFor(clientId);
    assertInvalidClient(await exchange(stack.urls.token, clientId, granted), 'no assertion: the client presents itself as public');
    const stranger = await signer('ES256');
    assertInvalidClient(await exchange(stack.urls.token, clientId, granted, await clientAssertion(clientId, { ...stranger, kid: s.kid })), 'signed with a key the document does not hold');

    const first = await clientAssertion(clientId, s);
    const tokens = await exchange(stack.urls.token, clientId, granted, first);
    assert.equal(tokens.status, 200, tokens.text);
    assert.ok(tokens.json!.refresh_token);

    const refresh = (assertion?: string) => tokenRequest(stack.urls.token, { grant_type: 'refresh_token', refresh_token: tokens.json!.refresh_token, ...(assertion ? {} : { client_id: clientId }) }, assertion);
    assertInvalidClient(await refresh(first), 'the same assertion again');
    assertInvalidClient(await refresh(), 'a refresh without an assertion');
    // Inline keys need no fetch: the replica without the development flag verifies them too.
    const elsewhere = await tokenRequest(stack.tokens[1]!.url, { grant_type: 'refresh_token', refresh_token: tokens.json!.refresh_token }, await clientAssertion(clientId, s));
    assert.equal(elsewhere.status, 200, elsewhere.text);
  });

  test('a document that declares none cannot authenticate with an assertion instead', async () => {
    const s = await signer('ES256');
    serveDocument('/public-agent/client.json', { client_name: 'Public Document Agent', redirect_uris: [AGENT_REDIRECT], token_endpoint_auth_method: 'none' });
    const clientId = documentUrl('/public-agent/client.json');
    const granted = await codeFor(clientId);
    assertInvalidClient(await exchange(stack.urls.token, clientId, granted, await clientAssertion(clientId, s)), 'an assertion from a public document client');
    assert.equal((await exchange(stack.urls.token, clientId, granted)).status, 200, 'the failed attempt did not spend the code');
  });

  test('ChatGPT-style: RS256 keys at a jwks_uri on the document host, fetched by token only with the development flag', async () => {
    const s = await signer('RS256');
    served.set('/chatgpt/jwks.json', { headers: { 'content-type': 'application/json', 'cache-control': 'max-age=3600' }, body: JSON.stringify({ keys: [s.publicJwk] }) });
    serveDocument('/chatgpt/client.json', {
      client_name: 'ChatGPT-style connector',
      redirect_uris: [AGENT_REDIRECT],
      grant_types: ['authorization_code', 'refresh_token'],
      token_endpoint_auth_method: 'private_key_jwt',
      token_endpoint_auth_signing_alg: 'RS256',
      jwks_uri: documentUrl('/chatgpt/jwks.json'),
    });
    const clientId = documentUrl('/chatgpt/client.json');
    const keyFetches = () => fetchesOf.get('/chatgpt/jwks.json') ?? 0;

    // Without the flag, the key set at a loopback address is never fetched, so the client cannot authenticate.
    const strictCode = await codeFor(clientId);
    assertInvalidClient(await exchange(stack.tokens[1]!.url, clientId, strictCode, await clientAssertion(clientId, s)), 'a private jwks_uri without the development flag');
    assert.equal(keyFetches(), 0, 'no connection was made');

    const granted = await codeFor(clientId);
    const first = await clientAssertion(clientId, s);
    const tokens = await exchange(stack.urls.token, clientId, granted, first);
    assert.equal(tokens.status, 200, tokens.text);
    assert.equal(keyFetches(), 1);
    assertInvalidClient(await tokenRequest(stack.urls.token, { grant_type: 'refresh_token', refresh_token: tokens.json!.refresh_token }, first), 'a replayed assertion');
    const es = await signer('ES256');
    served.set('/chatgpt/jwks.json', { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ keys: [s.publicJwk, es.publicJwk] }) });
    assertInvalidClient(await tokenRequest(stack.urls.token, { grant_type: 'refresh_token', refresh_token: tokens.json!.refresh_token }, await clientAssertion(clientId, es)), 'an algorithm other than the document\'s');
    const again = await tokenRequest(stack.urls.token, { grant_type: 'refresh_token', refresh_token: tokens.json!.refresh_token }, await clientAssertion(clientId, s));
    assert.equal(again.status, 200, again.text);
  });
});
