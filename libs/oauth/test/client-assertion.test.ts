import assert from 'node:assert/strict';
import { createHmac, randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { SignJWT, exportJWK, exportSPKI, generateKeyPair, type CryptoKey, type JWK, type JWTPayload } from 'jose';
import { ConcurrencyConflict, EventStore } from '@mcp-auth/event-store';
import { deciderSpec, startNats, type NatsHandle } from '@mcp-auth/testing';
import {
  AssertionReplayed,
  assertionClientId,
  assertionReplayKey,
  assertionUse,
  verifyClientAssertion,
  type AssertionExpectations,
  type AssertionUse,
} from '../src/index.ts';

const CLIENT = 'https://chatgpt.example/oauth/client.json';
const ISSUER = 'https://auth.example.com';
const TOKEN_ENDPOINT = 'https://auth.example.com/token';
const now = new Date('2030-01-01T12:00:00Z');
const seconds = Math.floor(now.getTime() / 1000);

type Key = { privateKey: CryptoKey; jwk: JWK };

async function key(alg: 'ES256' | 'EdDSA' | 'RS256', kid?: string): Promise<Key> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), alg, use: 'sig', ...(kid ? { kid } : {}) };
  return { privateKey, jwk };
}

/** An assertion as a well-behaved client makes one, with any claim or header overridden. */
async function assertion(signer: Key, claims: JWTPayload = {}, header: Record<string, unknown> = {}): Promise<string> {
  const alg = String(signer.jwk.alg);
  const payload = { iss: CLIENT, sub: CLIENT, aud: TOKEN_ENDPOINT, exp: seconds + 60, iat: seconds, jti: randomUUID(), ...claims };
  for (const [name, value] of Object.entries(payload)) if (value === undefined) delete (payload as Record<string, unknown>)[name];
  return new SignJWT(payload).setProtectedHeader({ alg, ...(signer.jwk.kid ? { kid: signer.jwk.kid } : {}), ...header }).sign(signer.privateKey);
}

const base64url = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

describe('verifyClientAssertion (RFC 7523 §3)', () => {
  let es256: Key;
  let eddsa: Key;
  let rs256: Key;
  let impostor: Key;
  let expect: AssertionExpectations;

  before(async () => {
    es256 = await key('ES256', 'k1');
    eddsa = await key('EdDSA');
    rs256 = await key('RS256', 'r1');
    impostor = await key('ES256', 'k1');
    expect = { clientId: CLIENT, jwks: { keys: [es256.jwk, eddsa.jwk, rs256.jwk] }, audiences: [ISSUER, TOKEN_ENDPOINT], now };
  });

  const rejected = async (token: string, reason: string, overrides: Partial<AssertionExpectations> = {}) => {
    const verdict = await verifyClientAssertion(token, { ...expect, ...overrides });
    assert.equal(verdict.ok, false, `accepted: ${JSON.stringify(verdict)}`);
    assert.equal(!verdict.ok && verdict.reason, reason, JSON.stringify(verdict));
  };

  test('given the client\'s key set, when it presents an assertion signed with one of its keys, then it is accepted with its jti and expiry', async () => {
    for (const signer of [es256, eddsa, rs256]) {
      const jti = randomUUID();
      const verdict = await verifyClientAssertion(await assertion(signer, { jti }), expect);
      assert.ok(verdict.ok, `${signer.jwk.alg}: ${JSON.stringify(verdict)}`);
      assert.equal(verdict.jti, jti);
      assert.deepEqual(verdict.expiresAt, new Date((seconds + 60) * 1000));
      assert.equal(verdict.replayKey, assertionReplayKey(CLIENT, jti));
    }
  });

  test('aud may be the token endpoint or the issuer, alone or in an array; typ may be absent, JWT or client-authentication+jwt', async () => {
    for (const aud of [TOKEN_ENDPOINT, ISSUER, [ISSUER], ['https://other.example', TOKEN_ENDPOINT]]) {
      assert.ok((await verifyClientAssertion(await assertion(es256, { aud }), expect)).ok, JSON.stringify(aud));
    }
    for (const typ of ['JWT', 'client-authentication+jwt', 'application/client-authentication+jwt']) {
      assert.ok((await verifyClientAssertion(await assertion(es256, {}, { typ }), expect)).ok, typ);
    }
  });

  test('when aud names another server, then it is refused', async () => {
    await rejected(await assertion(es256, { aud: 'https://attacker.example/token' }), 'wrong_audience');
    await rejected(await assertion(es256, { aud: `${TOKEN_ENDPOINT}/` }), 'wrong_audience');
    await rejected(await assertion(es256, { aud: undefined }), 'wrong_audience');
  });

  test('when iss or sub is not the client_id, then it is refused', async () => {
    await rejected(await assertion(es256, { iss: 'https://other.example/client.json' }), 'wrong_issuer');
    await rejected(await assertion(es256, { sub: 'alice' }), 'wrong_subject');
    await rejected(await assertion(es256, { iss: undefined }), 'wrong_issuer');
  });

  test('when it has expired, has no exp, lives too long, or starts in the future, then it is refused', async () => {
    await rejected(await assertion(es256, { exp: seconds - 120 }), 'expired');
    await rejected(await assertion(es256, { exp: undefined }), 'malformed');
    await rejected(await assertion(es256, { exp: seconds + 3_600 }), 'too_long_lived');
    await rejected(await assertion(es256, { nbf: seconds + 600 }), 'not_yet_valid');
    await rejected(await assertion(es256, { iat: seconds + 600 }), 'not_yet_valid');
    assert.ok((await verifyClientAssertion(await assertion(es256, { exp: seconds - 10 }), expect)).ok, 'within the clock tolerance');
  });

  test('when it has no jti, then it is refused (its single use could not be recorded)', async () => {
    await rejected(await assertion(es256, { jti: undefined }), 'missing_jti');
    await rejected(await assertion(es256, { jti: 'x'.repeat(201) }), 'missing_jti');
  });

  test('when it is unsigned (alg none), then it is refused', async () => {
    const unsigned = `${base64url({ alg: 'none' })}.${base64url({ iss: CLIENT, sub: CLIENT, aud: TOKEN_ENDPOINT, exp: seconds + 60, jti: 'j' })}.`;
    await rejected(unsigned, 'unsupported_alg');
  });

  test('when it is an HMAC keyed with the client\'s public key (HS256), then it is refused', async () => {
    const publicPem = await exportSPKI((await generateKeyPair('RS256', { extractable: true })).publicKey);
    for (const secret of [publicPem, JSON.stringify(es256.jwk), String(es256.jwk.x)]) {
      const signingInput = `${base64url({ alg: 'HS256', kid: 'k1' })}.${base64url({ iss: CLIENT, sub: CLIENT, aud: TOKEN_ENDPOINT, exp: seconds + 60, jti: 'j' })}`;
      const forged = `${signingInput}.${createHmac('sha256', secret).update(signingInput).digest('base64url')}`;
      await rejected(forged, 'unsupported_alg');
    }
  });

  test('when it is signed by a key the client does not have, then it is refused', async () => {
    await rejected(await assertion(impostor), 'bad_signature');
    const stranger = await key('ES256', 'unknown-kid');
    await rejected(await assertion(stranger), 'unknown_key');
    await rejected(await assertion(es256), 'unknown_key', { jwks: { keys: [rs256.jwk] } });
  });

  test('when it is another kind of JWT (an access token, a DPoP proof), then it is refused', async () => {
    await rejected(await assertion(es256, {}, { typ: 'at+jwt' }), 'wrong_type');
    await rejected(await assertion(es256, {}, { typ: 'dpop+jwt' }), 'wrong_type');
  });

  test('garbage is malformed, never an exception', async () => {
    for (const garbage of ['', 'a.b', 'a.b.c', `${'x'.repeat(9_000)}.y.z`, '..', `${base64url('not json')}.e30.`]) {
      const verdict = await verifyClientAssertion(garbage, expect);
      assert.equal(verdict.ok, false, garbage.slice(0, 20));
    }
  });

  test('the client it claims to be is read from sub, for the key lookup only', async () => {
    assert.equal(assertionClientId(await assertion(es256)), CLIENT);
    assert.equal(assertionClientId('garbage'), null);
  });
});

describe('single use of an assertion (RFC 7523 §3 item 7)', () => {
  const spec = deciderSpec(assertionUse);
  const expiresAt = new Date((seconds + 60) * 1000);
  const replayKey = assertionReplayKey(CLIENT, 'jti-1');
  const used: AssertionUse = { type: 'ClientAssertionUsed', data: { replayKey, clientId: CLIENT, expiresAt: expiresAt.toISOString() } };

  test('given no use, when the assertion is presented, then its use is recorded', () => {
    spec.given({ used: false }).when({ replayKey, clientId: CLIENT, expiresAt }).then([used]);
  });

  test('given its use, when the same assertion is presented again (a replay), then it is refused', () => {
    spec.given({ used: true }).when({ replayKey, clientId: CLIENT, expiresAt }).thenThrows(AssertionReplayed);
  });

  test('the replay key is the same for the same client and jti, and differs for another client with the same jti', () => {
    assert.equal(assertionReplayKey(CLIENT, 'jti-1'), replayKey);
    assert.notEqual(assertionReplayKey('https://other.example/client.json', 'jti-1'), replayKey);
    assert.match(replayKey, /^[A-Za-z0-9_-]{43}$/);
  });
});

describe('single use across token replicas, on a real nats-server', () => {
  let nats: NatsHandle;
  const replicas: EventStore[] = [];
  before(async () => {
    nats = await startNats();
    for (const name of ['token-1', 'token-2', 'token-3']) replicas.push(await EventStore.connect({ servers: nats.url, connectionName: name }));
  });
  after(async () => {
    await Promise.all(replicas.map((r) => r.close()));
    await nats?.stop();
  });

  test('when three replicas record the same assertion at once with an expected last sequence of 0, exactly one succeeds', async () => {
    // The subject the wiring will name in libs/contracts: events.token.assertion.<replayKey>.
    const subject = `events.token.assertion.${assertionReplayKey(CLIENT, randomUUID())}`;
    const [decided] = assertionUse.decide({ replayKey: 'k', clientId: CLIENT, expiresAt: new Date() }, assertionUse.initialState());
    const results = await Promise.allSettled(
      replicas.map((replica) =>
        replica.append(subject, { type: decided!.type, data: decided!.data, metadata: { eventId: randomUUID(), occurredAt: new Date().toISOString(), actor: { kind: 'client', id: CLIENT }, schemaVersion: 1 } }, { expectedLastSubjectSequence: 0 }),
      ),
    );
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
    for (const lost of results.filter((r) => r.status === 'rejected')) assert.ok((lost as PromiseRejectedResult).reason instanceof ConcurrencyConflict);
  });
});
