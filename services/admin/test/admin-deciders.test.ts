import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Grant } from '@mcp-auth/projections';
import { ClientNotFound, decide as decideClient } from '../src/clients/decider.ts';
import type { ClientOverview } from '../src/clients/usage-projection.ts';
import { GrantNotFound, decide as decideGrant } from '../src/grants/decider.ts';
import type { WebhookDelivery, WebhookEndpoint } from '../src/webhooks/projection.ts';
import { DeliveryNotFound, DeliveryNotRetryable, decideRetry } from '../src/webhooks/retry.ts';

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
  clientActive: true,
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

describe('an operator retries a webhook delivery', () => {
  const endpoint: WebhookEndpoint = {
    webhookId: 'wh_1',
    url: 'https://hooks.example.com/x',
    eventTypes: ['*'],
    description: '',
    status: 'active',
    createdAt: daysBefore(2),
    removedAt: null,
    deliveries: { pending: 0, delivered: 0, deadLettered: 1, cancelled: 0 },
  };
  const delivery = (overrides: Partial<WebhookDelivery> = {}): WebhookDelivery => ({
    deliveryId: 'msg_0123456789abcdef',
    webhookId: 'wh_1',
    eventId: 'event-1',
    eventType: 'ClientRegistered',
    state: 'dead_lettered',
    attempts: 8,
    lastStatus: 500,
    lastError: 'HTTP 500',
    lastDurationMs: 3,
    firstAttemptAt: daysBefore(1),
    lastAttemptAt: daysBefore(1),
    deliveredAt: null,
    deadLetteredAt: daysBefore(1),
    sequence: 40,
    eventPosition: 12,
    retries: 0,
    attemptsBeforeRetry: 0,
    ...overrides,
  });

  test('given a dead letter of a live endpoint, then WebhookDeliveryRetried for its event, and the job is sent', () => {
    assert.deepEqual(decideRetry(delivery(), endpoint), {
      events: [{ type: 'WebhookDeliveryRetried', data: { deliveryId: 'msg_0123456789abcdef', webhookId: 'wh_1', eventId: 'event-1', eventType: 'ClientRegistered', eventPosition: 12 } }],
      resend: true,
    });
  });

  test('given a retry not yet tried (its job may be lost), then only the job is sent again', () => {
    assert.deepEqual(decideRetry(delivery({ state: 'pending', retries: 1, attemptsBeforeRetry: 8 }), endpoint), { events: [], resend: true });
  });

  test('given a delivered or pending delivery, a removed endpoint, or an unknown delivery, then it is refused', () => {
    assert.throws(() => decideRetry(delivery({ state: 'delivered' }), endpoint), DeliveryNotRetryable);
    assert.throws(() => decideRetry(delivery({ state: 'pending', retries: 1, attempts: 9, attemptsBeforeRetry: 8 }), endpoint), DeliveryNotRetryable);
    assert.throws(() => decideRetry(delivery(), { ...endpoint, status: 'removed' }), DeliveryNotRetryable);
    assert.throws(() => decideRetry(delivery({ eventPosition: null }), endpoint), DeliveryNotRetryable);
    assert.throws(() => decideRetry(null, endpoint), DeliveryNotFound);
  });
});
