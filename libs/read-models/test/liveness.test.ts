import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { subjectOf, toEnvelope, type DecidedEvent, type DomainEvent, type RecordedEvent } from '@mcp-auth/contracts';
import {
  ConsentsReadModel,
  GRANT_JOINS_SQL,
  GrantsReadModel,
  LIVE_GRANT_SQL,
  clientsProjection,
  consentsProjection,
  grantIsActive,
  grantsProjection,
} from '../src/index.ts';

const NOW = 1_800_000_000;
const metadata = { redirect_uris: ['http://127.0.0.1/cb'], token_endpoint_auth_method: 'none' as const, grant_types: ['authorization_code'], response_types: ['code'], application_type: 'native' as const };
const registered = (clientId: string): DecidedEvent => ({
  type: 'ClientRegistered',
  data: { clientId, clientIdIssuedAt: NOW, metadata, clientSecretHash: null, registrationTokenHash: 'rat', fingerprint: 'fp' },
});
const consent = (consentId: string, clientId: string, userId = 'alice'): DecidedEvent => ({
  type: 'ConsentGranted',
  data: { consentId, userId, clientId, resource: 'https://mcp.example/mcp', scopes: ['profile'], redirectUrisFingerprint: 'rf' },
});
const grant = (grantId: string, clientId: string, consentId: string, expiresAt = NOW + 3600): DecidedEvent => ({
  type: 'AuthorizationCodeRedeemed',
  data: {
    codeHash: `code-${grantId}`,
    grantId,
    clientId,
    userId: 'alice',
    resource: 'https://mcp.example/mcp',
    scopes: ['profile'],
    consentId,
    refreshTokenHash: `rt-${grantId}`,
    accessTokenJti: `jti-${grantId}`,
    accessTokenExpiresAt: NOW + 600,
    grantExpiresAt: expiresAt,
  },
});

/** The shared projections, in a SQLite of their own, given events in stream order. */
function projected(events: DecidedEvent[]) {
  const db = new Database(':memory:');
  const projections = [clientsProjection, consentsProjection, grantsProjection];
  for (const p of projections) db.exec(p.schema);
  events.forEach((decided, i) => {
    const recorded = { ...toEnvelope(decided, { actor: { kind: 'system', id: 'test' } }), position: i + 1, subject: subjectOf(decided) } as RecordedEvent<DomainEvent>;
    for (const p of projections) if ((p.handles as readonly string[]).includes(decided.type)) p.apply(recorded, db);
  });
  const live = db.prepare<{ now: number }, { grant_id: string }>(`SELECT g.grant_id FROM ${GRANT_JOINS_SQL} WHERE ${LIVE_GRANT_SQL} ORDER BY g.grant_id`);
  return { grants: new GrantsReadModel(db), consents: new ConsentsReadModel(db), liveBySql: () => live.all({ now: NOW }).map((r) => r.grant_id) };
}

describe('whether a grant or a consent stands', () => {
  const events: DecidedEvent[] = [
    registered('kept'),
    consent('k-kept', 'kept'),
    grant('g-live', 'kept', 'k-kept'),
    grant('g-expired', 'kept', 'k-kept', NOW - 1),
    grant('g-revoked', 'kept', 'k-kept'),
    { type: 'GrantRevoked', data: { grantId: 'g-revoked', reason: 'revoked_by_admin', consentId: 'k-kept' } },
    registered('unconsented'),
    consent('k-revoked', 'unconsented'),
    grant('g-consent-revoked', 'unconsented', 'k-revoked'),
    { type: 'ConsentRevoked', data: { consentId: 'k-revoked', userId: 'alice', clientId: 'unconsented' } },
    registered('deleted'),
    consent('k-deleted', 'deleted'),
    grant('g-client-deleted', 'deleted', 'k-deleted'),
    { type: 'ClientDeleted', data: { clientId: 'deleted' } },
    registered('back'),
    consent('k-before', 'back'),
    grant('g-before', 'back', 'k-before'),
    { type: 'ClientExpired', data: { clientId: 'back', lastUsedAt: '2026-01-01T00:00:00.000Z', idleDays: 90 } },
    registered('back'),
    consent('k-after', 'back'),
    grant('g-after', 'back', 'k-after'),
    // A metadata document's client: no registration, nothing that could end one.
    consent('k-document', 'https://app.example/client.json'),
    grant('g-document', 'https://app.example/client.json', 'k-document'),
    // A registered-looking id with no registration at all stands for nothing.
    consent('k-unknown', 'never-registered'),
    grant('g-unknown', 'never-registered', 'k-unknown'),
  ];

  test('given a client deleted, or deleted and registered again under the same id, then what it held before is dead and what came after lives', () => {
    const { grants, consents } = projected(events);
    const active = (id: string) => grantIsActive(grants.find(id)!, NOW);
    assert.equal(active('g-live'), true);
    assert.equal(active('g-expired'), false);
    assert.equal(active('g-revoked'), false);
    assert.equal(active('g-consent-revoked'), false);
    assert.equal(active('g-client-deleted'), false);
    assert.equal(active('g-before'), false, 'a grant of the registration before the expiry');
    assert.equal(active('g-after'), true);
    assert.equal(active('g-document'), true, 'a grant of a document client');
    assert.equal(active('g-unknown'), false);
    assert.equal(consents.isActive('k-document'), true);
    assert.equal(consents.isActive('k-unknown'), false);
    assert.equal(consents.isActive('k-kept'), true);
    assert.equal(consents.isActive('k-deleted'), false);
    assert.equal(consents.isActive('k-before'), false, 'a consent of the registration before the expiry');
    assert.deepEqual(consents.activeForClient('alice', 'back').map((c) => c.consentId), ['k-after']);
    assert.deepEqual(consents.activeForUser('alice').map((c) => c.consentId).sort(), ['k-after', 'k-document', 'k-kept']);
  });

  test('LIVE_GRANT_SQL, which listings use, answers as grantIsActive does for every grant', () => {
    const { grants, liveBySql } = projected(events);
    const all = ['g-live', 'g-expired', 'g-revoked', 'g-consent-revoked', 'g-client-deleted', 'g-before', 'g-after', 'g-document', 'g-unknown'];
    assert.deepEqual(liveBySql(), all.filter((id) => grantIsActive(grants.find(id)!, NOW)).sort());
  });

  test('a deletion ends only what came before it: the unrevoked consents a policy revokes, and the grants of a consent', () => {
    const { grants, consents } = projected(events);
    // 'back' expired at position 18 and was registered again at 19.
    assert.deepEqual(consents.unrevokedOfClientBefore('back', 18).map((c) => c.consentId), ['k-before']);
    assert.deepEqual(grants.unrevokedOfConsent('k-kept', NOW).map((g) => g.grantId), ['g-live']);
  });
});
