import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { publicClientFingerprint, validateClientMetadata } from '../src/clients/client-metadata.ts';
import { realClientBodies } from './real-client-bodies.ts';

const base = { redirect_uris: ['https://app.example.com/callback'], token_endpoint_auth_method: 'none' };
const PUBLIC_EC = { kty: 'EC', crv: 'P-256', x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU', y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0', kid: 'k1' };
const keyed = { redirect_uris: ['https://app.example.com/callback'], token_endpoint_auth_method: 'private_key_jwt' };

describe('client metadata rules (RFC 7591 §2)', () => {
  for (const [client, body] of Object.entries(realClientBodies)) {
    test(`accepts what ${client} sends`, () => {
      const verdict = validateClientMetadata(structuredClone(body) as Record<string, unknown>);
      assert.equal(verdict.ok, true, verdict.ok ? '' : verdict.error.description);
      if (verdict.ok) {
        assert.deepEqual(verdict.metadata.redirect_uris, body.redirect_uris);
        assert.deepEqual(verdict.metadata.grant_types, ['authorization_code', 'refresh_token']);
        assert.equal(verdict.metadata.token_endpoint_auth_method, 'none');
      }
    });
  }

  const accepted: Array<[string, Record<string, unknown>, Partial<Record<string, unknown>>]> = [
    ['https redirect', base, { application_type: 'web' }],
    ['loopback without a port', { ...base, redirect_uris: ['http://localhost/cb'] }, { application_type: 'native' }],
    ['[::1] loopback', { ...base, redirect_uris: ['http://[::1]:9000/cb'] }, {}],
    ['private-use scheme', { ...base, redirect_uris: ['com.example.app:/oauth2redirect'] }, { application_type: 'native' }],
    ['defaults per RFC 7591', { redirect_uris: ['https://a.example/cb'] }, { token_endpoint_auth_method: 'client_secret_basic', grant_types: ['authorization_code'], response_types: ['code'] }],
    ['client_secret_post', { ...base, token_endpoint_auth_method: 'client_secret_post' }, {}],
    ['optional fields kept', { ...base, client_name: 'n', software_id: 's', software_version: '1', contacts: ['a@b.c'], scope: 'profile notes:read', logo_uri: 'https://a.example/l.png' }, { software_id: 's', scope: 'profile notes:read' }],
    ['unknown fields ignored', { ...base, foo: { bar: 1 } }, { foo: undefined }],
    ['private_key_jwt with inline public keys', { ...keyed, jwks: { keys: [PUBLIC_EC] } }, { token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [PUBLIC_EC] } }],
    ['private_key_jwt with an https jwks_uri and one algorithm', { ...keyed, jwks_uri: 'https://a.example/jwks.json', token_endpoint_auth_signing_alg: 'ES256' }, { jwks_uri: 'https://a.example/jwks.json', token_endpoint_auth_signing_alg: 'ES256' }],
    ['nulls treated as absent', { ...base, client_uri: null, client_name: null }, { client_uri: undefined }],
    ['explicit application_type wins', { ...base, application_type: 'native' }, { application_type: 'native' }],
  ];
  for (const [name, body, expected] of accepted) {
    test(`accepts: ${name}`, () => {
      const verdict = validateClientMetadata(body);
      assert.equal(verdict.ok, true, verdict.ok ? '' : verdict.error.description);
      if (verdict.ok) for (const [k, v] of Object.entries(expected)) assert.deepEqual((verdict.metadata as Record<string, unknown>)[k], v, k);
    });
  }

  const refused: Array<[string, Record<string, unknown>, 'invalid_redirect_uri' | 'invalid_client_metadata']> = [
    ['a fragment', { ...base, redirect_uris: ['https://a.example/cb#frag'] }, 'invalid_redirect_uri'],
    ['javascript:', { ...base, redirect_uris: ['javascript:alert(1)'] }, 'invalid_redirect_uri'],
    ['data:', { ...base, redirect_uris: ['data:text/html,hi'] }, 'invalid_redirect_uri'],
    ['file:', { ...base, redirect_uris: ['file:///etc/passwd'] }, 'invalid_redirect_uri'],
    ['vbscript:', { ...base, redirect_uris: ['vbscript:msgbox'] }, 'invalid_redirect_uri'],
    ['JavaScript: in capitals', { ...base, redirect_uris: ['JavaScript:alert(1)'] }, 'invalid_redirect_uri'],
    ['plain http to a remote host', { ...base, redirect_uris: ['http://evil.example/cb'] }, 'invalid_redirect_uri'],
    ['http to a host that only starts like loopback', { ...base, redirect_uris: ['http://localhost.evil.example/cb'] }, 'invalid_redirect_uri'],
    ['credentials in the URI', { ...base, redirect_uris: ['https://user:pw@a.example/cb'] }, 'invalid_redirect_uri'],
    ['a relative URI', { ...base, redirect_uris: ['/callback'] }, 'invalid_redirect_uri'],
    ['no redirect URIs', { token_endpoint_auth_method: 'none' }, 'invalid_redirect_uri'],
    ['an empty redirect list', { ...base, redirect_uris: [] }, 'invalid_redirect_uri'],
    ['redirect_uris not an array', { ...base, redirect_uris: 'https://a.example/cb' }, 'invalid_redirect_uri'],
    ['a redirect URI that is not a string', { ...base, redirect_uris: [42] }, 'invalid_redirect_uri'],
    ['too many redirect URIs', { ...base, redirect_uris: Array.from({ length: 21 }, (_, i) => `https://a.example/${i}`) }, 'invalid_redirect_uri'],
    ['an over-long redirect URI', { ...base, redirect_uris: [`https://a.example/${'x'.repeat(2100)}`] }, 'invalid_redirect_uri'],
    ['an unknown grant type', { ...base, grant_types: ['authorization_code', 'magic'] }, 'invalid_client_metadata'],
    ['the implicit grant', { ...base, grant_types: ['implicit'] }, 'invalid_client_metadata'],
    ['the password grant', { ...base, grant_types: ['authorization_code', 'password'] }, 'invalid_client_metadata'],
    ['refresh_token without authorization_code', { ...base, grant_types: ['refresh_token'] }, 'invalid_client_metadata'],
    ['response type token', { ...base, response_types: ['token'] }, 'invalid_client_metadata'],
    ['code with id_token', { ...base, response_types: ['code', 'id_token'] }, 'invalid_client_metadata'],
    ['an unknown auth method', { ...base, token_endpoint_auth_method: 'tls_client_auth' }, 'invalid_client_metadata'],
    ['private_key_jwt without keys', keyed, 'invalid_client_metadata'],
    ['private_key_jwt with a private key', { ...keyed, jwks: { keys: [{ ...PUBLIC_EC, d: 'secret' }] } }, 'invalid_client_metadata'],
    ['private_key_jwt with a symmetric key', { ...keyed, jwks: { keys: [{ kty: 'oct', k: 'c2VjcmV0' }] } }, 'invalid_client_metadata'],
    ['both jwks and jwks_uri', { ...keyed, jwks: { keys: [PUBLIC_EC] }, jwks_uri: 'https://a.example/jwks.json' }, 'invalid_client_metadata'],
    ['a jwks_uri over plain http, even on loopback', { ...keyed, jwks_uri: 'http://127.0.0.1:9/jwks.json' }, 'invalid_client_metadata'],
    ['an HMAC signing algorithm', { ...keyed, jwks: { keys: [PUBLIC_EC] }, token_endpoint_auth_signing_alg: 'HS256' }, 'invalid_client_metadata'],
    ['the none algorithm', { ...keyed, jwks: { keys: [PUBLIC_EC] }, token_endpoint_auth_signing_alg: 'none' }, 'invalid_client_metadata'],
    ['a non-string client_name', { ...base, client_name: 42 }, 'invalid_client_metadata'],
    ['an over-long client_name', { ...base, client_name: 'x'.repeat(201) }, 'invalid_client_metadata'],
    ['a control character in client_name', { ...base, client_name: 'a\u0000b' }, 'invalid_client_metadata'],
    ['a right-to-left override in client_name', { ...base, client_name: 'Evil\u202Egnp.exe' }, 'invalid_client_metadata'],
    ['a zero-width space in client_name', { ...base, client_name: 'Micro\u200Bsoft' }, 'invalid_client_metadata'],
    ['a javascript: client_uri', { ...base, client_uri: 'javascript:alert(1)' }, 'invalid_client_metadata'],
    ['a logo over plain http', { ...base, logo_uri: 'http://evil.example/logo.png' }, 'invalid_client_metadata'],
    ['contacts not strings', { ...base, contacts: [1, 2] }, 'invalid_client_metadata'],
    ['a malformed scope', { ...base, scope: 'a "b"' }, 'invalid_client_metadata'],
    ['an unknown application_type', { ...base, application_type: 'desktop' }, 'invalid_client_metadata'],
    ['grant_types not an array', { ...base, grant_types: 'authorization_code' }, 'invalid_client_metadata'],
  ];
  for (const [name, body, error] of refused) {
    test(`refuses ${name} with ${error}`, () => {
      const verdict = validateClientMetadata(body);
      assert.equal(verdict.ok, false);
      if (!verdict.ok) {
        assert.equal(verdict.error.code, error);
        assert.equal(verdict.error.status, 400);
      }
    });
  }
});

describe('public client fingerprint (idempotent registration)', () => {
  const valid = (body: Record<string, unknown>) => {
    const verdict = validateClientMetadata(body);
    assert.ok(verdict.ok);
    return verdict.metadata;
  };

  test('is equal for identical metadata, in any order of redirect URIs', () => {
    const a = valid({ ...base, redirect_uris: ['https://a.example/1', 'https://a.example/2'] });
    const b = valid({ ...base, redirect_uris: ['https://a.example/2', 'https://a.example/1'] });
    assert.equal(publicClientFingerprint(a), publicClientFingerprint(b));
  });

  test('ignores the port of loopback redirect URIs, which native apps choose per connection', () => {
    const a = valid({ ...realClientBodies['Claude Code'] });
    const b = valid({ ...realClientBodies['Claude Code'], redirect_uris: ['http://localhost:61000/callback'] });
    assert.equal(publicClientFingerprint(a), publicClientFingerprint(b));
  });

  test('differs when anything else differs', () => {
    const a = valid({ ...base, client_name: 'one' });
    const b = valid({ ...base, client_name: 'two' });
    const c = valid({ ...base, client_name: 'one', redirect_uris: ['https://a.example/other'] });
    assert.notEqual(publicClientFingerprint(a), publicClientFingerprint(b));
    assert.notEqual(publicClientFingerprint(a), publicClientFingerprint(c));
  });

  test('is null for confidential clients: each of them is its own client', () => {
    assert.equal(publicClientFingerprint(valid({ ...base, token_endpoint_auth_method: 'client_secret_basic' })), null);
  });
});
