import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decideExpiry } from '../src/clients/decider.ts';
import type { ClientOverview } from '../src/clients/usage-projection.ts';
import type { WebhookDelivery, WebhookEndpoint } from '../src/webhooks/projection.ts';
import { DeliveryNotFound, DeliveryNotRetryable, decideRetry } from '../src/webhooks/retry.ts';

const NOW = new Date('2026-11-27T12:00:00Z');
const daysBefore = (days: number) => new Date(NOW.getTime() - days * 86_400_000).toISOString();

const client = (overrides: Partial<ClientOverview> = {}): ClientOverview => ({
  clientId: 'client-1',
  clientName: 'Agent',
  source: 'registration',
  verifiedHost: null,
  status: 'active',
  authMethod: 'none',
  redirectUris: ['http://127.0.0.1:8976/callback'],
  registeredAt: daysBefore(200),
  lastUsedAt: daysBefore(100),
  liveGrants: 0,
  ...overrides,
});

describe('idle client reaping', () => {
  const expire = (idleDays = 90) => ({ type: 'ExpireIdleClient' as const, data: { clientId: 'client-1', now: NOW, idleDays } });

  test('given a client unused for longer than the idle period and no live grant, when reaped, then the registration service is asked to expire it', () => {
    assert.deepEqual(decideExpiry(expire(), { client: client(), liveGrantIds: [] }), { clientId: 'client-1', lastUsedAt: daysBefore(100), idleDays: 90 });
  });

  test('given a client with a live grant, when reaped however long idle, then nothing happens', () => {
    assert.equal(decideExpiry(expire(), { client: client({ lastUsedAt: daysBefore(1000) }), liveGrantIds: ['grant-1'] }), null);
  });

  test('given a client used within the idle period, when reaped, then nothing happens', () => {
    assert.equal(decideExpiry(expire(), { client: client({ lastUsedAt: daysBefore(89) }), liveGrantIds: [] }), null);
  });

  test('given a deleted or unknown client, or reaping turned off, then nothing happens', () => {
    assert.equal(decideExpiry(expire(), { client: client({ status: 'deleted' }), liveGrantIds: [] }), null);
    assert.equal(decideExpiry(expire(), { client: null, liveGrantIds: [] }), null);
    assert.equal(decideExpiry(expire(0), { client: client(), liveGrantIds: [] }), null);
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
