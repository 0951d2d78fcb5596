import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { toEnvelope, type DecidedEvent, type DomainEvent, type EventOfType, type RecordedEvent } from '@mcp-auth/contracts';
import type { Consent } from '@mcp-auth/read-models';
import { decide as decideRevocation, decideConsent } from '../src/connected-apps/decider.ts';
import { consentRevocationsFollowing } from '../src/connected-apps/policy.ts';

const consent = (consentId: string, overrides: Partial<Consent> = {}): Consent => ({
  consentId,
  userId: 'usr_alice',
  clientId: 'client-1',
  resource: 'https://mcp.example/mcp',
  scopes: ['profile'],
  redirectUrisFingerprint: 'rf',
  grantedAt: '2026-01-01T00:00:00.000Z',
  revokedAt: null,
  version: 1,
  ...overrides,
});

/** A cause as the policy receives it from the stream. */
function cause<T extends 'ClientDeleted' | 'ClientExpired'>(decided: Extract<DecidedEvent, { type: T }>, position = 50): RecordedEvent<EventOfType<T>> {
  return { ...toEnvelope(decided, { actor: { kind: 'admin', id: 'admin' } }), position, subject: 's' } as RecordedEvent<DomainEvent> as RecordedEvent<EventOfType<T>>;
}

describe('authorization-policies: what ends a remembered consent', () => {
  const consents = [consent('k1'), consent('k2', { userId: 'usr_bob' }), consent('k3', { revokedAt: '2026-01-02T00:00:00.000Z' }), consent('k4', { clientId: 'client-2' })];

  test('given a client deleted or expired, then each of its consents not yet revoked is revoked (client_deleted)', () => {
    for (const deleted of [cause({ type: 'ClientDeleted', data: { clientId: 'client-1' } }), cause({ type: 'ClientExpired', data: { clientId: 'client-1', lastUsedAt: '2026-01-01T00:00:00.000Z', idleDays: 90 } })]) {
      assert.deepEqual(consentRevocationsFollowing(deleted, consents), [
        { type: 'RevokeConsent', data: { consentId: 'k1', reason: 'client_deleted' } },
        { type: 'RevokeConsent', data: { consentId: 'k2', reason: 'client_deleted' } },
      ]);
    }
  });
});

describe('revoking one consent', () => {
  test('given a consent in force, then ConsentRevoked with the reason', () => {
    assert.deepEqual(decideConsent({ type: 'RevokeConsent', data: { consentId: 'k1', reason: 'client_deleted' } }, { consent: consent('k1') }), [
      { type: 'ConsentRevoked', data: { consentId: 'k1', userId: 'usr_alice', clientId: 'client-1', reason: 'client_deleted' } },
    ]);
  });

  test('given a consent revoked already, or unknown, then nothing: a reaction delivered twice records nothing twice', () => {
    assert.deepEqual(decideConsent({ type: 'RevokeConsent', data: { consentId: 'k1', reason: 'revoked_by_admin' } }, { consent: consent('k1', { revokedAt: '2026-01-02T00:00:00.000Z' }) }), []);
    assert.deepEqual(decideConsent({ type: 'RevokeConsent', data: { consentId: 'k1', reason: 'revoked_by_admin' } }, { consent: null }), []);
  });

  test("the user's own revocation carries no reason, and is written as version 1 for readers not yet upgraded", () => {
    const [event] = decideRevocation({ type: 'RevokeApp', data: { userId: 'usr_alice', clientId: 'client-1' } }, { activeConsents: [consent('k1')] });
    assert.deepEqual(event, { type: 'ConsentRevoked', data: { consentId: 'k1', userId: 'usr_alice', clientId: 'client-1' } });
    assert.equal(toEnvelope(event!, { actor: { kind: 'user', id: 'usr_alice' } }).metadata.schemaVersion, 1);
    const [byAdmin] = decideConsent({ type: 'RevokeConsent', data: { consentId: 'k1', reason: 'revoked_by_admin' } }, { consent: consent('k1') });
    assert.equal(toEnvelope(byAdmin!, { actor: { kind: 'system', id: 'authorization-policies' } }).metadata.schemaVersion, 2);
  });
});
