import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { checkClientIdUrl, looksLikeClientIdUrl, validateClientMetadataDocument, type DocumentResponse } from '../src/index.ts';

const CLIENT_ID = 'https://vscode.dev/oauth/client-metadata.json';

/** A document as VS Code publishes one: a public client with loopback and web redirect URIs. */
const vscodeLike = {
  client_id: CLIENT_ID,
  client_name: 'Visual Studio Code',
  client_uri: 'https://code.visualstudio.com',
  redirect_uris: ['http://127.0.0.1:33418/', 'https://vscode.dev/redirect'],
  grant_types: ['authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:device_code'],
  response_types: ['code'],
  token_endpoint_auth_method: 'none',
};

const json = (document: unknown, contentType: string | undefined = 'application/json'): DocumentResponse => ({ contentType, body: Buffer.from(JSON.stringify(document)) });
const withField = (changes: Record<string, unknown>) => json({ ...vscodeLike, ...changes });

function refusedWith(response: DocumentResponse, reason: RegExp, clientId = CLIENT_ID) {
  const verdict = validateClientMetadataDocument(clientId, response);
  assert.equal(verdict.ok, false, `accepted: ${JSON.stringify(verdict)}`);
  assert.match(!verdict.ok ? verdict.reason : '', reason);
}

describe('client_id URLs (CIMD §3)', () => {
  test('given the URL rules, these client_ids are accepted', () => {
    for (const url of [CLIENT_ID, 'https://claude.ai/oauth/mcp-oauth-client-metadata', 'https://example.com:8443/client', 'https://example.com/', 'https://example.com/client?v=1', 'https://example.com:443/client']) {
      const verdict = checkClientIdUrl(url);
      assert.ok(verdict.ok, `${url}: ${JSON.stringify(verdict)}`);
    }
  });

  test('given the URL rules, these client_ids are refused, each with its reason', () => {
    const cases: Array<[string, RegExp]> = [
      ['http://example.com/client', /https/],
      ['https://example.com', /path/],
      ['https://user:pw@example.com/client', /user information/],
      ['https://user@example.com/client', /user information/],
      ['https://example.com/client#x', /fragment/],
      ['https://example.com/client#', /fragment/],
      ['https://example.com/a/../client', /"\." or "\.\."/],
      ['https://example.com/./client', /"\." or "\.\."/],
      ['https://example.com/a/%2E%2e/client', /"\." or "\.\."/],
      ['https://example.com/client/..', /"\." or "\.\."/],
      ['https://example.com/cli ent', /whitespace/],
      ['https://example.com/client\n', /whitespace/],
      ['ftp://example.com/client', /https/],
      ['javascript:alert(1)//x', /absolute https URL/],
      ['cursor://client', /path/],
      ['', /1 to/],
      [`https://example.com/${'a'.repeat(2_000)}`, /1 to 2000/],
      ['https://exa mple.com/x', /whitespace/],
      ['https://[::1/x', /not a valid URL/],
    ];
    for (const [url, reason] of cases) {
      const verdict = checkClientIdUrl(url);
      assert.equal(verdict.ok, false, url);
      assert.match(!verdict.ok ? verdict.reason : '', reason, url);
    }
  });

  test('http is accepted only on a loopback host and only with the development switch', () => {
    assert.equal(checkClientIdUrl('http://127.0.0.1:8080/client.json').ok, false);
    assert.equal(checkClientIdUrl('http://127.0.0.1:8080/client.json', { allowLoopbackHttp: true }).ok, true);
    assert.equal(checkClientIdUrl('http://localhost/client.json', { allowLoopbackHttp: true }).ok, true);
    assert.equal(checkClientIdUrl('http://example.com/client.json', { allowLoopbackHttp: true }).ok, false);
  });

  test('a registered client id is never taken for a URL', () => {
    assert.equal(looksLikeClientIdUrl('kq3-Xf_0abc'), false);
    assert.equal(looksLikeClientIdUrl(CLIENT_ID), true);
  });
});

describe('validateClientMetadataDocument', () => {
  test('given a VS Code-like document, then it is accepted, normalised like a registration, and consent learns the verified host', () => {
    const verdict = validateClientMetadataDocument(CLIENT_ID, json(vscodeLike));
    assert.ok(verdict.ok, JSON.stringify(verdict));
    assert.deepEqual(verdict.document, {
      client_id: CLIENT_ID,
      client_name: 'Visual Studio Code',
      client_uri: 'https://code.visualstudio.com',
      redirect_uris: ['http://127.0.0.1:33418/', 'https://vscode.dev/redirect'],
      // Grant types the server does not offer are dropped, as for registration (RFC 7591 §3.2.1).
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
      application_type: 'web',
    });
    assert.deepEqual(verdict.facts, { verifiedHost: 'vscode.dev', localhostOnly: false });
  });

  test('when every redirect URI is on loopback, consent is told (any local process could be this client)', () => {
    const verdict = validateClientMetadataDocument(CLIENT_ID, withField({ redirect_uris: ['http://127.0.0.1/callback', 'http://localhost:8080/cb'] }));
    assert.ok(verdict.ok);
    assert.deepEqual(verdict.facts, { verifiedHost: 'vscode.dev', localhostOnly: true });
    assert.equal(verdict.document.application_type, 'native');
  });

  test('a document naming no auth method is a public client, and a port in the client_id shows in the verified host', () => {
    const { token_endpoint_auth_method: _omitted, ...rest } = vscodeLike;
    const clientId = 'https://example.com:8443/client';
    const verdict = validateClientMetadataDocument(clientId, json({ ...rest, client_id: clientId }));
    assert.ok(verdict.ok);
    assert.equal(verdict.document.token_endpoint_auth_method, 'none');
    assert.equal(verdict.facts.verifiedHost, 'example.com:8443');
  });

  test('the document\'s client_id must be the URL exactly (simple string comparison)', () => {
    refusedWith(withField({ client_id: 'https://vscode.dev/oauth/client-metadata.json/' }), /not exactly the URL/);
    refusedWith(withField({ client_id: 'https://VSCODE.dev/oauth/client-metadata.json' }), /not exactly the URL/);
    refusedWith(withField({ client_id: undefined }), /not exactly the URL/);
    refusedWith(json(vscodeLike), /not exactly the URL/, 'https://vscode.dev:443/oauth/client-metadata.json');
  });

  test('not JSON, not an object, or served as something else than JSON: refused', () => {
    refusedWith({ contentType: 'application/json', body: '<html>hi</html>' }, /not valid JSON/);
    refusedWith({ contentType: 'application/json', body: '[1,2]' }, /not a JSON object/);
    refusedWith({ contentType: 'application/json', body: 'null' }, /not a JSON object/);
    refusedWith(json(vscodeLike, 'text/html; charset=utf-8'), /served as text\/html, not JSON/);
    assert.ok(validateClientMetadataDocument(CLIENT_ID, json(vscodeLike, 'application/cimd+json')).ok);
    assert.ok(validateClientMetadataDocument(CLIENT_ID, json(vscodeLike, 'application/json; charset=utf-8')).ok);
    assert.ok(validateClientMetadataDocument(CLIENT_ID, json(vscodeLike, undefined)).ok);
    assert.ok(validateClientMetadataDocument(CLIENT_ID, json(vscodeLike, 'text/plain; charset=utf-8')).ok, 'as static hosts serve .json files');
  });

  test('shared secrets are impossible for a document (CIMD §4.1)', () => {
    for (const method of ['client_secret_basic', 'client_secret_post', 'client_secret_jwt', 'tls_client_auth']) {
      refusedWith(withField({ token_endpoint_auth_method: method }), /must be one of none, private_key_jwt/);
    }
    refusedWith(withField({ client_secret: 's3cret' }), /client secret/);
    refusedWith(withField({ client_secret_expires_at: 0 }), /client secret/);
  });

  test('private_key_jwt needs public keys, by value or by https URL, never both, never private material', () => {
    const publicKey = { kty: 'EC', crv: 'P-256', x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU', y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0', kid: 'k1' };
    const byValue = validateClientMetadataDocument(CLIENT_ID, withField({ token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [publicKey] } }));
    assert.ok(byValue.ok && byValue.document.jwks?.keys.length === 1);
    const byUri = validateClientMetadataDocument(CLIENT_ID, withField({ token_endpoint_auth_method: 'private_key_jwt', jwks_uri: 'https://vscode.dev/jwks.json' }));
    assert.ok(byUri.ok && byUri.document.jwks_uri === 'https://vscode.dev/jwks.json');
    refusedWith(withField({ token_endpoint_auth_method: 'private_key_jwt' }), /needs jwks or jwks_uri/);
    refusedWith(withField({ token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [publicKey] }, jwks_uri: 'https://vscode.dev/jwks.json' }), /both/);
    refusedWith(withField({ jwks: { keys: [{ ...publicKey, d: 'private' }] } }), /public keys only/);
    refusedWith(withField({ jwks: { keys: [{ kty: 'oct', k: 'c2VjcmV0' }] } }), /public keys only/);
    refusedWith(withField({ jwks: { keys: [] } }), /non-empty keys/);
    refusedWith(withField({ jwks: [publicKey] }), /JWK Set object/);
    refusedWith(withField({ jwks_uri: 'http://vscode.dev/jwks.json' }), /jwks_uri must be an https URL/);
  });

  test('given a ChatGPT-like document (private_key_jwt, RS256, jwks_uri), then it is accepted with its signing algorithm', () => {
    const clientId = 'https://chatgpt.com/oauth/kDmjx77UnKOM/client.json';
    const verdict = validateClientMetadataDocument(
      clientId,
      json({
        client_id: clientId,
        client_uri: 'https://chatgpt.com/',
        redirect_uris: ['https://chatgpt.com/connector/oauth/kDmjx77UnKOM'],
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        client_name: 'ChatGPT',
        token_endpoint_auth_method: 'private_key_jwt',
        token_endpoint_auth_signing_alg: 'RS256',
        jwks_uri: 'https://chatgpt.com/oauth/jwks.json',
      }),
    );
    assert.ok(verdict.ok, JSON.stringify(verdict));
    assert.equal(verdict.document.token_endpoint_auth_signing_alg, 'RS256');
    assert.deepEqual(verdict.facts, { verifiedHost: 'chatgpt.com', localhostOnly: false });
    refusedWith(withField({ token_endpoint_auth_method: 'private_key_jwt', jwks_uri: 'https://vscode.dev/jwks.json', token_endpoint_auth_signing_alg: 'HS256' }), /signing_alg must be one of/);
  });

  test('redirect URIs follow the rules of registered clients', () => {
    refusedWith(withField({ redirect_uris: [] }), /redirect_uris is required/);
    refusedWith(withField({ redirect_uris: undefined }), /redirect_uris is required/);
    refusedWith(withField({ redirect_uris: 'https://vscode.dev/redirect' }), /array of strings/);
    refusedWith(withField({ redirect_uris: ['http://evil.example/cb'] }), /only allowed to a loopback host/);
    refusedWith(withField({ redirect_uris: ['javascript:alert(1)'] }), /javascript: scheme/);
    refusedWith(withField({ redirect_uris: ['https://vscode.dev/cb#frag'] }), /fragment/);
    refusedWith(withField({ redirect_uris: Array.from({ length: 21 }, (_, i) => `https://vscode.dev/${i}`) }), /more than 20/);
    assert.ok(validateClientMetadataDocument(CLIENT_ID, withField({ redirect_uris: ['cursor://anysphere.cursor-mcp/oauth/callback'] })).ok);
  });

  test('grant and response types: authorization code is required', () => {
    refusedWith(withField({ grant_types: ['client_credentials'] }), /must include authorization_code/);
    refusedWith(withField({ response_types: ['token'] }), /must include code/);
  });

  test('names people read: control characters, blank names and over-long names are refused', () => {
    for (const name of ['Visual Studio Code\nAllow everything', 'Code\u001b[2J', 'Code\u0085', 'Code\u009b31m']) {
      refusedWith(withField({ client_name: name }), /client_name contains (a )?control character/);
    }
    refusedWith(withField({ client_name: '   ' }), /client_name is blank/);
    refusedWith(withField({ client_name: 'x'.repeat(201) }), /longer than 200/);
    refusedWith(withField({ client_name: 42 }), /client_name must be a string/);
  });

  test('logo and informational URLs: https only for the logo, web URLs for the rest', () => {
    refusedWith(withField({ logo_uri: 'http://127.0.0.1/logo.png' }), /logo_uri must be an https URL/);
    refusedWith(withField({ logo_uri: 'data:image/png;base64,AAAA' }), /logo_uri must be an https URL/);
    refusedWith(withField({ tos_uri: 'javascript:alert(1)' }), /tos_uri must be an https URL/);
    const ok = validateClientMetadataDocument(CLIENT_ID, withField({ logo_uri: 'https://vscode.dev/logo.png', policy_uri: 'https://vscode.dev/privacy' }));
    assert.ok(ok.ok && ok.document.logo_uri === 'https://vscode.dev/logo.png');
  });

  test('unknown members are ignored, nulls count as absent, and the scope must be well formed', () => {
    const verdict = validateClientMetadataDocument(CLIENT_ID, withField({ software_statement: 'eyJ...', tos_uri: null, scope: 'notes:read  notes:read profile' }));
    assert.ok(verdict.ok);
    assert.equal(verdict.document.scope, 'notes:read profile');
    assert.equal('software_statement' in verdict.document, false);
    refusedWith(withField({ scope: 'a"b' }), /scope is not a valid/);
  });
});
