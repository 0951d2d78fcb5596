import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ClientMetadata, DecidedEvent } from '@mcp-auth/contracts';
import { BUILT_IN_DEFAULT_SCOPES, BUILT_IN_SCOPES, withNonToolScopes } from '@mcp-auth/oauth';
import type { Consent, RegisteredClient } from '@mcp-auth/read-models';
import { deciderSpec } from '@mcp-auth/testing';
import { redirectTo, validateAuthorizationRequest, type AuthorizationRequest, type RequestPolicy, type RequestVerdict } from '../src/authorize/authorization-request.ts';
import {
  ConsentRequired,
  InvalidScopeSelection,
  authorizationDecider,
  redirectUrisFingerprint,
  rememberedConsent,
  requiredScopes,
  type AuthorizationCommand,
  type AuthorizationState,
} from '../src/authorize/decider.ts';
import { decide as decideRevocation } from '../src/connected-apps/decider.ts';
import {
  KEPT_GUESSES,
  evolveAccount,
  initialState as signInInitialState,
  throttleVerdict,
  type CountedGuess,
  type SignInCommand,
  type SignInPolicy,
  type SignInState,
  signInDecider,
} from '../src/sign-in/decider.ts';
import { safeReturnTo } from '../src/sign-in/return-to.ts';

// ---------------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------------

const RESOURCE = 'https://mcp.example.com/mcp';
const CHALLENGE = 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM';

const metadata: ClientMetadata = {
  redirect_uris: ['http://127.0.0.1:7777/callback', 'https://app.example.com/cb'],
  token_endpoint_auth_method: 'none',
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
  application_type: 'native',
  client_name: 'Agent',
};

const client: RegisteredClient = {
  clientId: 'client-1',
  status: 'active',
  metadata,
  clientSecretHash: null,
  fingerprint: 'fp',
  clientIdIssuedAt: 1_700_000_000,
  registeredAt: '2026-01-01T00:00:00.000Z',
  updatedAt: '2026-01-01T00:00:00.000Z',
  version: 1,
};

const policy: RequestPolicy = { client, resources: [RESOURCE, 'https://other.example.com/api/'], scopes: withNonToolScopes(BUILT_IN_SCOPES), defaultScopes: BUILT_IN_DEFAULT_SCOPES };

const base: Record<string, string> = {
  response_type: 'code',
  client_id: 'client-1',
  redirect_uri: 'http://127.0.0.1:7777/callback',
  code_challenge: CHALLENGE,
  code_challenge_method: 'S256',
  state: 'xyz',
  resource: RESOURCE,
  scope: 'profile notes:read',
};

/** The base request with some parameters replaced (`null` removes one, an array repeats it). */
function params(overrides: Record<string, string | string[] | null> = {}): URLSearchParams {
  const out = new URLSearchParams();
  for (const [name, value] of Object.entries({ ...base, ...overrides })) {
    if (value === null) continue;
    for (const v of Array.isArray(value) ? value : [value]) out.append(name, v);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------
// validateAuthorizationRequest
// ---------------------------------------------------------------------------------------------------

describe('validateAuthorizationRequest', () => {
  const errorPages: Array<[string, URLSearchParams, Partial<RequestPolicy>?]> = [
    ['no client_id', params({ client_id: null })],
    ['client_id twice', params({ client_id: ['client-1', 'client-1'] })],
    ['a client_id that cannot be a subject token', params({ client_id: 'a.b' })],
    ['an empty client_id', params({ client_id: '' })],
    ['an unknown client', params(), { client: null }],
    ['a deleted client', params(), { client: { ...client, status: 'deleted' } }],
    ['no redirect_uri', params({ redirect_uri: null })],
    ['redirect_uri twice', params({ redirect_uri: ['http://127.0.0.1:7777/callback', 'http://127.0.0.1:7777/callback'] })],
    ['an unregistered redirect URI', params({ redirect_uri: 'https://evil.example/cb' })],
    ['a registered https URI on another port', params({ redirect_uri: 'https://app.example.com:444/cb' })],
    ['a loopback URI on another path', params({ redirect_uri: 'http://127.0.0.1:7777/other' })],
    ['a loopback URI on another loopback name', params({ redirect_uri: 'http://localhost:7777/callback' })],
    ['a loopback URI with https', params({ redirect_uri: 'https://127.0.0.1:7777/callback' })],
    ['a redirect URI with a fragment', params({ redirect_uri: 'http://127.0.0.1:8888/callback#x' })],
    ['a malformed redirect URI', params({ redirect_uri: 'http://[::1' })],
    // Client and redirect URI come first: a bad client is never answered with a redirect, whatever else is wrong.
    ['an unknown client and everything else wrong', params({ response_type: 'token', code_challenge: null, scope: 'x"y' }), { client: null }],
  ];
  for (const [name, query, override] of errorPages) {
    test(`error page, never a redirect: ${name}`, () => {
      const verdict = validateAuthorizationRequest(query, { ...policy, ...override });
      assert.equal(verdict.kind, 'error-page');
      assert.ok(verdict.kind === 'error-page' && verdict.message.length > 0);
      assert.ok(!('redirectUri' in verdict));
    });
  }

  const redirects: Array<[string, URLSearchParams, string]> = [
    ['no response_type', params({ response_type: null }), 'invalid_request'],
    ['response_type=token', params({ response_type: 'token' }), 'unsupported_response_type'],
    ['response_type=code token', params({ response_type: 'code token' }), 'unsupported_response_type'],
    ['no code_challenge', params({ code_challenge: null }), 'invalid_request'],
    ['no code_challenge_method', params({ code_challenge_method: null }), 'invalid_request'],
    ['code_challenge_method=plain', params({ code_challenge_method: 'plain', code_challenge: 'a'.repeat(43) }), 'invalid_request'],
    ['an unknown method', params({ code_challenge_method: 'S512' }), 'invalid_request'],
    ['a challenge of 42 characters', params({ code_challenge: CHALLENGE.slice(1) }), 'invalid_request'],
    ['a challenge of 44 characters', params({ code_challenge: `${CHALLENGE}A` }), 'invalid_request'],
    ['a challenge in base64 (not base64url)', params({ code_challenge: `${CHALLENGE.slice(0, 42)}+` }), 'invalid_request'],
    ['an unknown resource', params({ resource: 'https://evil.example/mcp' }), 'invalid_target'],
    ['a resource with two trailing slashes', params({ resource: `${RESOURCE}//` }), 'invalid_target'],
    ['a resource with a fragment', params({ resource: `${RESOURCE}#a` }), 'invalid_target'],
    ['a relative resource', params({ resource: '/mcp' }), 'invalid_target'],
    ['two resources', params({ resource: [RESOURCE, 'https://other.example.com/api/'] }), 'invalid_target'],
    ['the same resource twice', params({ resource: [RESOURCE, RESOURCE] }), 'invalid_target'],
    ['a malformed scope', params({ scope: 'profile "x"' }), 'invalid_scope'],
    ['a scope with a backslash', params({ scope: 'a\\b' }), 'invalid_scope'],
    ['scope twice', params({ scope: ['profile', 'profile'] }), 'invalid_request'],
    ['state twice', params({ state: ['one', 'two'] }), 'invalid_request'],
    ['prompt twice', params({ prompt: ['consent', 'consent'] }), 'invalid_request'],
    ['code_challenge twice', params({ code_challenge: [CHALLENGE, CHALLENGE] }), 'invalid_request'],
    ['a state over 2048 characters', params({ state: 's'.repeat(2049) }), 'invalid_request'],
  ];
  for (const [name, query, error] of redirects) {
    test(`redirect with ${error}: ${name}`, () => {
      const verdict = validateAuthorizationRequest(query, policy);
      assert.equal(verdict.kind, 'redirect-error', JSON.stringify(verdict));
      const v = verdict as Extract<RequestVerdict, { kind: 'redirect-error' }>;
      assert.equal(v.error, error, v.description);
      assert.equal(v.redirectUri, query.get('redirect_uri'), 'to the redirect URI the client sent');
      assert.equal(v.state, query.getAll('state')[0], 'with the original (first) state');
      assert.ok(v.description.length > 0);
    });
  }

  test('STRICT_SCOPES: a scope outside the catalogue, openid included, is refused with invalid_scope', () => {
    for (const scope of ['profile admin', 'openid profile', 'openid']) {
      const verdict = validateAuthorizationRequest(params({ scope }), { ...policy, strictScopes: true });
      assert.equal(verdict.kind, 'redirect-error', scope);
      assert.equal((verdict as Extract<RequestVerdict, { kind: 'redirect-error' }>).error, 'invalid_scope', scope);
    }
    const known = validateAuthorizationRequest(params({ scope: 'profile offline_access' }), { ...policy, strictScopes: true });
    assert.equal(known.kind, 'valid', 'offline_access is in the catalogue');
  });

  test('a state of exactly 2048 characters is fine', () => {
    assert.equal(validateAuthorizationRequest(params({ state: 's'.repeat(2048) }), policy).kind, 'valid');
  });

  const valid: Array<[string, URLSearchParams, Partial<AuthorizationRequest>]> = [
    ['the base request', params(), { redirectUri: 'http://127.0.0.1:7777/callback', state: 'xyz', codeChallenge: CHALLENGE, resource: RESOURCE, scopes: ['profile', 'notes:read'], forceConsent: false }],
    ['a loopback redirect on another port (RFC 8252 §7.3), kept as sent', params({ redirect_uri: 'http://127.0.0.1:50123/callback' }), { redirectUri: 'http://127.0.0.1:50123/callback' }],
    ['a loopback redirect without a port', params({ redirect_uri: 'http://127.0.0.1/callback' }), { redirectUri: 'http://127.0.0.1/callback' }],
    ['the resource with one trailing slash', params({ resource: `${RESOURCE}/` }), { resource: RESOURCE }],
    ['the resource in upper case scheme and host', params({ resource: 'HTTPS://MCP.EXAMPLE.COM/mcp' }), { resource: RESOURCE }],
    ['a configured resource spelled without its trailing slash', params({ resource: 'https://other.example.com/api' }), { resource: 'https://other.example.com/api/' }],
    ['no resource: the first configured one', params({ resource: null }), { resource: RESOURCE }],
    ['no scope: the default scopes', params({ scope: null }), { scopes: ['profile', 'notes:read'] }],
    ['an empty scope: the default scopes', params({ scope: '' }), { scopes: ['profile', 'notes:read'] }],
    ['repeated scope tokens collapse', params({ scope: 'notes:write notes:write profile' }), { scopes: ['notes:write', 'profile'] }],
    ['an unknown scope is ignored (RFC 6749 §3.3)', params({ scope: 'profile admin notes:write' }), { scopes: ['profile', 'notes:write'] }],
    ['openid is ignored: no ID token is issued', params({ scope: 'openid profile notes:read' }), { scopes: ['profile', 'notes:read'] }],
    ['only unknown scopes: the default scopes', params({ scope: 'openid email' }), { scopes: ['profile', 'notes:read'] }],
    ['offline_access is kept', params({ scope: 'notes:write offline_access' }), { scopes: ['notes:write', 'offline_access'] }],
    ['offline_access alone: the default scopes and offline_access', params({ scope: 'openid offline_access' }), { scopes: ['profile', 'notes:read', 'offline_access'] }],
    ['no state', params({ state: null }), { state: undefined }],
    ['prompt=consent forces the consent page', params({ prompt: 'consent' }), { forceConsent: true }],
    ['other prompt values do not', params({ prompt: 'login' }), { forceConsent: false }],
  ];
  for (const [name, query, expected] of valid) {
    test(`valid: ${name}`, () => {
      const verdict = validateAuthorizationRequest(query, policy);
      assert.equal(verdict.kind, 'valid', JSON.stringify(verdict));
      const { request } = verdict as Extract<RequestVerdict, { kind: 'valid' }>;
      assert.equal(request.client, client);
      for (const [key, value] of Object.entries(expected)) assert.deepEqual(request[key as keyof AuthorizationRequest], value, key);
    });
  }

  test('redirectTo adds parameters to the redirect URI\'s own query and leaves out undefined ones', () => {
    assert.equal(redirectTo('https://app.example.com/cb?tenant=7', { code: 'abc', state: undefined, iss: 'https://as.example' }), 'https://app.example.com/cb?tenant=7&code=abc&iss=https%3A%2F%2Fas.example');
    assert.equal(redirectTo('http://127.0.0.1:1/cb', { state: 'a b&c' }), 'http://127.0.0.1:1/cb?state=a+b%26c');
    assert.equal(redirectTo('cursor://anysphere.cursor-mcp/oauth/callback', { code: 'x' }), 'cursor://anysphere.cursor-mcp/oauth/callback?code=x');
  });
});

// ---------------------------------------------------------------------------------------------------
// The consent decider: given(consents).when(approve/deny).then(events)
// ---------------------------------------------------------------------------------------------------

function request(overrides: Partial<AuthorizationRequest> = {}): AuthorizationRequest {
  return { client, redirectUri: 'http://127.0.0.1:7777/callback', state: 'xyz', codeChallenge: CHALLENGE, resource: RESOURCE, scopes: ['profile', 'notes:read'], forceConsent: false, ...overrides };
}

const FINGERPRINT = redirectUrisFingerprint(metadata.redirect_uris);
const EXPIRES = 1_800_000_060;

const consentSpec = deciderSpec<AuthorizationCommand, AuthorizationState, DecidedEvent>(authorizationDecider);

/** A consent alice gave client-1, as the consents projection reads it. */
const consentTo = (consentId: string, scopes: string[], extra: Partial<Consent> = {}): Consent => ({
  consentId,
  userId: 'usr_alice',
  clientId: 'client-1',
  resource: RESOURCE,
  scopes,
  redirectUrisFingerprint: FINGERPRINT,
  grantedAt: '2026-01-01T00:00:00.000Z',
  revokedAt: null,
  version: 1,
  ...extra,
});
/** What the route decides on: alice's active consents to client-1, with REMEMBER_CONSENT on, or off. */
const remembering = (...consents: Consent[]): AuthorizationState => ({ consents, rememberConsent: true, defaultScopes: BUILT_IN_DEFAULT_SCOPES });
const forgetting = (...consents: Consent[]): AuthorizationState => ({ consents, rememberConsent: false, defaultScopes: BUILT_IN_DEFAULT_SCOPES });

const granted = (consentId: string, scopes: string[], extra: Partial<{ resource: string; redirectUrisFingerprint: string }> = {}): DecidedEvent => ({
  type: 'ConsentGranted',
  data: { consentId, userId: 'usr_alice', clientId: 'client-1', resource: RESOURCE, scopes, redirectUrisFingerprint: FINGERPRINT, ...extra },
});

const approve = (req: AuthorizationRequest, grantedScopes: string[] | null): AuthorizationCommand => ({
  type: 'ApproveAuthorization',
  data: { request: req, userId: 'usr_alice', grantedScopes, newConsentId: 'consent-new', codeHash: 'code-hash', codeExpiresAt: EXPIRES },
});

const codeIssued = (consentId: string, scopes: string[], req: AuthorizationRequest = request()): DecidedEvent => ({
  type: 'AuthorizationCodeIssued',
  data: {
    codeHash: 'code-hash',
    clientId: 'client-1',
    userId: 'usr_alice',
    redirectUri: req.redirectUri,
    codeChallenge: CHALLENGE,
    codeChallengeMethod: 'S256',
    resource: req.resource,
    scopes,
    consentId,
    expiresAt: EXPIRES,
  },
});

describe('consent decider', () => {
  test('Allow on the consent page grants the ticked scopes and issues a code bound to the request', () => {
    const req = request({ scopes: ['profile', 'notes:read', 'notes:write'], redirectUri: 'http://127.0.0.1:50123/callback' });
    consentSpec
      .given(remembering())
      .when(approve(req, ['profile', 'notes:read', 'notes:write']))
      .then([granted('consent-new', ['profile', 'notes:read', 'notes:write']), codeIssued('consent-new', ['profile', 'notes:read', 'notes:write'], req)]);
  });

  test('an unticked optional scope is neither consented to nor in the code', () => {
    const req = request({ scopes: ['profile', 'notes:read', 'notes:write'] });
    consentSpec.given(remembering()).when(approve(req, ['profile', 'notes:read'])).then([granted('consent-new', ['profile', 'notes:read']), codeIssued('consent-new', ['profile', 'notes:read'])]);
  });

  test('a ticked scope the request did not ask for is ignored', () => {
    consentSpec.given(remembering()).when(approve(request(), ['profile', 'notes:read', 'notes:write', 'admin'])).then([granted('consent-new', ['profile', 'notes:read']), codeIssued('consent-new', ['profile', 'notes:read'])]);
  });

  test('the granted scopes keep the order of the request, not of the form', () => {
    consentSpec.given(remembering()).when(approve(request(), ['notes:read', 'profile'])).then([granted('consent-new', ['profile', 'notes:read']), codeIssued('consent-new', ['profile', 'notes:read'])]);
  });

  test('a required (default) scope cannot be left out', () => {
    consentSpec.given(remembering()).when(approve(request({ scopes: ['profile', 'notes:read', 'notes:write'] }), ['notes:read', 'notes:write'])).thenThrows(/profile cannot be left out/);
    consentSpec.given(remembering()).when(approve(request(), ['profile'])).thenThrows(InvalidScopeSelection);
  });

  test('nothing ticked at all is refused', () => {
    consentSpec.given(remembering()).when(approve(request({ scopes: ['notes:write'] }), [])).thenThrows(InvalidScopeSelection);
  });

  test('a request for optional scopes only needs none of the defaults', () => {
    const req = request({ scopes: ['notes:write'] });
    assert.deepEqual(requiredScopes(req, BUILT_IN_DEFAULT_SCOPES), []);
    consentSpec.given(remembering()).when(approve(req, ['notes:write'])).then([granted('consent-new', ['notes:write']), codeIssued('consent-new', ['notes:write'], req)]);
  });

  test('requiredScopes are the requested ones among the defaults', () => {
    assert.deepEqual(requiredScopes(request({ scopes: ['notes:write', 'profile'] }), BUILT_IN_DEFAULT_SCOPES), ['profile']);
    assert.deepEqual(requiredScopes(request({ scopes: ['profile', 'notes:read', 'notes:write'] }), ['profile']), ['profile']);
  });

  test('Deny records the denial and issues nothing', () => {
    consentSpec
      .given(remembering(consentTo('c1', ['profile', 'notes:read'])))
      .when({ type: 'DenyAuthorization', data: { request: request(), userId: 'usr_alice', denialId: 'd1' } })
      .then([{ type: 'AuthorizationDenied', data: { denialId: 'd1', clientId: 'client-1', userId: 'usr_alice', resource: RESOURCE, scopes: ['profile', 'notes:read'] } }]);
  });

  describe('remembered consent (no consent page: grantedScopes = null)', () => {
    test('a consent for the same resource and scopes issues a code under that consent, and grants nothing new', () => {
      consentSpec.given(remembering(consentTo('c1', ['profile', 'notes:read']))).when(approve(request(), null)).then([codeIssued('c1', ['profile', 'notes:read'])]);
    });

    test('a wider consent covers a narrower request; the code carries only what was asked', () => {
      consentSpec.given(remembering(consentTo('c1', ['profile', 'notes:read', 'notes:write']))).when(approve(request({ scopes: ['notes:read'] }), null)).then([codeIssued('c1', ['notes:read'])]);
    });

    test('scopes spread over two consents are not combined', () => {
      consentSpec.given(remembering(consentTo('c1', ['profile']), consentTo('c2', ['notes:read']))).when(approve(request(), null)).thenThrows(ConsentRequired);
    });

    test('the first matching consent wins', () => {
      consentSpec.given(remembering(consentTo('c1', ['profile']), consentTo('c2', ['profile', 'notes:read']), consentTo('c3', ['profile', 'notes:read']))).when(approve(request(), null)).then([codeIssued('c2', ['profile', 'notes:read'])]);
    });

    const notRemembered: Array<[string, Consent[], AuthorizationRequest]> = [
      ['no consent yet', [], request()],
      ['a wider scope than consented', [consentTo('c1', ['profile', 'notes:read'])], request({ scopes: ['profile', 'notes:read', 'notes:write'] })],
      ['another resource', [consentTo('c1', ['profile', 'notes:read'], { resource: 'https://other.example.com/api/' })], request()],
      ['the client changed its redirect URIs since', [consentTo('c1', ['profile', 'notes:read'], { redirectUrisFingerprint: redirectUrisFingerprint(['http://127.0.0.1:7777/callback']) })], request()],
      // The projection reads active consents only: a revoked one is not there.
      ['a revoked consent', [], request()],
      ['prompt=consent', [consentTo('c1', ['profile', 'notes:read'])], request({ forceConsent: true })],
    ];
    for (const [name, given, req] of notRemembered) {
      test(`not remembered: ${name}`, () => {
        consentSpec.given(remembering(...given)).when(approve(req, null)).thenThrows(ConsentRequired);
      });
    }

    test('not remembered when REMEMBER_CONSENT is off, while the consent page still works', () => {
      consentSpec.given(forgetting(consentTo('c1', ['profile', 'notes:read']))).when(approve(request(), null)).thenThrows(ConsentRequired);
      consentSpec.given(forgetting(consentTo('c1', ['profile', 'notes:read']))).when(approve(request(), ['profile', 'notes:read'])).then([granted('consent-new', ['profile', 'notes:read']), codeIssued('consent-new', ['profile', 'notes:read'])]);
    });

    test('a client whose redirect URIs changed is covered again once the user consents again', () => {
      const changed = { ...client, metadata: { ...metadata, redirect_uris: [...metadata.redirect_uris, 'https://new.example/cb'] } };
      const req = request({ client: changed });
      const newFingerprint = redirectUrisFingerprint(changed.metadata.redirect_uris);
      consentSpec.given(remembering(consentTo('c1', ['profile', 'notes:read']))).when(approve(req, null)).thenThrows(ConsentRequired);
      consentSpec.given(remembering(consentTo('c1', ['profile', 'notes:read']), consentTo('c2', ['profile', 'notes:read'], { redirectUrisFingerprint: newFingerprint }))).when(approve(req, null)).then([codeIssued('c2', ['profile', 'notes:read'], req)]);
    });

    test('rememberedConsent answers the same question the route asks before showing the page', () => {
      const state: AuthorizationState = { consents: [], rememberConsent: true, defaultScopes: BUILT_IN_DEFAULT_SCOPES };
      assert.equal(rememberedConsent(state, request()), null);
      const consent: Consent = { consentId: 'c1', userId: 'usr_alice', clientId: 'client-1', resource: RESOURCE, scopes: ['profile', 'notes:read'], redirectUrisFingerprint: FINGERPRINT, grantedAt: '', revokedAt: null, version: 1 };
      assert.equal(rememberedConsent({ ...state, consents: [consent] }, request())?.consentId, 'c1');
      assert.equal(rememberedConsent({ ...state, consents: [consent] }, request({ forceConsent: true })), null);
    });
  });

  test('the redirect URI fingerprint ignores order but sees any change', () => {
    assert.equal(redirectUrisFingerprint(['a', 'b']), redirectUrisFingerprint(['b', 'a']));
    assert.notEqual(redirectUrisFingerprint(['a', 'b']), redirectUrisFingerprint(['a', 'b', 'c']));
    assert.notEqual(redirectUrisFingerprint(['a', 'b']), redirectUrisFingerprint(['a', 'B']));
    assert.notEqual(redirectUrisFingerprint(['a,b']), redirectUrisFingerprint(['a', 'b']));
    assert.match(redirectUrisFingerprint(['a']), /^[A-Za-z0-9_-]{43}$/);
  });
});

// ---------------------------------------------------------------------------------------------------
// Connected apps: revoking an app
// ---------------------------------------------------------------------------------------------------

describe('connected apps decider', () => {
  const consent = (consentId: string, overrides: Partial<Consent> = {}): Consent => ({
    consentId,
    userId: 'usr_alice',
    clientId: 'client-1',
    resource: RESOURCE,
    scopes: ['profile'],
    redirectUrisFingerprint: FINGERPRINT,
    grantedAt: '',
    revokedAt: null,
    version: 1,
    ...overrides,
  });

  test("revoking an app revokes every active consent of that user to that client, and nobody else's", () => {
    const events = decideRevocation(
      { type: 'RevokeApp', data: { userId: 'usr_alice', clientId: 'client-1' } },
      { activeConsents: [consent('c1'), consent('c2', { resource: 'https://other.example.com/api/' }), consent('c3', { userId: 'usr_bob' }), consent('c4', { clientId: 'client-2' }), consent('c5', { revokedAt: '2026-01-02T00:00:00.000Z' })] },
    );
    assert.deepEqual(events, [
      { type: 'ConsentRevoked', data: { consentId: 'c1', userId: 'usr_alice', clientId: 'client-1' } },
      { type: 'ConsentRevoked', data: { consentId: 'c2', userId: 'usr_alice', clientId: 'client-1' } },
    ]);
  });

  test('revoking an app with no consent records nothing', () => {
    assert.deepEqual(decideRevocation({ type: 'RevokeApp', data: { userId: 'usr_alice', clientId: 'client-1' } }, { activeConsents: [] }), []);
  });
});

// ---------------------------------------------------------------------------------------------------
// Sign-in: throttling and the decider
// ---------------------------------------------------------------------------------------------------

const NOW = 1_800_000_000_000;
const WINDOW = 15 * 60 * 1000;
const signInPolicy: SignInPolicy = { maxAccountFailures: 3, maxAddressFailures: 5, windowMs: WINDOW, sessionTtlSeconds: 3600 };
const ago = (ms: number) => NOW - ms;
/** Guesses counted against an account at these times (settled failures). */
const guessesAt = (...times: number[]): CountedGuess[] => times.map((atMs, i) => ({ attemptId: `t${i}`, atMs, pending: false }));

describe('throttleVerdict', () => {
  const cases: Array<[string, SignInState, SignInPolicy, ReturnType<typeof throttleVerdict>]> = [
    ['no failures', { accountGuesses: [], addressFailures: [] }, signInPolicy, { throttled: false }],
    ['fewer account guesses than the limit', { accountGuesses: guessesAt(ago(1000), ago(500)), addressFailures: [] }, signInPolicy, { throttled: false }],
    ['as many account guesses as the limit: wait until the oldest counted leaves the window', { accountGuesses: guessesAt(ago(3000), ago(2000), ago(1000)), addressFailures: [] }, signInPolicy, { throttled: true, retryAfterSeconds: (WINDOW - 3000) / 1000 }],
    ['more guesses than the limit: the limit-th newest counts', { accountGuesses: guessesAt(ago(9000), ago(3000), ago(2000), ago(1000)), addressFailures: [] }, signInPolicy, { throttled: true, retryAfterSeconds: (WINDOW - 3000) / 1000 }],
    ['guesses still being checked count like failures', { accountGuesses: guessesAt(ago(3000), ago(2000), ago(1000)).map((g) => ({ ...g, pending: true })), addressFailures: [] }, signInPolicy, { throttled: true, retryAfterSeconds: (WINDOW - 3000) / 1000 }],
    ['guesses older than the window do not count', { accountGuesses: guessesAt(ago(WINDOW), ago(WINDOW + 1), ago(1000), ago(500)), addressFailures: [] }, signInPolicy, { throttled: false }],
    ['a guess just inside the window counts', { accountGuesses: guessesAt(ago(WINDOW - 1), ago(2000), ago(1000)), addressFailures: [] }, signInPolicy, { throttled: true, retryAfterSeconds: 1 }],
    ['address failures under their (higher) limit', { accountGuesses: [], addressFailures: [ago(4), ago(3), ago(2), ago(1)] }, signInPolicy, { throttled: false }],
    ['address failures at their limit', { accountGuesses: [], addressFailures: [ago(5000), ago(4000), ago(3000), ago(2000), ago(1000)] }, signInPolicy, { throttled: true, retryAfterSeconds: (WINDOW - 5000) / 1000 }],
    ['both throttled: the longer wait wins', { accountGuesses: guessesAt(ago(3000), ago(2000), ago(1000)), addressFailures: [ago(1000), ago(900), ago(800), ago(700), ago(600)] }, signInPolicy, { throttled: true, retryAfterSeconds: (WINDOW - 1000) / 1000 }],
    ['Retry-After rounds up to whole seconds', { accountGuesses: guessesAt(ago(2500), ago(2000), ago(1000)), addressFailures: [] }, signInPolicy, { throttled: true, retryAfterSeconds: Math.ceil((WINDOW - 2500) / 1000) }],
    ['a limit of 0 turns the account check off', { accountGuesses: guessesAt(...Array<number>(50).fill(ago(1))), addressFailures: [] }, { ...signInPolicy, maxAccountFailures: 0 }, { throttled: false }],
    ['a limit of 0 turns the address check off', { accountGuesses: [], addressFailures: Array(50).fill(ago(1)) }, { ...signInPolicy, maxAddressFailures: 0 }, { throttled: false }],
    [`a limit above the ${KEPT_GUESSES} kept guesses counts as ${KEPT_GUESSES}`, { accountGuesses: guessesAt(...Array<number>(KEPT_GUESSES).fill(ago(1))), addressFailures: [] }, { ...signInPolicy, maxAccountFailures: 1000 }, { throttled: true, retryAfterSeconds: WINDOW / 1000 }],
  ];
  for (const [name, state, p, expected] of cases) {
    test(name, () => {
      assert.deepEqual(throttleVerdict(state, p, NOW), expected);
    });
  }
});

describe('sign-in decider', () => {
  const ALICE = 'usr_alice';
  const ADDRESS = '198.51.100.1';
  type Attempt = Extract<SignInCommand, { type: 'CompleteSignIn' }>['data'];
  const attempt = (attemptId: string, overrides: Partial<Attempt> = {}): Attempt => ({
    attemptId,
    username: 'alice',
    userId: ALICE,
    userExists: true,
    passwordValid: true,
    clientAddress: ADDRESS,
    sessionHash: 'session-hash',
    nowMs: NOW,
    policy: signInPolicy,
    ...overrides,
  });
  const admit = (attemptId: string, overrides: Partial<Attempt> = {}): SignInCommand => {
    const { passwordValid: _p, sessionHash: _s, ...data } = attempt(attemptId, overrides);
    return { type: 'AdmitSignIn', data };
  };
  const complete = (attemptId: string, overrides: Partial<Attempt> = {}): SignInCommand => ({ type: 'CompleteSignIn', data: attempt(attemptId, overrides) });
  const admitted = (attemptId: string, overrides: Partial<{ username: string; userId: string; clientAddress: string | null }> = {}): DecidedEvent => ({
    type: 'SignInAttemptAdmitted',
    data: { attemptId, userId: ALICE, username: 'alice', clientAddress: ADDRESS, ...overrides },
  });
  const failed = (attemptId: string | null, overrides: Partial<{ username: string; userId: string; userExists: boolean; clientAddress: string | null }> = {}): DecidedEvent => ({
    type: 'UserSignInFailed',
    data: { username: 'alice', userId: ALICE, userExists: true, clientAddress: ADDRESS, reason: 'bad_credentials', ...(attemptId === null ? {} : { attemptId }), ...overrides },
  });
  const throttled: DecidedEvent = { type: 'UserSignInFailed', data: { username: 'alice', userId: ALICE, userExists: true, clientAddress: ADDRESS, reason: 'throttled' } };
  const signedIn = (attemptId: string): DecidedEvent => ({ type: 'UserSignedIn', data: { userId: ALICE, sessionHash: 'session-hash', expiresAt: NOW / 1000 + 3600, attemptId } });
  /** A wrong guess from start to end: admitted, then failed. */
  const wrongGuess = (attemptId: string, overrides: Parameters<typeof failed>[1] = {}) => [admitted(attemptId, overrides), failed(attemptId, overrides)];

  const spec = deciderSpec<SignInCommand, SignInState, DecidedEvent>(signInDecider);
  /**
   * The users projection, in miniature, for alice signing in from ADDRESS: her account's sign-in subject folded by
   * the decider's own evolveAccount, her address's bad-credential failures from every account; all a minute ago.
   */
  const after = (events: DecidedEvent[]): SignInState =>
    events.reduce((state, event) => {
      const isAccountEvent = (e: DecidedEvent): e is Parameters<typeof evolveAccount>[1] => e.type === 'SignInAttemptAdmitted' || e.type === 'UserSignedIn' || e.type === 'UserSignInFailed';
      if (!isAccountEvent(event)) return state;
      const addressFailure = event.type === 'UserSignInFailed' && event.data.reason === 'bad_credentials' && event.data.clientAddress === ADDRESS;
      return {
        accountGuesses: event.data.userId === ALICE ? evolveAccount(state.accountGuesses, event, ago(60_000)) : state.accountGuesses,
        addressFailures: addressFailure ? [...state.addressFailures, ago(60_000)] : state.addressFailures,
      };
    }, signInInitialState());

  test('a guess is admitted to the password check, then the right password opens a session that expires after the session lifetime', () => {
    spec.given(after([])).when(admit('a1')).then([admitted('a1')]);
    spec.given(after([admitted('a1')])).when(complete('a1')).then([signedIn('a1')]);
  });

  test('a wrong password and an unknown user are both bad credentials, ending their attempt (the audit trail tells them apart)', () => {
    spec.given(after([admitted('a1')])).when(complete('a1', { passwordValid: false })).then([failed('a1')]);
    spec.given(after([admitted('a1')])).when(complete('a1', { userExists: false, passwordValid: false })).then([failed('a1', { userExists: false })]);
    // Even if the edge said "valid" for a user that does not exist, there is no session.
    spec.given(after([admitted('a1')])).when(complete('a1', { userExists: false, passwordValid: true })).then([failed('a1', { userExists: false })]);
  });

  test('after the account limit of wrong guesses, even the right password is refused unchecked', () => {
    const three = [...wrongGuess('a1'), ...wrongGuess('a2'), ...wrongGuess('a3')];
    spec.given(after(three.slice(0, 4))).when(admit('a4')).then([admitted('a4')]);
    spec.given(after(three)).when(admit('a4')).then([throttled]);
  });

  test('guesses admitted and not yet answered count: parallel guesses stop at the limit', () => {
    spec.given(after([admitted('a1'), admitted('a2')])).when(admit('a3')).then([admitted('a3')]);
    spec.given(after([admitted('a1'), admitted('a2'), admitted('a3')])).when(admit('a4')).then([throttled]);
  });

  test('a guess counts once: admitted, then failed, is one guess', () => {
    spec.given(after([...wrongGuess('a1'), ...wrongGuess('a2')])).when(admit('a3')).then([admitted('a3')]);
  });

  test('a failure recorded without an admission (before admissions existed) counts too', () => {
    spec.given(after([failed(null), failed(null), failed(null)])).when(admit('a1')).then([throttled]);
  });

  test('attempts refused while throttled do not count as more guesses', () => {
    spec.given(after([...wrongGuess('a1'), ...wrongGuess('a2'), throttled, throttled, throttled])).when(admit('a3')).then([admitted('a3')]);
  });

  test("another account's guesses do not throttle alice, unless their failures come from her address", () => {
    const bobElsewhere = Array.from({ length: 10 }, (_, i) => wrongGuess(`b${i}`, { username: 'bob', userId: 'usr_bob', clientAddress: '203.0.113.9' })).flat();
    spec.given(after(bobElsewhere)).when(admit('a1')).then([admitted('a1')]);
    const strangersHere = Array.from({ length: 5 }, (_, i) => wrongGuess(`u${i}`, { username: `u${i}`, userId: `usr_u${i}`, userExists: false })).flat();
    spec.given(after(strangersHere.slice(0, 8))).when(admit('a1')).then([admitted('a1')]);
    spec.given(after(strangersHere)).when(admit('a1')).then([throttled]);
  });

  test('a successful sign-in clears the failures before it', () => {
    spec.given(after([...wrongGuess('a1'), ...wrongGuess('a2'), admitted('a3'), signedIn('a3'), ...wrongGuess('a4'), ...wrongGuess('a5')])).when(admit('a6')).then([admitted('a6')]);
  });

  test('but not the guesses still being checked: they were let through under the count before it', () => {
    spec.given(after([admitted('a1'), admitted('a2'), admitted('a3'), signedIn('a3'), admitted('a4')])).when(admit('a5')).then([throttled]);
    spec.given(after([admitted('a1'), admitted('a2'), admitted('a3'), signedIn('a3'), failed('a1'), failed('a2')])).when(admit('a4')).then([admitted('a4')]);
  });

  test('signing out records the end of that session', () => {
    spec.given(after([admitted('a1'), signedIn('a1')])).when({ type: 'SignOut', data: { userId: ALICE, sessionHash: 'session-hash' } }).then([{ type: 'UserSignedOut', data: { userId: ALICE, sessionHash: 'session-hash' } }]);
  });
});

// ---------------------------------------------------------------------------------------------------
// Where to go after signing in
// ---------------------------------------------------------------------------------------------------

describe('safeReturnTo', () => {
  const ISSUER = 'https://auth.example.com';
  const cases: Array<[string | undefined, string]> = [
    ['/authorize?client_id=a&state=b', '/authorize?client_id=a&state=b'],
    ['/authorize', '/authorize'],
    ['/account', '/account'],
    ['/account?revoked=x', '/account?revoked=x'],
    ['/authorize/../account', '/account'],
    [undefined, '/account'],
    ['', '/account'],
    ['//evil.example', '/account'],
    ['//evil.example/authorize', '/account'],
    ['///evil.example/authorize', '/account'],
    ['https://evil.example/authorize', '/account'],
    ['https://auth.example.com/authorize', '/account'],
    ['/\\evil.example/authorize', '/account'],
    ['\\\\evil.example', '/account'],
    ['/authorize\\@evil.example', '/account'],
    ['javascript:alert(1)', '/account'],
    ['/signin', '/account'],
    ['/signout', '/account'],
    ['/authorize/consent', '/account'],
    ['/.well-known/oauth-authorization-server', '/account'],
    ['authorize', '/account'],
    ['/%2F%2Fevil.example', '/account'],
    ['/\t/evil.example', '/account'],
  ];
  for (const [value, expected] of cases) {
    test(`${JSON.stringify(value)} → ${expected}`, () => {
      const result = safeReturnTo(value, ISSUER);
      assert.equal(result, expected);
      // Whatever it is, the result stays on the issuer's origin.
      assert.equal(new URL(result, ISSUER).origin, ISSUER);
    });
  }

  test('an issuer with a path keeps paths relative to the origin', () => {
    assert.equal(safeReturnTo('/authorize?x=1', 'https://auth.example.com/tenant'), '/authorize?x=1');
  });
});
