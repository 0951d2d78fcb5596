import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Grant } from '@mcp-auth/projections';
import { ClientNotFound, decide as decideClient } from '../src/clients/decider.ts';
import type { ClientOverview } from '../src/clients/usage-projection.ts';
import { GrantNotFound, decide as decideGrant } from '../src/grants/decider.ts';

const NOW = new Date('2026-11-27T12:00:00Z');
const NOW_S = NOW.getTime() / 1000;
const daysBefore = (days: number) => new Date(NOW.getTime() - days * 86_400_000).toISOString();

const client = (overrides: Partial<ClientOverview> = {}): ClientOverview => ({
  clientId: 'client-1',
  clientName: 'Agent',
  status: 'active',
  authMethod: 'none',
  redirectUris: ['http://127.0.0.1:8976/callback'],
  registeredAt: daysBefore(200),
  lastUsedAt: daysBefore(100),
  liveGrants: 0,
  ...overrides,
});

const grant = (overrides: Partial<Grant> = {}): Grant => ({
  grantId: 'grant-1',
  clientId: 'client-1',
  userId: 'user-1',
  resource: 'http://localhost:3000/mcp',
  scopes: ['profile'],
  consentId: 'consent-1',
  createdAt: daysBefore(1),
  expiresAt: NOW_S + 86_400,
  revokedAt: null,
  revokeReason: null,
  consentRevoked: false,
  ...overrides,
});

describe('idle client reaping', () => {
  const expire = (idleDays = 90) => ({ type: 'ExpireIdleClient' as const, data: { clientId: 'client-1', now: NOW, idleDays } });

  test('given a client unused for longer than the idle period and no live grant, when reaped, then it expires', () => {
    assert.deepEqual(decideClient(expire(), { client: client(), liveGrantIds: [] }), [
      { type: 'ClientExpired', data: { clientId: 'client-1', lastUsedAt: daysBefore(100), idleDays: 90 } },
    ]);
  });

  test('given a client with a live grant, when reaped however long idle, then nothing happens', () => {
    assert.deepEqual(decideClient(expire(), { client: client({ lastUsedAt: daysBefore(1000) }), liveGrantIds: ['grant-1'] }), []);
  });

  test('given a client used within the idle period, when reaped, then nothing happens', () => {
    assert.deepEqual(decideClient(expire(), { client: client({ lastUsedAt: daysBefore(89) }), liveGrantIds: [] }), []);
  });

  test('given a deleted or unknown client, or reaping turned off, then nothing happens', () => {
    assert.deepEqual(decideClient(expire(), { client: client({ status: 'deleted' }), liveGrantIds: [] }), []);
    assert.deepEqual(decideClient(expire(), { client: null, liveGrantIds: [] }), []);
    assert.deepEqual(decideClient(expire(0), { client: client(), liveGrantIds: [] }), []);
  });
});

describe('an admin deletes a client', () => {
  const del = { type: 'DeleteClientByAdmin' as const, data: { clientId: 'client-1' } };

  test('given an active client with live grants, then it is deleted and each live grant revoked', () => {
    assert.deepEqual(decideClient(del, { client: client(), liveGrantIds: ['g1', 'g2'] }), [
      { type: 'ClientDeleted', data: { clientId: 'client-1' } },
      { type: 'GrantRevoked', data: { grantId: 'g1', reason: 'revoked_by_admin' } },
      { type: 'GrantRevoked', data: { grantId: 'g2', reason: 'revoked_by_admin' } },
    ]);
  });

  test('given a deleted or unknown client, then it is not found', () => {
    assert.throws(() => decideClient(del, { client: client({ status: 'deleted' }), liveGrantIds: [] }), ClientNotFound);
    assert.throws(() => decideClient(del, { client: null, liveGrantIds: [] }), ClientNotFound);
  });
});

describe('an admin revokes a grant', () => {
  const revoke = { type: 'RevokeGrantByAdmin' as const, data: { grantId: 'grant-1', nowSeconds: NOW_S } };

  test('given a live grant, then GrantRevoked by admin', () => {
    assert.deepEqual(decideGrant(revoke, { grant: grant() }), [{ type: 'GrantRevoked', data: { grantId: 'grant-1', reason: 'revoked_by_admin' } }]);
  });

  test('given a grant already revoked, expired, or whose consent was revoked, then nothing more is recorded', () => {
    assert.deepEqual(decideGrant(revoke, { grant: grant({ revokedAt: daysBefore(1), revokeReason: 'revoked_by_client' }) }), []);
    assert.deepEqual(decideGrant(revoke, { grant: grant({ expiresAt: NOW_S - 1 }) }), []);
    assert.deepEqual(decideGrant(revoke, { grant: grant({ consentRevoked: true }) }), []);
  });

  test('given no such grant, then it is not found', () => {
    assert.throws(() => decideGrant(revoke, { grant: null }), GrantNotFound);
  });
});
