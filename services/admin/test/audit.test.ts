import assert from 'node:assert/strict';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { eventCatalogue, subjectOf, toEnvelope, type Actor, type DecidedEvent, type DomainEvent, type EventType } from '@mcp-auth/contracts';
import { EventStore } from '@mcp-auth/event-store';
import { rebuildProjections } from '@mcp-auth/event-sourcing';
import {
  BrowserlessUser,
  TEST_ADMIN_TOKEN,
  TestOAuthProvider,
  connectMcpClient,
  http,
  natsAccessOf,
  natsEnvOf,
  registerPublicClient,
  startService,
  startStack,
  type HttpAnswer,
  type Json,
  type ServiceProcess,
  type TestStack,
} from '@mcp-auth/testing';
import { describeEvent } from '../src/audit/describe.ts';
import { auditProjection } from '../src/audit/projection.ts';
import { InvalidAuditQuery, decodeCursor, encodeCursor } from '../src/audit/read-model.ts';

const EVENT_TYPES = Object.keys(eventCatalogue) as EventType[];

type EventData<T extends EventType> = Extract<DecidedEvent, { type: T }>['data'];
/** One event of every type: a type added to the catalogue does not compile until it has one here. */
type OneOfEveryType = { [T in EventType]: EventData<T> };

/** Field names whose values must never reach the trail, in the events' and in the API's spelling. */
const SECRET_FIELDS = [
  'clientSecretHash',
  'registrationTokenHash',
  'passwordHash',
  'sessionHash',
  'codeHash',
  'codeChallenge',
  'refreshTokenHash',
  'spentRefreshTokenHash',
  'encryptedSecret',
  'fingerprint',
  'redirectUrisFingerprint',
  'title',
  'text',
];
const FORBIDDEN_KEYS = new Set([...SECRET_FIELDS, ...SECRET_FIELDS.map((name) => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`))]);

const PUBLIC_JWK = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' }) as Record<string, unknown>;

/**
 * One event of every type about one fixture user, client and grant. Every secret-bearing field (and the
 * user's note) gets a value registered in `mustNotAppear`, which the trail must never show.
 */
function oneOfEveryType(tag: string, mustNotAppear: Set<string>) {
  const hidden = (field: string) => {
    const value = `HIDDEN-${field}-${tag}-${randomUUID()}`;
    mustNotAppear.add(value);
    return value;
  };
  const ids = { userId: `usr_fx_${tag}`, clientId: `fx-client-${tag}`, grantId: `fx-grant-${tag}`, consentId: `fx-consent-${tag}`, webhookId: `fx-webhook-${tag}`, kid: `fx-key-${tag}` };
  const { userId, clientId, grantId, consentId, webhookId, kid } = ids;
  const resource = 'http://127.0.0.1:1/mcp';
  const metadata = {
    redirect_uris: ['http://127.0.0.1:8976/callback'],
    token_endpoint_auth_method: 'client_secret_post' as const,
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    application_type: 'web' as const,
    client_name: `Fixture client ${tag}`,
    contacts: ['ops@example.com'],
  };
  const webhookPathSecret = hidden('webhookUrlPath');
  const data: OneOfEveryType = {
    ClientRegistered: { clientId, clientIdIssuedAt: 1_577_836_800, metadata, clientSecretHash: hidden('clientSecretHash'), registrationTokenHash: hidden('registrationTokenHash'), fingerprint: hidden('fingerprint') },
    ClientReregistered: { clientId, registrationTokenHash: hidden('registrationTokenHash') },
    SharedClientReregistered: { clientId, registrationTokenHash: hidden('registrationTokenHash') },
    ClientUpdated: { clientId, metadata: { ...metadata, client_name: `Fixture client ${tag} (renamed)` }, fingerprint: hidden('fingerprint') },
    ClientDeleted: { clientId },
    ClientExpired: { clientId, lastUsedAt: '2019-10-01T00:00:00.000Z', idleDays: 90 },
    UserCreated: { userId, username: `fixture-${tag}`, passwordHash: hidden('passwordHash') },
    UserPasswordRehashed: { userId, passwordHash: hidden('passwordHash') },
    SignInAttemptAdmitted: { attemptId: `fx-attempt-${tag}`, userId, username: `fixture-${tag}`, clientAddress: '192.0.2.10' },
    UserSignedIn: { userId, sessionHash: hidden('sessionHash'), expiresAt: 1_577_840_400, attemptId: `fx-attempt-${tag}` },
    UserSignInFailed: { username: `fixture-${tag}`, userId, userExists: true, clientAddress: '192.0.2.10', reason: 'bad_credentials' },
    UserSignedOut: { userId, sessionHash: hidden('sessionHash') },
    ConsentGranted: { consentId, userId, clientId, resource, scopes: ['profile', 'notes:read'], redirectUrisFingerprint: hidden('redirectUrisFingerprint') },
    ConsentRevoked: { consentId, userId, clientId },
    AuthorizationCodeIssued: {
      codeHash: hidden('codeHash'),
      clientId,
      userId,
      redirectUri: metadata.redirect_uris[0]!,
      codeChallenge: hidden('codeChallenge'),
      codeChallengeMethod: 'S256',
      resource,
      scopes: ['profile'],
      consentId,
      expiresAt: 1_577_836_860,
    },
    AuthorizationDenied: { denialId: `fx-denial-${tag}`, clientId, userId, resource, scopes: ['notes:write'] },
    ClientMetadataDocumentFetched: {
      clientId: `https://fixture-${tag}.example/client.json`,
      clientKey: `fx-clientdoc-${tag}`,
      documentHash: `fx-doc-${tag}`,
      metadata: { ...metadata, client_id: `https://fixture-${tag}.example/client.json`, token_endpoint_auth_method: 'none' },
      verifiedHost: `fixture-${tag}.example`,
      localhostOnly: true,
      fetchedAt: 1_577_836_800,
      freshUntil: 1_577_837_100,
      previousDocumentHash: null,
      changed: [],
    },
    ClientMetadataDocumentRefreshed: { clientId: `https://fixture-${tag}.example/client.json`, clientKey: `fx-clientdoc-${tag}`, documentHash: `fx-doc-${tag}`, fetchedAt: 1_577_837_100, freshUntil: 1_577_837_400 },
    ClientMetadataDocumentRefused: { clientId: `https://fixture-${tag}.example/other.json`, clientKey: `fx-clientdoc-2-${tag}`, reason: 'redirect', description: 'HTTP 302: redirects are not followed' },
    AuthorizationCodeRedeemed: {
      codeHash: hidden('codeHash'),
      grantId,
      clientId,
      userId,
      resource,
      scopes: ['profile'],
      consentId,
      refreshTokenHash: hidden('refreshTokenHash'),
      accessTokenJti: `fx-jti-1-${tag}`,
      accessTokenExpiresAt: 1_577_837_700,
      grantExpiresAt: 1_580_428_800,
    },
    RefreshTokenRotated: {
      grantId,
      clientId,
      spentRefreshTokenHash: hidden('spentRefreshTokenHash'),
      refreshTokenHash: hidden('refreshTokenHash'),
      scopes: ['profile'],
      accessTokenJti: `fx-jti-2-${tag}`,
      accessTokenExpiresAt: 1_577_838_600,
      graceRetry: false,
    },
    RefreshTokenReuseDetected: { grantId, clientId, refreshTokenHash: hidden('refreshTokenHash') },
    GrantRevoked: { grantId, reason: 'refresh_token_reuse' },
    TokenRevoked: { grantId, jti: `fx-jti-2-${tag}`, expiresAt: 1_577_838_600 },
    SigningKeyPublished: { kid, alg: 'ES256', publicJwk: { ...PUBLIC_JWK, kid }, signsUntil: 1_577_840_400, retireAfter: 1_577_844_000 },
    SigningKeyRetired: { kid },
    ClientAssertionUsed: { replayKey: `fx-assertion-${tag}`, clientId, expiresAt: '2020-01-01T00:05:00.000Z' },
    ToolInvoked: { invocationId: `fx-call-1-${tag}`, tool: 'echo', userId, clientId, grantId, outcome: 'error', durationMs: 1.5 },
    ToolDenied: { invocationId: `fx-call-2-${tag}`, tool: 'notes_create', userId, clientId, grantId, reason: 'insufficient_scope', requiredScopes: ['notes:write'] },
    NoteCreated: { noteId: `fx-note-${tag}`, userId, title: hidden('title'), text: hidden('text') },
    NoteDeleted: { noteId: `fx-note-${tag}`, userId },
    WebhookRegistered: {
      webhookId,
      url: `https://hooks.example.com/services/${webhookPathSecret}?token=${hidden('webhookUrlQuery')}`,
      // A type nothing emits while the fixture's webhook exists, in case a webhook worker picks it up.
      eventTypes: ['ClientExpired'],
      description: 'fixture endpoint',
      encryptedSecret: hidden('encryptedSecret'),
    },
    WebhookRemoved: { webhookId },
    WebhookDeliveryAttempted: {
      deliveryId: `fx-delivery-${tag}`,
      webhookId,
      eventId: randomUUID(),
      eventType: 'ClientExpired',
      attempt: 1,
      outcome: 'failed',
      status: 502,
      error: `POST https://hooks.example.com/services/${webhookPathSecret} answered 502`,
      durationMs: 12,
    },
    WebhookDeliveryDeadLettered: {
      deliveryId: `fx-delivery-${tag}`,
      webhookId,
      eventId: randomUUID(),
      eventType: 'ClientExpired',
      attempts: 8,
      lastError: `connect ECONNREFUSED (https://hooks.example.com/services/${webhookPathSecret})`,
      eventPosition: 7,
    },
    WebhookDeliveryRetried: { deliveryId: `fx-delivery-${tag}`, webhookId, eventId: randomUUID(), eventType: 'ClientExpired', eventPosition: 7 },
    AdminSessionEnded: { sessionHash: hidden('sessionHash'), expiresAt: 1_577_840_400 },
  };
  // In catalogue order, so the grant is redeemed before the events that name only the grant.
  const events = EVENT_TYPES.map((type) => ({ type, data: data[type] }) as DecidedEvent);
  return { ids, events };
}

const EXPECTED_OUTCOME: Partial<Record<EventType, string>> = {
  UserSignInFailed: 'failure',
  RefreshTokenReuseDetected: 'failure',
  AuthorizationDenied: 'denied',
  ToolDenied: 'denied',
  ToolInvoked: 'failure',
  WebhookDeliveryAttempted: 'failure',
  WebhookDeliveryDeadLettered: 'failure',
  ClientMetadataDocumentRefused: 'failure',
};

const ACTOR_KINDS: Actor['kind'][] = ['user', 'client', 'admin', 'system', 'service'];
const FIXTURE_ADDRESS = '198.51.100.23';

function assertNoForbiddenKeys(value: unknown, where: string): void {
  if (Array.isArray(value)) return value.forEach((item) => assertNoForbiddenKeys(item, where));
  if (typeof value !== 'object' || value === null) return;
  for (const [key, inner] of Object.entries(value)) {
    assert.ok(!FORBIDDEN_KEYS.has(key), `${where} shows ${key}`);
    assertNoForbiddenKeys(inner, where);
  }
}

function assertShowsNone(text: string, values: Iterable<string>, where: string): void {
  for (const value of values) assert.ok(!text.includes(value), `${where} shows ${value.slice(0, 40)}`);
}

describe('audit descriptions', () => {
  test('every event type is described by the allow-list, and no secret, hash or note content gets through', () => {
    const hidden = new Set<string>();
    const { events } = oneOfEveryType('unit', hidden);
    assert.equal(events.length, EVENT_TYPES.length);
    for (const event of events) {
      const description = describeEvent(event);
      assertNoForbiddenKeys(description.details, event.type);
      assertShowsNone(JSON.stringify(description), hidden, event.type);
      assert.equal(description.outcome, EXPECTED_OUTCOME[event.type] ?? 'success', `${event.type} outcome`);
    }
  });

  test('outcomes follow the event, and webhook URLs are cut down to their origin', () => {
    const invoked = { invocationId: 'i', tool: 't', userId: 'u', clientId: 'c', grantId: 'g', durationMs: 1 };
    assert.equal(describeEvent({ type: 'ToolInvoked', data: { ...invoked, outcome: 'success' } }).outcome, 'success');
    assert.equal(describeEvent({ type: 'ToolInvoked', data: { ...invoked, outcome: 'error' } }).outcome, 'failure');
    const attempt = { deliveryId: 'd', webhookId: 'w', eventId: 'e', eventType: 'ClientDeleted', attempt: 1, status: 200, error: null, durationMs: 1 };
    assert.equal(describeEvent({ type: 'WebhookDeliveryAttempted', data: { ...attempt, outcome: 'delivered' } }).outcome, 'success');
    assert.equal(describeEvent({ type: 'WebhookDeliveryAttempted', data: { ...attempt, outcome: 'failed' } }).outcome, 'failure');
    const registered = describeEvent({
      type: 'WebhookRegistered',
      data: { webhookId: 'w', url: 'https://user:pw@hooks.example.com/T0/B0/XYZ?k=1', eventTypes: ['*'], description: '', encryptedSecret: 'x' },
    });
    assert.equal(registered.details.target, 'https://hooks.example.com');
    const redeemed = describeEvent(oneOfEveryType('unit', new Set()).events.find((e) => e.type === 'AuthorizationCodeRedeemed')!);
    assert.deepEqual([redeemed.userId, redeemed.clientId, redeemed.grantId], ['usr_fx_unit', 'fx-client-unit', 'fx-grant-unit']);
  });

  test('cursors are opaque, and anything but a cursor handed out is refused', () => {
    assert.equal(decodeCursor(encodeCursor(42)), 42);
    for (const bad of ['', 'x', '42', 'YXVkaXQtYmVmb3JlOjA', encodeCursor(42) + '=', Buffer.from('audit-before:-1').toString('base64url'), Buffer.from('audit-before:1e3').toString('base64url'), 'a'.repeat(200)]) {
      assert.throws(() => decodeCursor(bad), InvalidAuditQuery, JSON.stringify(bad));
    }
  });
});

type Appended = { event: DecidedEvent; envelope: DomainEvent; position: number };

describe('audit trail of a running deployment', () => {
  let stack: TestStack;
  let store: EventStore;
  /** Where the API is asked: the stack's admin service, or the replica the restart test starts and kills. */
  let adminUrl = '';
  let restartedAdmin: ServiceProcess | null = null;
  const hidden = new Set<string>();
  let fixture: ReturnType<typeof oneOfEveryType>;
  let appended: Appended[] = [];
  let agent: { clientId: string; secrets: string[] };

  const api = (path: string, headers: Record<string, string> = { Authorization: `Bearer ${TEST_ADMIN_TOKEN}` }): Promise<HttpAnswer> =>
    http(`${adminUrl}/admin/api${path}`, { headers });

  async function page(query: string): Promise<{ events: Json[]; next_cursor: string | null }> {
    const res = await api(`/audit?${query}`);
    assert.equal(res.status, 200, res.text);
    return res.json as { events: Json[]; next_cursor: string | null };
  }

  /** Every entry matching `query`, walking next_cursor from the newest; also the raw text of every page. */
  async function walk(query: string, limit: number): Promise<{ entries: Json[]; text: string }> {
    const entries: Json[] = [];
    let text = '';
    let cursor: string | null = null;
    for (let pages = 0; pages < 10_000; pages++) {
      const res = await api(`/audit?${query}&limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`);
      assert.equal(res.status, 200, res.text);
      text += res.text;
      entries.push(...(res.json!.events as Json[]));
      cursor = res.json!.next_cursor as string | null;
      if (!cursor) return { entries, text };
      assert.equal((res.json!.events as Json[]).length, limit, 'only the last page is short');
    }
    throw new Error('pagination does not end');
  }

  async function exportText(query = ''): Promise<{ res: HttpAnswer; lines: Json[] }> {
    const res = await api(`/audit/export${query ? `?${query}` : ''}`);
    assert.equal(res.status, 200, res.text);
    assert.ok(res.text === '' || res.text.endsWith('\n'), 'every line ends with a newline');
    const lines = res.text.split('\n').filter((line) => line !== '').map((line) => JSON.parse(line) as Json);
    return { res, lines };
  }

  async function eventually<T>(what: string, check: () => Promise<T | undefined | null | false>, timeoutMs = 10_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const result = await check();
      if (result) return result;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Waits until the admin service's trail holds every event the stream has. */
  async function trailCaughtUp(): Promise<number> {
    const { lastSequence } = await store.streamState();
    await eventually(`the trail to reach ${lastSequence}`, async () => {
      const res = await api('/audit?limit=1');
      return res.status === 200 && (res.json!.events as Json[])[0]?.position >= lastSequence;
    });
    return lastSequence;
  }

  async function appendAll(events: DecidedEvent[], startAt: Date): Promise<Appended[]> {
    const result: Appended[] = [];
    for (const [i, event] of events.entries()) {
      const envelope = toEnvelope(event, {
        actor: { kind: ACTOR_KINDS[i % ACTOR_KINDS.length]!, id: `fx-actor-${i}` },
        requestId: `fx-request-${i}`,
        sourceAddress: FIXTURE_ADDRESS,
        now: new Date(startAt.getTime() + i * 1_000),
      });
      const { position } = await store.append(subjectOf(event), envelope);
      result.push({ event, envelope, position });
    }
    return result;
  }

  before(async () => {
    stack = await startStack({ admin: true });
    adminUrl = stack.urls.admin;
    // The test writes events of every context, as only the operator may.
    store = await EventStore.connect({ servers: stack.nats.url, connectionName: 'audit-test', ...natsAccessOf(stack.nats, 'operator') });

    // A real agent: registration, sign-in, consent, code, token and a tool call, each from 127.0.0.1.
    const provider = new TestOAuthProvider(new BrowserlessUser(stack.urls.issuer, 'alice', 'password123'), { clientName: 'Audited agent' });
    const { client } = await connectMcpClient(stack.urls.mcp, provider);
    await client.callTool({ name: 'whoami', arguments: {} });
    await client.close();
    // The SDK keeps no registration access token: one more registration gives one to look out for.
    const registration = await registerPublicClient(stack.urls);
    agent = {
      clientId: provider.clientInfo!.client_id,
      secrets: [provider.savedTokens!.access_token, provider.savedTokens!.refresh_token ?? '', registration.registration_access_token as string],
    };
    assert.ok(agent.secrets.every((secret) => secret.length >= 16), 'an access token, a refresh token and a registration token to look out for');

    fixture = oneOfEveryType('live', hidden);
    appended = await appendAll(fixture.events, new Date('2020-01-01T00:00:00.000Z'));
    // The MCP service publishes tool calls after answering them.
    await eventually('the tool call in the trail', async () => (await page(`client=${agent.clientId}&type=ToolInvoked`)).events.length > 0);
    await trailCaughtUp();
  });

  after(async () => {
    await restartedAdmin?.stop();
    await store?.close();
    await stack?.stop();
  });

  test('the real OAuth flow and tool call are in the trail with who, from where and how it ended', async () => {
    const { entries } = await walk(`client=${agent.clientId}`, 100);
    const byType = new Map<string, Json[]>();
    for (const entry of entries) byType.set(entry.type as string, [...(byType.get(entry.type as string) ?? []), entry]);
    for (const type of ['ClientRegistered', 'ConsentGranted', 'AuthorizationCodeIssued', 'AuthorizationCodeRedeemed', 'ToolInvoked']) {
      assert.ok(byType.has(type), `${type} is in the client's trail`);
    }
    assert.ok(entries.every((e) => e.client_id === agent.clientId));

    const registered = byType.get('ClientRegistered')![0]!;
    assert.deepEqual(registered.actor, { kind: 'client', id: agent.clientId });
    assert.equal(registered.source_address, '127.0.0.1');
    assert.ok(registered.request_id, 'the request id is recorded');
    assert.equal(registered.details.client_name, 'Audited agent');

    const consent = byType.get('ConsentGranted')![0]!;
    const aliceId = consent.user_id as string;
    assert.match(aliceId, /./);
    assert.deepEqual(consent.actor, { kind: 'user', id: aliceId });
    assert.equal(consent.source_address, '127.0.0.1');

    const redeemed = byType.get('AuthorizationCodeRedeemed')![0]!;
    assert.deepEqual(redeemed.actor, { kind: 'client', id: agent.clientId });
    assert.equal(redeemed.source_address, '127.0.0.1');
    assert.equal(redeemed.user_id, aliceId);
    assert.ok(redeemed.grant_id);

    const tool = byType.get('ToolInvoked')![0]!;
    assert.equal(tool.details.tool, 'whoami');
    assert.equal(tool.outcome, 'success');
    assert.equal(tool.user_id, aliceId);
    assert.equal(tool.grant_id, redeemed.grant_id);
    assert.equal(tool.source_address, '127.0.0.1', 'a tool call records where it came from');
    assert.ok(tool.request_id, 'and its request id');

    const signIns = await page(`user=${aliceId}&type=UserSignedIn`);
    assert.ok(signIns.events.length >= 1);
    assert.deepEqual(signIns.events[0]!.actor, { kind: 'user', id: aliceId });
    assert.equal(signIns.events[0]!.source_address, '127.0.0.1');
    for (const entry of entries) assert.ok(Date.parse(entry.occurred_at as string) > Date.now() - 120_000);
  });

  test('every event type of the catalogue is in the trail with its actor, time, address and outcome', async () => {
    for (const { event, envelope, position } of appended) {
      const { events } = await page(`type=${event.type}&since=2020-01-01T00:00:00Z&until=2020-01-02T00:00:00Z`);
      const entry = events.find((e) => e.event_id === envelope.metadata.eventId);
      assert.ok(entry, `${event.type} is in the trail`);
      assert.equal(entry.position, position);
      assert.equal(entry.type, event.type);
      assert.deepEqual(entry.actor, envelope.metadata.actor);
      assert.equal(entry.occurred_at, envelope.metadata.occurredAt);
      assert.equal(entry.source_address, FIXTURE_ADDRESS);
      assert.equal(entry.request_id, envelope.metadata.requestId);
      assert.equal(entry.outcome, EXPECTED_OUTCOME[event.type] ?? 'success', `${event.type} outcome`);
      assert.equal(typeof entry.details, 'object');
    }
    const seen = new Set((await walk('since=2020-01-01T00:00:00Z&until=2020-01-02T00:00:00Z', 500)).entries.map((e) => e.type));
    assert.deepEqual([...seen].sort(), [...EVENT_TYPES].sort());

    // Events that name only the grant are found under its user and client.
    const { userId, clientId } = fixture.ids;
    for (const type of ['GrantRevoked', 'TokenRevoked', 'RefreshTokenReuseDetected', 'RefreshTokenRotated']) {
      const [entry] = (await page(`type=${type}&grant=${fixture.ids.grantId}`)).events;
      assert.equal(entry?.user_id, userId, type);
      assert.equal(entry?.client_id, clientId, type);
    }
  });

  test('filters: user, client, type (listed or repeated), actor, outcome and time range', async () => {
    const { userId, clientId, grantId } = fixture.ids;
    const positions = (entries: Json[]) => entries.map((e) => e.position as number).sort((a, b) => a - b);
    const expected = (keep: (data: Json) => boolean) => appended.filter((a) => keep(a.event.data as Json)).map((a) => a.position);

    assert.deepEqual(positions((await walk(`user=${userId}`, 500)).entries), expected((d) => d.userId === userId || d.grantId === grantId));
    assert.deepEqual(positions((await walk(`client=${clientId}`, 500)).entries), expected((d) => d.clientId === clientId || d.grantId === grantId));

    const listed = await walk('type=ToolDenied,AuthorizationDenied&since=2020-01-01T00:00:00Z', 500);
    const repeated = await walk('type=ToolDenied&type=AuthorizationDenied&since=2020-01-01T00:00:00Z', 500);
    assert.deepEqual(listed.entries, repeated.entries);
    assert.deepEqual(listed.entries.map((e) => e.type).sort(), ['AuthorizationDenied', 'ToolDenied']);
    assert.ok((await walk('type=ToolInvoked', 500)).entries.every((e) => e.type === 'ToolInvoked'));

    const admins = (await walk('actor=admin', 500)).entries;
    assert.ok(admins.length > 0);
    assert.ok(admins.every((e) => (e.actor as Json).kind === 'admin'));
    const denied = (await walk('outcome=denied&until=2020-01-02T00:00:00Z', 500)).entries;
    assert.deepEqual(denied.map((e) => e.type).sort(), ['AuthorizationDenied', 'ToolDenied']);

    // The fixture's events are one second apart from 2020-01-01T00:00:00Z; since is inclusive, until exclusive.
    const range = await walk('since=2020-01-01T00:00:05Z&until=2020-01-01T01:00:10%2B01:00', 500);
    assert.deepEqual(positions(range.entries), appended.slice(5, 10).map((a) => a.position));
    const combined = await walk(`client=${clientId}&type=ClientRegistered,ClientDeleted,ToolDenied&until=2020-01-01T00:00:05Z`, 500);
    assert.deepEqual(combined.entries.map((e) => e.type), ['ClientDeleted', 'ClientRegistered']);
  });

  test('cursor pagination walks the whole trail newest first, with no duplicates and no gaps', async () => {
    const { entries } = await walk('', 7);
    const positions = entries.map((e) => e.position as number);
    const newest = positions[0]!;
    assert.deepEqual(positions, Array.from({ length: newest }, (_, i) => newest - i), 'every position of the stream, once, newest first');

    const { userId } = fixture.ids;
    const small = await walk(`user=${userId}`, 3);
    const whole = await page(`user=${userId}&limit=500`);
    assert.deepEqual(small.entries, whole.events);
    assert.equal(whole.next_cursor, null);
  });

  test('the JSON Lines export streams the same entries, oldest first, with the same filters', async () => {
    const { res, lines } = await exportText();
    assert.equal(res.headers.get('content-type'), 'application/jsonl; charset=utf-8');
    assert.equal(res.headers.get('content-disposition'), 'attachment; filename="audit.jsonl"');
    assert.equal(res.headers.get('cache-control'), 'no-store');
    const positions = lines.map((l) => l.position as number);
    assert.deepEqual(positions, Array.from({ length: positions.length }, (_, i) => i + 1), 'every position, oldest first');
    const newestPage = await page('limit=500');
    const byPosition = new Map(lines.map((l) => [l.position, l]));
    for (const entry of newestPage.events) {
      if (byPosition.has(entry.position)) assert.deepEqual(byPosition.get(entry.position), entry, 'an exported line is the API entry');
    }

    const { clientId } = fixture.ids;
    const filtered = await exportText(`client=${clientId}&type=ClientRegistered,ClientUpdated,GrantRevoked`);
    assert.deepEqual(filtered.lines.map((l) => l.type), ['ClientRegistered', 'ClientUpdated', 'GrantRevoked']);
    const empty = await exportText('type=NoteDeleted&until=1999-01-01T00:00:00Z');
    assert.equal(empty.res.text, '');
  });

  test('neither the API nor the export ever shows a secret, a hash, a token or a note', async () => {
    const pages = await walk('', 50);
    const { res } = await exportText();
    for (const [where, text] of [['the API', pages.text], ['the export', res.text]] as const) {
      assertShowsNone(text, hidden, where);
      assertShowsNone(text, agent.secrets, where);
    }
    for (const entry of pages.entries) assertNoForbiddenKeys(entry, `${entry.type as string} in the API`);
    const registered = pages.entries.find((e) => e.type === 'WebhookRegistered' && e.details.webhook_id === fixture.ids.webhookId)!;
    assert.equal(registered.details.target, 'https://hooks.example.com');
  });

  test('without the admin credential: 401; with bad filters: 400 invalid_request, never a 500', async () => {
    for (const path of ['/audit', '/audit/export']) {
      const anonymous = await api(path, {});
      assert.equal(anonymous.status, 401, path);
      assert.match(anonymous.headers.get('www-authenticate') ?? '', /^Bearer /);
      assert.equal((await api(path, { Authorization: 'Bearer not-the-admin-token-0123456789abcdef' })).status, 401, path);
    }
    const bad = [
      'limit=0',
      'limit=501',
      'limit=ten',
      'limit=1.5',
      'limit=1&limit=2',
      'user=a&user=b',
      'user=',
      'user=has%20space',
      `client=${'x'.repeat(3000)}`,
      'type=NoSuchEvent',
      'type=',
      'type=,,',
      'actor=robot',
      'outcome=maybe',
      'since=yesterday',
      'since=2020-01-01',
      'until=2020-13-01T00:00:00Z',
      'since=2020-01-02T00:00:00Z&until=2020-01-01T00:00:00Z',
      'cursor=garbage',
      `cursor=${Buffer.from('audit-before:5 ').toString('base64url')}`,
      `cursor=${encodeCursor(5)}=`,
      'cursor=',
      'userid=x',
      'user[]=x',
    ];
    for (const query of bad) {
      const res = await api(`/audit?${query}`);
      assert.equal(res.status, 400, `${query.slice(0, 60)}: ${res.text.slice(0, 200)}`);
      assert.equal(res.json?.error, 'invalid_request', query.slice(0, 60));
      assert.equal(typeof res.json?.error_description, 'string');
    }
    for (const query of ['type=Nope', 'since=nope', 'limit=5', 'cursor=abc', 'since=2020-01-02T00:00:00Z&until=2020-01-01T00:00:00Z']) {
      const res = await api(`/audit/export?${query}`);
      assert.equal(res.status, 400, `export ${query}`);
      assert.equal(res.json?.error, 'invalid_request');
    }
  });

  test('a rebuild from sequence 1 into a fresh file reproduces the live trail exactly', async () => {
    const last = await trailCaughtUp();
    const dir = mkdtempSync(join(tmpdir(), 'audit-rebuild-'));
    const file = join(dir, 'rebuilt.sqlite');
    const rebuilt = await rebuildProjections({ store, file, projections: [auditProjection] });
    assert.ok(rebuilt.position >= last);
    const live = new Database(join(stack.admin!.dataDir, 'admin.sqlite'), { readonly: true, fileMustExist: true });
    const fresh = new Database(file, { readonly: true, fileMustExist: true });
    try {
      // The service commits what it applied within moments (group commit); another connection reads the file.
      await eventually('the live file to be committed', async () => Number((live.prepare("SELECT value FROM projector_meta WHERE key = 'position'").get() as { value: string }).value) >= last);
      for (const table of ['audit_events', 'audit_grants']) {
        const order = table === 'audit_events' ? 'position' : 'grant_id';
        const where = table === 'audit_events' ? `WHERE position <= ${last}` : '';
        const liveRows = live.prepare(`SELECT * FROM ${table} ${where} ORDER BY ${order}`).all();
        const freshRows = fresh.prepare(`SELECT * FROM ${table} ${where} ORDER BY ${order}`).all();
        assert.ok(liveRows.length > 0, table);
        assert.deepEqual(freshRows, liveRows, `${table} rebuilt equals live`);
      }
    } finally {
      live.close();
      fresh.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('an admin process killed mid-stream loses nothing: a new process on its data resumes and shows what happened meanwhile', async () => {
    // A replica of its own, because a ServiceProcess that died of a signal cannot be stopped again (see the report).
    const replica = await startService('admin', { env: { ...stack.env, ...natsEnvOf(stack.nats, 'admin') } });
    try {
      adminUrl = replica.url;
      await trailCaughtUp();
      const before = (await walk('', 500)).entries.length;
      await replica.stop('SIGKILL');
      const whileDown = await appendAll(oneOfEveryType('restart', hidden).events, new Date('2021-06-01T00:00:00.000Z'));
      restartedAdmin = await startService('admin', { env: { ...stack.env, ...natsEnvOf(stack.nats, 'admin') }, dataDir: replica.dataDir, port: replica.port });
      const last = await trailCaughtUp();
      for (const { envelope, position } of whileDown) {
        const [entry] = (await page(`type=${envelope.type}&since=2021-06-01T00:00:00Z`)).events;
        assert.equal(entry?.event_id, envelope.metadata.eventId, `${envelope.type} appended while the admin service was down`);
        assert.equal(entry?.position, position);
      }
      const positions = (await walk('', 500)).entries.map((e) => e.position as number);
      assert.ok(positions.length >= before + whileDown.length);
      assert.deepEqual(positions.slice(positions.indexOf(last)), Array.from({ length: last }, (_, i) => last - i), 'every position, once');
      assert.doesNotMatch(restartedAdmin.output(), /rebuilding from sequence 1/, 'resumed from its checkpoint');
    } finally {
      adminUrl = stack.urls.admin;
    }
  });
});
