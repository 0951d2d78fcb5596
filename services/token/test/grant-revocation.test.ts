import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { toEnvelope, type DecidedEvent, type DomainEvent, type EventOfType, type RecordedEvent } from '@mcp-auth/contracts';
import type { Grant } from '@mcp-auth/read-models';
import { decide } from '../src/grants/decider.ts';
import { revocationsFollowing } from '../src/grants/policy.ts';

const NOW = 1_800_000_000;
const grant = (grantId: string, overrides: Partial<Grant> = {}): Grant => ({
  grantId,
  clientId: 'client-1',
  userId: 'usr_alice',
  resource: 'https://mcp.example/mcp',
  scopes: ['profile'],
  consentId: 'k1',
  createdAt: '2026-01-01T00:00:00.000Z',
  expiresAt: NOW + 3600,
  revokedAt: null,
  revokeReason: null,
  consentRevoked: false,
  clientActive: true,
  ...overrides,
});

function cause<T extends 'ConsentRevoked'>(decided: Extract<DecidedEvent, { type: T }>): EventOfType<T> {
  return { ...toEnvelope(decided, { actor: { kind: 'admin', id: 'admin' } }), position: 50, subject: 's' } as RecordedEvent<DomainEvent> as RecordedEvent<EventOfType<T>>;
}

describe('token-policies: what ends a grant besides the token service', () => {
  const grants = [
    grant('g1'),
    grant('g2', { consentId: 'k2', userId: 'usr_bob' }),
    grant('g3', { revokedAt: '2026-01-02T00:00:00.000Z', revokeReason: 'revoked_by_client' }),
    grant('g4', { expiresAt: NOW - 1 }),
    grant('g5', { clientId: 'client-2', consentId: 'k5' }),
  ];

  test("given a consent revoked, then its grants not yet revoked nor expired are revoked for the consent's reason; a version-1 revocation was the user's", () => {
    const withTwo = [...grants, grant('g6'), grant('g7', { consentId: 'k1', revokedAt: '2026-01-02T00:00:00.000Z' }), grant('g8', { expiresAt: NOW - 1 })];
    const byUser = cause({ type: 'ConsentRevoked', data: { consentId: 'k1', userId: 'usr_alice', clientId: 'client-1' } });
    assert.deepEqual(revocationsFollowing(byUser, withTwo, NOW), [
      { type: 'RevokeGrant', data: { grantId: 'g1', reason: 'revoked_by_user' } },
      { type: 'RevokeGrant', data: { grantId: 'g6', reason: 'revoked_by_user' } },
    ]);
    for (const reason of ['revoked_by_admin', 'client_deleted'] as const) {
      const revoked = cause({ type: 'ConsentRevoked', data: { consentId: 'k1', userId: 'usr_alice', clientId: 'client-1', reason } });
      assert.deepEqual(revocationsFollowing(revoked, grants, NOW), [{ type: 'RevokeGrant', data: { grantId: 'g1', reason } }]);
    }
  });
});

describe('revoking one grant', () => {
  test('given a grant not yet revoked, then GrantRevoked with the reason and the consent it was made under', () => {
    assert.deepEqual(decide({ type: 'RevokeGrant', data: { grantId: 'g1', reason: 'client_deleted' } }, { grant: grant('g1') }), [
      { type: 'GrantRevoked', data: { grantId: 'g1', reason: 'client_deleted', consentId: 'k1' } },
    ]);
  });

  test('given a grant revoked already, then nothing: a reaction delivered twice records nothing twice', () => {
    assert.deepEqual(decide({ type: 'RevokeGrant', data: { grantId: 'g1', reason: 'revoked_by_user' } }, { grant: grant('g1', { revokedAt: '2026-01-02T00:00:00.000Z' }) }), []);
  });

  test('GrantRevoked with a reason of version 1 is written as version 1, with a new reason as version 2', () => {
    const [byAdmin] = decide({ type: 'RevokeGrant', data: { grantId: 'g1', reason: 'revoked_by_admin' } }, { grant: grant('g1') });
    const [byUser] = decide({ type: 'RevokeGrant', data: { grantId: 'g1', reason: 'revoked_by_user' } }, { grant: grant('g1') });
    assert.equal(toEnvelope(byAdmin!, { actor: { kind: 'system', id: 't' } }).metadata.schemaVersion, 1);
    assert.equal(toEnvelope(byUser!, { actor: { kind: 'system', id: 't' } }).metadata.schemaVersion, 2);
  });
});
