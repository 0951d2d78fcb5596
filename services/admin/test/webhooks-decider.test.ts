import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { Webhook } from 'standardwebhooks';
import { subjectOf, toEnvelope, type DecidedEvent, type DomainEvent, type RecordedEvent } from '@mcp-auth/contracts';
import { deciderSpec } from '@mcp-auth/testing';
import {
  InvalidWebhook,
  RefusedWebhookTarget,
  WebhookIdTaken,
  WebhookNotFound,
  decide,
  webhookDecider,
  type RegisterWebhook,
  type WebhookCommand,
  type WebhookState,
} from '../src/webhooks/decider.ts';
import { retryDelayMs } from '../src/webhooks/delivery.ts';
import { deliveryIdOf } from '../src/webhooks/fan-out.ts';
import { webhookBody } from '../src/webhooks/payload.ts';
import { WebhooksReadModel, webhooksProjection } from '../src/webhooks/projection.ts';
import { decryptSigningSecret, encryptSigningSecret, generateSigningSecret, parseSecretsKey } from '../src/webhooks/secrets.ts';
import { signedHeaders } from '../src/webhooks/sender.ts';

const spec = deciderSpec<WebhookCommand, WebhookState, DecidedEvent>(webhookDecider);
const unregistered: WebhookState = { status: 'unregistered' };
const active: WebhookState = { status: 'active' };
const gone: WebhookState = { status: 'removed' };

const register = (overrides: Partial<RegisterWebhook['data']> = {}): WebhookCommand => ({
  type: 'RegisterWebhook',
  data: {
    webhookId: 'wh_1',
    url: 'https://hooks.example.com/in',
    eventTypes: ['ClientRegistered'],
    description: ' CRM sync ',
    encryptedSecret: 'v1.a.b.c',
    allowPrivateTargets: false,
    ...overrides,
  },
});
const registered: DecidedEvent = {
  type: 'WebhookRegistered',
  data: { webhookId: 'wh_1', url: 'https://hooks.example.com/in', eventTypes: ['ClientRegistered'], description: 'CRM sync', encryptedSecret: 'v1.a.b.c' },
};
const removed: DecidedEvent = { type: 'WebhookRemoved', data: { webhookId: 'wh_1' } };

describe('webhook decider', () => {
  test('an endpoint is registered with its URL normalised and its description trimmed', () => {
    spec.given(unregistered).when(register()).then([registered]);
  });

  test('an endpoint is removed once; removing an unknown or removed one is refused', () => {
    spec.given(active).when({ type: 'RemoveWebhook', data: { webhookId: 'wh_1' } }).then([removed]);
    spec.given(unregistered).when({ type: 'RemoveWebhook', data: { webhookId: 'wh_1' } }).thenThrows(WebhookNotFound);
    spec.given(gone).when({ type: 'RemoveWebhook', data: { webhookId: 'wh_1' } }).thenThrows(WebhookNotFound);
  });

  test('an id is never registered twice', () => {
    spec.given(active).when(register()).thenThrows(WebhookIdTaken);
    spec.given(gone).when(register()).thenThrows(WebhookIdTaken);
  });

  test('event types: known catalogue types or "*", deduplicated; "*" alone stands for all', () => {
    const types = (eventTypes: string[]) => {
      const [event] = decide(register({ eventTypes }), unregistered);
      return event?.type === 'WebhookRegistered' ? event.data.eventTypes : null;
    };
    assert.deepEqual(types(['ClientRegistered', 'GrantRevoked', 'ClientRegistered']), ['ClientRegistered', 'GrantRevoked']);
    assert.deepEqual(types(['GrantRevoked', '*']), ['*']);
    spec.given(unregistered).when(register({ eventTypes: [] })).thenThrows(InvalidWebhook);
    spec.given(unregistered).when(register({ eventTypes: ['NoSuchEvent'] })).thenThrows(/not an event type/);
    spec.given(unregistered).when(register({ eventTypes: ['clientregistered'] })).thenThrows(/not an event type/);
    spec.given(unregistered).when(register({ eventTypes: Array.from({ length: 51 }, () => 'ClientRegistered') })).thenThrows(/at most 50/);
  });

  test('the webhook context’s own events cannot be subscribed to: deliveries of deliveries would loop', () => {
    for (const type of ['WebhookDeliveryAttempted', 'WebhookDeliveryDeadLettered', 'WebhookRegistered', 'WebhookRemoved']) {
      spec.given(unregistered).when(register({ eventTypes: [type] })).thenThrows(/cannot be subscribed/);
    }
  });

  test('URL: absolute https, no credentials, no fragment, bounded length', () => {
    for (const url of ['not a url', '/relative', 'ftp://example.com/x', 'javascript:alert(1)', 'https://user:pw@example.com/', 'https://example.com/#frag', `https://example.com/${'a'.repeat(2000)}`]) {
      spec.given(unregistered).when(register({ url })).thenThrows(InvalidWebhook);
    }
    spec.given(unregistered).when(register({ url: 'http://hooks.example.com/in' })).thenThrows(/https/);
  });

  test('URL: loopback, private, link-local and other non-public literals are invalid_target unless private targets are allowed', () => {
    const refused = [
      'https://127.0.0.1/x',
      'https://127.1/x',
      'https://2130706433/x',
      'https://0x7f000001/x',
      'https://localhost/x',
      'https://api.localhost./x',
      'https://10.1.2.3/x',
      'https://172.16.0.1/x',
      'https://192.168.1.1/x',
      'https://169.254.169.254/latest/meta-data',
      'https://100.64.0.1/x',
      'https://0.0.0.0/x',
      'https://224.0.0.1/x',
      'https://[::1]/x',
      'https://[::]/x',
      'https://[::ffff:127.0.0.1]/x',
      'https://[::ffff:a9fe:a9fe]/x',
      'https://[fd00::1]/x',
      'https://[fe80::1]/x',
      'https://[64:ff9b::a00:1]/x',
      'https://[2002:7f00:1::]/x',
    ];
    for (const url of refused) {
      assert.throws(() => decide(register({ url }), unregistered), RefusedWebhookTarget, url);
      const [event] = decide(register({ url, allowPrivateTargets: true }), unregistered);
      assert.equal(event?.type, 'WebhookRegistered', `${url} is allowed with private targets`);
    }
    assert.equal(decide(register({ url: 'http://127.0.0.1:8080/hook', allowPrivateTargets: true }), unregistered).length, 1, 'http is allowed with private targets');
    for (const url of ['https://8.8.8.8/x', 'https://[2606:4700:4700::1111]/x', 'https://[64:ff9b::808:808]/x', 'https://hooks.example.com:8443/x']) {
      assert.equal(decide(register({ url }), unregistered).length, 1, url);
    }
  });

  test('description: bounded, no control characters', () => {
    spec.given(unregistered).when(register({ description: 'x'.repeat(501) })).thenThrows(/description/);
    spec.given(unregistered).when(register({ description: 'a\u0000b' })).thenThrows(/control/);
  });
});

describe('webhook signing secrets', () => {
  const key = parseSecretsKey(Buffer.alloc(32, 9).toString('base64'));

  test('a generated secret is whsec_ + base64 of 32 random bytes, and the library signs and verifies with it', () => {
    const secret = generateSigningSecret();
    assert.match(secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
    assert.notEqual(generateSigningSecret(), secret);
    const body = '{"type":"ClientRegistered"}';
    const headers = signedHeaders(secret, 'msg_1', body, new Date());
    assert.deepEqual(new Webhook(secret).verify(body, headers), { type: 'ClientRegistered' });
    assert.throws(() => new Webhook(generateSigningSecret()).verify(body, headers), /signature/i);
  });

  test('stored encrypted (AES-256-GCM, random IV, versioned), bound to its endpoint and key', () => {
    const secret = generateSigningSecret();
    const stored = encryptSigningSecret(secret, key, 'wh_1');
    assert.match(stored, /^v1\./);
    assert.ok(!stored.includes(secret.slice(6)), 'the secret is not in the stored form');
    assert.notEqual(encryptSigningSecret(secret, key, 'wh_1'), stored, 'a fresh IV each time');
    assert.equal(decryptSigningSecret(stored, key, 'wh_1'), secret);
    assert.throws(() => decryptSigningSecret(stored, key, 'wh_2'), 'another endpoint cannot use it');
    assert.throws(() => decryptSigningSecret(stored, parseSecretsKey(Buffer.alloc(32, 1).toString('base64')), 'wh_1'), 'another key cannot read it');
    const [v, iv, ciphertext, tag] = stored.split('.');
    assert.throws(() => decryptSigningSecret([v, iv, ciphertext, tag!.slice(0, 8)].join('.'), key, 'wh_1'), 'a truncated tag is refused');
    assert.throws(() => decryptSigningSecret(`v2.${iv}.${ciphertext}.${tag}`, key, 'wh_1'));
  });
});

describe('webhook payloads', () => {
  const recorded = (decided: DecidedEvent, position = 7) =>
    ({ ...toEnvelope(decided, { actor: { kind: 'client', id: 'c1' }, now: new Date('2030-01-01T00:00:00Z') }), position, subject: subjectOf(decided) }) as RecordedEvent<DomainEvent>;

  test('Standard Webhooks body: type, timestamp and data with the event identity; credentials and hashes are left out', () => {
    const event = recorded({
      type: 'ClientRegistered',
      data: {
        clientId: 'c1',
        clientIdIssuedAt: 1,
        metadata: { redirect_uris: ['http://127.0.0.1/cb'], token_endpoint_auth_method: 'client_secret_basic', grant_types: ['authorization_code'], response_types: ['code'], application_type: 'native' },
        clientSecretHash: 'SECRET-HASH',
        registrationTokenHash: 'RAT-HASH',
        fingerprint: null,
      },
    });
    const body = webhookBody(event)!;
    assert.ok(!body.includes('HASH'), body);
    const parsed = JSON.parse(body);
    assert.equal(parsed.type, 'ClientRegistered');
    assert.equal(parsed.timestamp, '2030-01-01T00:00:00.000Z');
    assert.equal(parsed.data.eventId, event.metadata.eventId);
    assert.equal(parsed.data.position, 7);
    assert.deepEqual(parsed.data.actor, { kind: 'client', id: 'c1' });
    assert.equal(parsed.data.event.clientId, 'c1');
  });

  test('hashes, sessions, PKCE challenges and note contents never leave; webhook events are never delivered', () => {
    const cases: DecidedEvent[] = [
      { type: 'UserCreated', data: { userId: 'u', username: 'alice', passwordHash: 'SECRET' } },
      { type: 'UserSignedIn', data: { userId: 'u', sessionHash: 'SECRET', expiresAt: 1 } },
      {
        type: 'AuthorizationCodeIssued',
        data: { codeHash: 'SECRET', clientId: 'c', userId: 'u', redirectUri: 'x', codeChallenge: 'SECRET', codeChallengeMethod: 'S256', resource: 'r', scopes: [], consentId: 'k', expiresAt: 1 },
      },
      { type: 'RefreshTokenReuseDetected', data: { grantId: 'g', clientId: 'c', refreshTokenHash: 'SECRET' } },
      { type: 'NoteCreated', data: { noteId: 'n', userId: 'u', title: 'SECRET', text: 'SECRET' } },
    ];
    for (const decided of cases) assert.ok(!webhookBody(recorded(decided))!.includes('SECRET'), decided.type);
    assert.equal(webhookBody(recorded({ type: 'WebhookRemoved', data: { webhookId: 'wh_1' } })), null);
  });

  test('a delivery id is stable, distinct per endpoint, and a subject token; backoff doubles up to its cap', () => {
    assert.equal(deliveryIdOf('e1', 'wh_1'), deliveryIdOf('e1', 'wh_1'));
    assert.notEqual(deliveryIdOf('e1', 'wh_1'), deliveryIdOf('e1', 'wh_2'));
    assert.match(deliveryIdOf('e1', 'wh_1'), /^msg_[A-Za-z0-9_-]{32}$/);
    assert.deepEqual([1, 2, 3, 4, 5, 40].map((n) => retryDelayMs(n, 50, 300)), [50, 100, 200, 300, 300, 300]);
  });
});

describe('webhooks projection', () => {
  function log() {
    const db = new Database(':memory:');
    db.exec(webhooksProjection.schema);
    let position = 0;
    let minute = 0;
    return {
      model: new WebhooksReadModel(db),
      apply(...events: DecidedEvent[]): number {
        for (const decided of events) {
          const envelope = toEnvelope(decided, { actor: { kind: 'admin', id: 'admin' }, now: new Date(Date.UTC(2030, 0, 1, 0, minute++)) });
          webhooksProjection.apply({ ...envelope, position: ++position, subject: subjectOf(decided) } as RecordedEvent<DomainEvent>, db);
        }
        return position;
      },
      skip(n: number): number {
        position += n;
        return position;
      },
    };
  }
  const endpoint = (webhookId: string, eventTypes: string[]): DecidedEvent => ({
    type: 'WebhookRegistered',
    data: { webhookId, url: `https://example.com/${webhookId}`, eventTypes, description: '', encryptedSecret: `secret-of-${webhookId}` },
  });
  const attempt = (deliveryId: string, n: number, outcome: 'delivered' | 'failed', webhookId = 'wh_a'): DecidedEvent => ({
    type: 'WebhookDeliveryAttempted',
    data: { deliveryId, webhookId, eventId: `e-${deliveryId}`, eventType: 'ClientRegistered', attempt: n, outcome, status: outcome === 'delivered' ? 200 : 500, error: outcome === 'delivered' ? null : 'HTTP 500', durationMs: 3 },
  });

  test('subscribers are read as they stood at a position: registered before it, not removed before it', () => {
    const l = log();
    const before = l.skip(1);
    const a = l.apply(endpoint('wh_a', ['ClientRegistered']));
    l.apply(endpoint('wh_b', ['*']));
    const between = l.skip(1);
    const removal = l.apply({ type: 'WebhookRemoved', data: { webhookId: 'wh_a' } });
    const after = l.skip(1);
    const ids = (type: string, at?: number) => l.model.subscribersOf(type, at).map((s) => s.webhookId);
    assert.deepEqual(ids('ClientRegistered', before), []);
    assert.deepEqual(ids('ClientRegistered', a), [], 'not the event of the registration itself');
    assert.deepEqual(ids('ClientRegistered', between), ['wh_a', 'wh_b']);
    assert.deepEqual(ids('GrantRevoked', between), ['wh_b'], '"*" takes every type');
    assert.deepEqual(ids('ClientRegistered', removal - 0.5), ['wh_a', 'wh_b']);
    assert.deepEqual(ids('ClientRegistered', after), ['wh_b']);
    assert.deepEqual(ids('ClientRegistered'), ['wh_b'], 'now');
    assert.deepEqual(ids('WebhookDeliveryAttempted', between), [], 'never the webhook events');
    assert.equal(l.model.signingSecretOf('wh_a'), null, 'a removed endpoint signs nothing');
    assert.deepEqual(l.model.signingSecretOf('wh_b'), { url: 'https://example.com/wh_b', encryptedSecret: 'secret-of-wh_b' });
    assert.deepEqual(
      l.model.list().map((w) => w.webhookId),
      ['wh_b'],
    );
    assert.deepEqual(
      l.model.list({ includeRemoved: true }).map((w) => [w.webhookId, w.status]),
      [
        ['wh_a', 'removed'],
        ['wh_b', 'active'],
      ],
    );
    assert.ok(!JSON.stringify(l.model.list({ includeRemoved: true })).includes('secret-of'), 'listings never carry the secret');
  });

  test('deliveries: pending while retried, delivered on success, dead-lettered at the end, cancelled with their endpoint', () => {
    const l = log();
    l.apply(endpoint('wh_a', ['*']), endpoint('wh_b', ['*']));
    l.apply(attempt('d1', 1, 'failed'), attempt('d1', 2, 'failed'));
    assert.equal(l.model.delivery('d1')?.state, 'pending');
    assert.equal(l.model.delivery('d1')?.attempts, 2);
    l.apply(attempt('d1', 3, 'delivered'));
    const d1 = l.model.delivery('d1')!;
    assert.deepEqual([d1.state, d1.attempts, d1.lastStatus, d1.lastError], ['delivered', 3, 200, null]);
    assert.ok(d1.deliveredAt);

    l.apply(attempt('d2', 1, 'failed'), {
      type: 'WebhookDeliveryDeadLettered',
      data: { deliveryId: 'd2', webhookId: 'wh_a', eventId: 'e-d2', eventType: 'ClientRegistered', attempts: 1, lastError: 'HTTP 500' },
    });
    assert.equal(l.model.delivery('d2')?.state, 'dead_lettered');
    assert.deepEqual(
      l.model.deliveries({ state: 'dead_lettered' }).map((d) => d.deliveryId),
      ['d2'],
    );

    l.apply(attempt('d3', 1, 'failed', 'wh_b'), { type: 'WebhookRemoved', data: { webhookId: 'wh_b' } });
    assert.equal(l.model.delivery('d3')?.state, 'cancelled');
    l.apply(attempt('d4', 1, 'failed', 'wh_b'));
    assert.equal(l.model.delivery('d4')?.state, 'cancelled', 'a try racing the removal does not leave it pending');

    assert.deepEqual(
      l.model.deliveries().map((d) => d.deliveryId),
      ['d4', 'd3', 'd2', 'd1'],
    );
    assert.deepEqual(
      l.model.deliveries({ webhookId: 'wh_a' }).map((d) => d.deliveryId),
      ['d2', 'd1'],
    );
    const [first] = l.model.deliveries({ limit: 1 });
    assert.deepEqual(
      l.model.deliveries({ limit: 2, before: first!.sequence }).map((d) => d.deliveryId),
      ['d3', 'd2'],
    );
    assert.deepEqual(l.model.find('wh_a')?.deliveries, { pending: 0, delivered: 1, deadLettered: 1, cancelled: 0 });
  });
});
