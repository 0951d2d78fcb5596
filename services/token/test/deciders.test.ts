import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { subjectOf, toEnvelope, type DecidedEvent, type DomainEvent, type RecordedEvent } from '@mcp-auth/contracts';
import { OAuthError, s256 } from '@mcp-auth/oauth';
import { GrantsReadModel, clientsProjection, consentsProjection, grantsProjection, type Grant } from '@mcp-auth/read-models';
import { CodeAlreadyRedeemed, decide as decideRedemption, type CodeState, type RedeemCode } from '../src/codes/decider.ts';
import { CodesReadModel, codesProjection, type AuthorizationCode } from '../src/codes/projection.ts';
import { decide as decideGrant } from '../src/grants/decider.ts';
import { decide as decideRefresh, type RefreshGrant, type RefreshState } from '../src/refresh/decider.ts';
import { RefreshTokensReadModel, refreshTokensProjection } from '../src/refresh/projection.ts';

/** The decision refused with exactly this OAuth error (and, if given, a description matching `about`). */
function refuses(run: () => unknown, error: string, about?: RegExp): void {
  assert.throws(run, (err: unknown) => {
    assert.ok(err instanceof OAuthError, `expected an OAuthError, got ${String(err)}`);
    assert.equal(err.code, error);
    assert.equal(err.status, 400);
    if (about) assert.match(err.description, about);
    return true;
  });
}

const RESOURCE = 'http://localhost:3000/mcp';
const VERIFIER = 'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk';

// ---------------------------------------------------------------------------------------------------
// Code redemption (RFC 6749 §4.1.3, RFC 7636 §4.6, RFC 8707)
// ---------------------------------------------------------------------------------------------------

const code: AuthorizationCode = {
  codeHash: 'code-hash',
  clientId: 'client-1',
  userId: 'user-1',
  redirectUri: 'http://127.0.0.1:8976/callback',
  codeChallenge: s256(VERIFIER),
  resource: RESOURCE,
  scopes: ['profile', 'notes:read'],
  consentId: 'consent-1',
  expiresAt: 1_000_060,
  redeemedGrantId: null,
  version: 7,
};
const issue = { grantId: 'grant-1', refreshTokenHash: 'rt-hash', accessTokenJti: 'jti-1', accessTokenExpiresAt: 1_000_600, grantExpiresAt: 3_592_000 };
const redeem = (overrides: Partial<RedeemCode['data']> = {}): RedeemCode => ({
  type: 'RedeemCode',
  data: { clientId: 'client-1', redirectUri: code.redirectUri, codeVerifier: VERIFIER, resource: RESOURCE, nowSeconds: 1_000_000, issue, ...overrides },
});
const live: CodeState = { code, consentActive: true };

describe('code redemption decider', () => {
  test('a valid redemption starts the grant: the event carries the code, the grant and the first tokens', () => {
    assert.deepEqual(decideRedemption(redeem(), live), [
      {
        type: 'AuthorizationCodeRedeemed',
        data: {
          codeHash: 'code-hash',
          grantId: 'grant-1',
          clientId: 'client-1',
          userId: 'user-1',
          resource: RESOURCE,
          scopes: ['profile', 'notes:read'],
          consentId: 'consent-1',
          refreshTokenHash: 'rt-hash',
          accessTokenJti: 'jti-1',
          accessTokenExpiresAt: 1_000_600,
          grantExpiresAt: 3_592_000,
        },
      },
    ]);
  });

  test('an unknown code is invalid_grant', () => {
    refuses(() => decideRedemption(redeem(), { code: null, consentActive: false }), 'invalid_grant', /invalid/);
  });

  test('a redeemed code is refused with the grant it started, so that grant can be revoked', () => {
    assert.throws(
      () => decideRedemption(redeem(), { code: { ...code, redeemedGrantId: 'grant-0' }, consentActive: true }),
      (err: unknown) => err instanceof CodeAlreadyRedeemed && err.grantId === 'grant-0' && err.code === 'invalid_grant',
    );
  });

  test('a code issued to another client is invalid_grant', () => {
    refuses(() => decideRedemption(redeem({ clientId: 'client-2' }), live), 'invalid_grant', /another client/);
  });

  test('a redeemed code presented by another client is invalid_grant, not a reuse: the grant it started is not to be revoked', () => {
    const redeemed = { code: { ...code, redeemedGrantId: 'grant-0' }, consentActive: true };
    assert.throws(
      () => decideRedemption(redeem({ clientId: 'client-2' }), redeemed),
      (err: unknown) => !(err instanceof CodeAlreadyRedeemed) && err instanceof OAuthError && err.code === 'invalid_grant' && /another client/.test(err.description),
    );
  });

  test('a code expires at expiresAt (injected clock)', () => {
    assert.equal(decideRedemption(redeem({ nowSeconds: code.expiresAt - 1 }), live).length, 1);
    refuses(() => decideRedemption(redeem({ nowSeconds: code.expiresAt }), live), 'invalid_grant', /expired/);
    refuses(() => decideRedemption(redeem({ nowSeconds: code.expiresAt + 3600 }), live), 'invalid_grant', /expired/);
  });

  test('redirect_uri must be sent and equal to the authorization request’s, byte for byte', () => {
    refuses(() => decideRedemption(redeem({ redirectUri: undefined }), live), 'invalid_grant', /redirect_uri/);
    refuses(() => decideRedemption(redeem({ redirectUri: 'http://127.0.0.1:8976/other' }), live), 'invalid_grant', /redirect_uri/);
    refuses(() => decideRedemption(redeem({ redirectUri: 'http://127.0.0.1:8976/callback/' }), live), 'invalid_grant', /redirect_uri/);
  });

  test('PKCE: a wrong, missing or malformed code_verifier is invalid_grant', () => {
    refuses(() => decideRedemption(redeem({ codeVerifier: VERIFIER.replace(/.$/, 'Y') }), live), 'invalid_grant', /code_verifier/);
    refuses(() => decideRedemption(redeem({ codeVerifier: undefined }), live), 'invalid_grant', /code_verifier/);
    refuses(() => decideRedemption(redeem({ codeVerifier: '' }), live), 'invalid_grant', /code_verifier/);
    // Malformed verifiers are refused even when their hash is the challenge (RFC 7636 §4.1: 43–128 unreserved chars).
    for (const malformed of ['too-short', 'x'.repeat(129), `${'a'.repeat(42)} `, `${'a'.repeat(42)}+`]) {
      refuses(() => decideRedemption(redeem({ codeVerifier: malformed }), { code: { ...code, codeChallenge: s256(malformed) }, consentActive: true }), 'invalid_grant', /code_verifier/);
    }
    // The plain method is not S256: the verifier itself as the challenge does not pass.
    refuses(() => decideRedemption(redeem(), { code: { ...code, codeChallenge: VERIFIER }, consentActive: true }), 'invalid_grant', /code_verifier/);
  });

  test('resource: omitted or equal modulo a trailing slash is fine; another one is invalid_target', () => {
    assert.equal(decideRedemption(redeem({ resource: undefined }), live)[0]!.type, 'AuthorizationCodeRedeemed');
    const slashed = decideRedemption(redeem({ resource: `${RESOURCE}/` }), live)[0]!;
    assert.equal(slashed.type === 'AuthorizationCodeRedeemed' && slashed.data.resource, RESOURCE, 'the grant keeps the authorized spelling');
    refuses(() => decideRedemption(redeem({ resource: 'http://localhost:3000/other' }), live), 'invalid_target');
    refuses(() => decideRedemption(redeem({ resource: 'http://localhost:3001/mcp' }), live), 'invalid_target');
    refuses(() => decideRedemption(redeem({ resource: 'not a url' }), live), 'invalid_target');
  });

  test('a code whose consent was revoked since is invalid_grant', () => {
    refuses(() => decideRedemption(redeem(), { code, consentActive: false }), 'invalid_grant', /revoked/);
  });
});

// ---------------------------------------------------------------------------------------------------
// Refresh rotation (RFC 6749 §6, RFC 9700 §4.14.2) with the grace window
// ---------------------------------------------------------------------------------------------------

const T = 1_700_000_000_000;
const policy = { graceMs: 10_000, maxGraceRetries: 5 };
const grant: Grant = {
  grantId: 'grant-1',
  clientId: 'client-1',
  userId: 'user-1',
  resource: RESOURCE,
  scopes: ['profile', 'notes:read', 'notes:write'],
  consentId: 'consent-1',
  createdAt: new Date(T - 60_000).toISOString(),
  expiresAt: T / 1000 + 86_400,
  revokedAt: null,
  revokeReason: null,
  consentRevoked: false,
  clientActive: true,
};
const refresh = (overrides: Partial<RefreshGrant['data']> = {}): RefreshGrant => ({
  type: 'RefreshGrant',
  data: {
    clientId: 'client-1',
    presentedHash: 'rt-1',
    requestedScopes: null,
    resource: undefined,
    newRefreshTokenHash: 'rt-new',
    accessTokenJti: 'jti-new',
    accessTokenExpiresAt: T / 1000 + 600,
    nowMs: T,
    policy,
    ...overrides,
  },
});
const current: RefreshState = { token: { tokenHash: 'rt-1', grantId: 'grant-1', generation: 1, spentAtMs: null }, grant, family: { generation: 1, graceRetries: 0, version: 0 } };
/** rt-1 was spent by the rotation to generation 2 at `spentAtMs`. */
const spent = (spentAtMs: number, family = { generation: 2, graceRetries: 0, version: 7 }, generation = 1): RefreshState => ({
  token: { tokenHash: 'rt-1', grantId: 'grant-1', generation, spentAtMs },
  grant,
  family,
});
const rotated = (scopes: string[], graceRetry: boolean): DecidedEvent => ({
  type: 'RefreshTokenRotated',
  data: { grantId: 'grant-1', clientId: 'client-1', spentRefreshTokenHash: 'rt-1', refreshTokenHash: 'rt-new', scopes, accessTokenJti: 'jti-new', accessTokenExpiresAt: T / 1000 + 600, graceRetry },
});
const reuse: DecidedEvent[] = [
  { type: 'RefreshTokenReuseDetected', data: { grantId: 'grant-1', clientId: 'client-1', refreshTokenHash: 'rt-1' } },
  { type: 'GrantRevoked', data: { grantId: 'grant-1', reason: 'refresh_token_reuse', consentId: 'consent-1' } },
];

describe('refresh rotation decider', () => {
  test('the current token rotates, with every scope of the grant', () => {
    assert.deepEqual(decideRefresh(refresh(), current), [rotated(grant.scopes, false)]);
  });

  test('a narrower scope may be asked for; a wider one is invalid_scope; none at all is invalid_scope', () => {
    assert.deepEqual(decideRefresh(refresh({ requestedScopes: ['notes:read'] }), current), [rotated(['notes:read'], false)]);
    refuses(() => decideRefresh(refresh({ requestedScopes: ['notes:read', 'admin'] }), current), 'invalid_scope', /admin/);
    refuses(() => decideRefresh(refresh({ requestedScopes: ['notes:read'] }), { ...current, grant: { ...grant, scopes: ['profile'] } }), 'invalid_scope');
    refuses(() => decideRefresh(refresh({ requestedScopes: [] }), current), 'invalid_scope');
  });

  test('resource must stay the grant’s (modulo a trailing slash); another is invalid_target', () => {
    assert.deepEqual(decideRefresh(refresh({ resource: `${RESOURCE}/` }), current), [rotated(grant.scopes, false)]);
    refuses(() => decideRefresh(refresh({ resource: 'https://evil.example/mcp' }), current), 'invalid_target');
  });

  test('an unknown token, or one of another client, is invalid_grant and records nothing', () => {
    refuses(() => decideRefresh(refresh(), { token: null, grant: null, family: null }), 'invalid_grant');
    refuses(() => decideRefresh(refresh({ clientId: 'client-2' }), current), 'invalid_grant', /another client/);
    // Even a spent token presented by another client is not "reuse" by the owner: nothing is revoked.
    refuses(() => decideRefresh(refresh({ clientId: 'client-2', nowMs: T + 60_000 }), spent(T)), 'invalid_grant', /another client/);
  });

  test('a revoked grant, a revoked consent or an expired grant is invalid_grant', () => {
    refuses(() => decideRefresh(refresh(), { ...current, grant: { ...grant, revokedAt: new Date(T).toISOString(), revokeReason: 'revoked_by_client' } }), 'invalid_grant', /revoked/);
    refuses(() => decideRefresh(refresh(), { ...current, grant: { ...grant, consentRevoked: true } }), 'invalid_grant', /revoked/);
    refuses(() => decideRefresh(refresh({ nowMs: grant.expiresAt * 1000 }), current), 'invalid_grant', /expired/);
    assert.equal(decideRefresh(refresh({ nowMs: grant.expiresAt * 1000 - 1000 }), current).length, 1, 'the second before expiry still works');
  });

  test('a spent token retried within the grace window of its own rotation gets a sibling (graceRetry)', () => {
    assert.deepEqual(decideRefresh(refresh({ nowMs: T + 1 }), spent(T)), [rotated(grant.scopes, true)]);
    assert.deepEqual(decideRefresh(refresh({ nowMs: T + policy.graceMs }), spent(T)), [rotated(grant.scopes, true)], 'the window is inclusive');
    assert.deepEqual(decideRefresh(refresh({ nowMs: T + 5 }), spent(T, { generation: 2, graceRetries: policy.maxGraceRetries - 1, version: 7 })), [rotated(grant.scopes, true)]);
  });

  test('grace retries are bounded per generation: over the bound it is invalid_grant and nothing is recorded', () => {
    refuses(() => decideRefresh(refresh({ nowMs: T + 5 }), spent(T, { generation: 2, graceRetries: policy.maxGraceRetries, version: 7 })), 'invalid_grant', /just used/);
    refuses(() => decideRefresh(refresh({ nowMs: T + 5, policy: { ...policy, maxGraceRetries: 0 } }), spent(T)), 'invalid_grant', /just used/);
  });

  test('a spent token after the grace window is reuse: the grant is revoked', () => {
    assert.deepEqual(decideRefresh(refresh({ nowMs: T + policy.graceMs + 1 }), spent(T)), reuse);
    assert.deepEqual(decideRefresh(refresh({ nowMs: T + 3_600_000 }), spent(T)), reuse);
  });

  test('a spent token from an older generation is reuse even within the grace window', () => {
    assert.deepEqual(decideRefresh(refresh({ nowMs: T + 1 }), spent(T, { generation: 3, graceRetries: 0, version: 7 })), reuse);
    assert.deepEqual(decideRefresh(refresh({ nowMs: T + 1 }), spent(T, { generation: 9, graceRetries: 0, version: 7 }, 2)), reuse);
  });

  test('a grace window of 0 disables grace retries, even within the same millisecond', () => {
    assert.deepEqual(decideRefresh(refresh({ nowMs: T, policy: { ...policy, graceMs: 0 } }), spent(T)), reuse);
    // Another replica's clock a little behind the one that rotated.
    assert.deepEqual(decideRefresh(refresh({ nowMs: T - 20, policy: { ...policy, graceMs: 0 } }), spent(T)), reuse);
  });
});

// ---------------------------------------------------------------------------------------------------
// The same rules given events: the real projections (in an in-memory SQLite) build the state, so the
// generations and grace siblings the decider reasons about are the ones the events produce.
// ---------------------------------------------------------------------------------------------------

function eventLog() {
  const db = new Database(':memory:');
  const projections = [clientsProjection, consentsProjection, grantsProjection, codesProjection, refreshTokensProjection];
  for (const p of projections) db.exec(p.schema);
  const grants = new GrantsReadModel(db);
  const tokens = new RefreshTokensReadModel(db);
  const codes = new CodesReadModel(db);
  let position = 0;
  return {
    get position(): number {
      return position;
    },
    apply(events: DecidedEvent[], atMs: number): void {
      for (const decided of events) {
        const envelope = toEnvelope(decided, { actor: { kind: 'system', id: 'test' }, now: new Date(atMs) });
        const recorded = { ...envelope, position: ++position, subject: subjectOf(decided) } as RecordedEvent<DomainEvent>;
        for (const p of projections) if ((p.handles as readonly string[]).includes(decided.type)) p.apply(recorded, db);
      }
    },
    refreshState(hash: string): RefreshState {
      const token = tokens.token(hash);
      return { token, grant: token ? grants.find(token.grantId) : null, family: token ? tokens.family(token.grantId) : null };
    },
    codeState(hash: string): CodeState {
      return { code: codes.find(hash), consentActive: true };
    },
  };
}

describe('rotation decider given events (through the real projections)', () => {
  const start = (log: ReturnType<typeof eventLog>) => {
    log.apply(
      [
        {
          type: 'ClientRegistered',
          data: {
            clientId: 'client-1',
            clientIdIssuedAt: T / 1000 - 10,
            metadata: { redirect_uris: [code.redirectUri], token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], application_type: 'native' },
            clientSecretHash: null,
            registrationTokenHash: 'rat',
            fingerprint: null,
          },
        },
        { type: 'ConsentGranted', data: { consentId: 'consent-1', userId: 'user-1', clientId: 'client-1', resource: RESOURCE, scopes: grant.scopes, redirectUrisFingerprint: 'fp' } },
        {
          type: 'AuthorizationCodeIssued',
          data: {
            codeHash: code.codeHash,
            clientId: code.clientId,
            userId: code.userId,
            redirectUri: code.redirectUri,
            codeChallenge: code.codeChallenge,
            codeChallengeMethod: 'S256',
            resource: RESOURCE,
            scopes: grant.scopes,
            consentId: 'consent-1',
            expiresAt: T / 1000 + 60,
          },
        },
      ],
      T - 2000,
    );
    const redemption = decideRedemption(redeem({ nowSeconds: T / 1000, issue: { ...issue, refreshTokenHash: 'rt-1', grantExpiresAt: grant.expiresAt } }), log.codeState('code-hash'));
    log.apply(redemption, T - 1000);
  };
  const step = (log: ReturnType<typeof eventLog>, presented: string, next: string, nowMs: number) => {
    const events = decideRefresh(refresh({ presentedHash: presented, newRefreshTokenHash: next, nowMs }), log.refreshState(presented));
    log.apply(events, nowMs);
    return events;
  };

  test('rotation spends the token; its grace sibling lives in the new generation; using any member spends them all', () => {
    const log = eventLog();
    start(log);
    assert.deepEqual(step(log, 'rt-1', 'rt-2', T).map((e) => e.type), ['RefreshTokenRotated']);
    const retry = step(log, 'rt-1', 'rt-2b', T + 100);
    assert.equal(retry[0]!.type === 'RefreshTokenRotated' && retry[0]!.data.graceRetry, true);
    assert.deepEqual(log.refreshState('rt-2b').token?.generation, 2);
    assert.equal(log.refreshState('rt-2').token?.spentAtMs, null);
    assert.equal(log.refreshState('rt-2b').token?.spentAtMs, null);
    // Using one sibling spends the other: no forked family.
    step(log, 'rt-2', 'rt-3', T + 200);
    assert.equal(log.refreshState('rt-2b').token?.spentAtMs, T + 200);
    // The other sibling within the window of that rotation is still a (bounded) retry…
    assert.equal(decideRefresh(refresh({ presentedHash: 'rt-2b', nowMs: T + 300 }), log.refreshState('rt-2b'))[0]!.type, 'RefreshTokenRotated');
    // …but past it, reuse; and the original token, now two generations old, is reuse at once.
    assert.deepEqual(decideRefresh(refresh({ presentedHash: 'rt-2b', nowMs: T + 200 + policy.graceMs + 1 }), log.refreshState('rt-2b')).map((e) => e.type), ['RefreshTokenReuseDetected', 'GrantRevoked']);
    assert.deepEqual(decideRefresh(refresh({ presentedHash: 'rt-1', nowMs: T + 300 }), log.refreshState('rt-1')).map((e) => e.type), ['RefreshTokenReuseDetected', 'GrantRevoked']);
  });

  test('the grace counter is per generation: a normal rotation resets it', () => {
    const log = eventLog();
    start(log);
    step(log, 'rt-1', 'rt-2', T);
    for (let i = 0; i < policy.maxGraceRetries; i++) step(log, 'rt-1', `rt-2-${i}`, T + 10 + i);
    refuses(() => decideRefresh(refresh({ nowMs: T + 50 }), log.refreshState('rt-1')), 'invalid_grant', /just used/);
    step(log, 'rt-2', 'rt-3', T + 100);
    assert.deepEqual(log.refreshState('rt-3').family, { generation: 3, graceRetries: 0, version: log.position }, 'the next rotation expects the grant subject at its last event');
    assert.equal(step(log, 'rt-2-0', 'rt-3b', T + 150)[0]!.type, 'RefreshTokenRotated');
  });

  test('after reuse revoked the grant, even the newest token is refused', () => {
    const log = eventLog();
    start(log);
    step(log, 'rt-1', 'rt-2', T);
    assert.deepEqual(step(log, 'rt-1', 'x', T + policy.graceMs + 1), reuse);
    refuses(() => decideRefresh(refresh({ presentedHash: 'rt-2', nowMs: T + policy.graceMs + 2 }), log.refreshState('rt-2')), 'invalid_grant', /revoked/);
  });

  test('a code redeemed once is refused the second time with the grant of the first', () => {
    const log = eventLog();
    start(log);
    assert.throws(() => decideRedemption(redeem({ nowSeconds: T / 1000 }), log.codeState('code-hash')), (err: unknown) => err instanceof CodeAlreadyRedeemed && err.grantId === 'grant-1');
  });
});

// ---------------------------------------------------------------------------------------------------
// Grant and access-token revocation (RFC 7009)
// ---------------------------------------------------------------------------------------------------

describe('grant decider', () => {
  const revokeGrant = { type: 'RevokeGrant' as const, data: { grantId: 'grant-1', reason: 'revoked_by_client' as const } };
  const revokeToken = { type: 'RevokeAccessToken' as const, data: { grantId: 'grant-1', jti: 'jti-1', expiresAt: 1_000_600 } };
  const revoked = { ...grant, revokedAt: new Date(T).toISOString(), revokeReason: 'refresh_token_reuse' };

  test('revoking an active grant records GrantRevoked with the reason', () => {
    assert.deepEqual(decideGrant(revokeGrant, { grant }), [{ type: 'GrantRevoked', data: { grantId: 'grant-1', reason: 'revoked_by_client', consentId: 'consent-1' } }]);
    assert.deepEqual(decideGrant({ ...revokeGrant, data: { grantId: 'grant-1', reason: 'authorization_code_reuse' } }, { grant }), [
      { type: 'GrantRevoked', data: { grantId: 'grant-1', reason: 'authorization_code_reuse', consentId: 'consent-1' } },
    ]);
  });

  test('revocation is idempotent: a revoked or unknown grant records nothing', () => {
    assert.deepEqual(decideGrant(revokeGrant, { grant: revoked }), []);
    assert.deepEqual(decideGrant(revokeGrant, { grant: null }), []);
  });

  test('an access token is revoked by its jti, once', () => {
    assert.deepEqual(decideGrant(revokeToken, { grant, accessTokenRevoked: false }), [{ type: 'TokenRevoked', data: revokeToken.data }]);
    assert.deepEqual(decideGrant(revokeToken, { grant, accessTokenRevoked: true }), []);
    assert.deepEqual(decideGrant(revokeToken, { grant: revoked, accessTokenRevoked: false }), [], 'its whole grant is already revoked');
    assert.deepEqual(decideGrant(revokeToken, { grant: null }), []);
  });
});
