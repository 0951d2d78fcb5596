import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { EVENT_AGGREGATES, aggregateOfSubject, consentRevocationReason, decodeEvent, eventCatalogue, newEvent, subjectOf, subjects, toEnvelope, type DecidedEvent } from '../src/index.ts';

/** One well-formed example of every event type, with ids that fill the subject. */
function example(type: keyof typeof eventCatalogue): DecidedEvent {
  const ids = { clientId: 'c1', userId: 'u1', consentId: 'k1', codeHash: 'h1', denialId: 'd1', grantId: 'g1', kid: 'key1', invocationId: 'i1', noteId: 'n1', webhookId: 'w1', deliveryId: 'v1', sessionHash: 's1' };
  return { type, data: ids } as unknown as DecidedEvent;
}

describe('event contracts', () => {
  test('every event type has an aggregate, and subjectOf puts it on that aggregate', () => {
    for (const type of Object.keys(eventCatalogue) as Array<keyof typeof eventCatalogue>) {
      const subject = subjectOf(example(type));
      assert.equal(aggregateOfSubject(subject), EVENT_AGGREGATES[type], type);
    }
  });

  test('aggregateOfSubject reads only well-formed event subjects', () => {
    assert.equal(aggregateOfSubject('events.token.grant.abc'), 'token.grant');
    assert.equal(aggregateOfSubject('events.token'), null);
    assert.equal(aggregateOfSubject('other.token.grant.abc'), null);
  });

  test('subjects refuse ids that would change the subject (wildcards, dots, spaces)', () => {
    for (const bad of ['a.b', '*', '>', 'a b', '']) assert.throws(() => subjects.client(bad), TypeError);
  });

  test('decodeEvent: a valid event, garbage, an unknown type, a newer version, bad data', () => {
    const event = newEvent(eventCatalogue.NoteCreated, { noteId: 'n', userId: 'u', title: 't', text: '' }, { actor: { kind: 'system', id: 't' } });
    assert.equal(decodeEvent(JSON.stringify(event)).kind, 'event');
    assert.equal(decodeEvent('not json').kind, 'invalid');
    assert.equal(decodeEvent(JSON.stringify({ ...event, type: 'FromTheFuture' })).kind, 'unknown_type');
    assert.equal(decodeEvent(JSON.stringify({ ...event, metadata: { ...event.metadata, schemaVersion: 9 } })).kind, 'newer_version');
    assert.equal(decodeEvent(JSON.stringify({ ...event, data: { noteId: 1 } })).kind, 'invalid');
  });

  test('a version adds: an event is written with the oldest version that carries it, and events of every older version still read', () => {
    const actor = { kind: 'system', id: 't' } as const;
    const written = (event: DecidedEvent) => toEnvelope(event, { actor }).metadata.schemaVersion;
    assert.equal(written({ type: 'GrantRevoked', data: { grantId: 'g', reason: 'revoked_by_admin', consentId: 'k' } }), 1);
    assert.equal(written({ type: 'GrantRevoked', data: { grantId: 'g', reason: 'client_deleted', consentId: 'k' } }), 2);
    assert.equal(written({ type: 'ConsentRevoked', data: { consentId: 'k', userId: 'u', clientId: 'c' } }), 1);
    assert.equal(written({ type: 'ConsentRevoked', data: { consentId: 'k', userId: 'u', clientId: 'c', reason: 'revoked_by_admin' } }), 2);

    // As written before version 2: no consent named, no reason.
    const v1 = newEvent(eventCatalogue.ConsentRevoked, { consentId: 'k', userId: 'u', clientId: 'c' }, { actor });
    const decoded = decodeEvent(JSON.stringify({ ...v1, metadata: { ...v1.metadata, schemaVersion: 1 } }));
    assert.equal(decoded.kind, 'event');
    assert.equal(consentRevocationReason((decoded as { event: { data: { reason?: 'revoked_by_admin' } } }).event.data), 'revoked_by_user');
    assert.equal(decodeEvent(JSON.stringify({ type: 'GrantRevoked', data: { grantId: 'g', reason: 'revoked_by_client' }, metadata: { ...v1.metadata, schemaVersion: 1 } })).kind, 'event');
    // A reader one version behind skips what it cannot understand instead of misreading it.
    assert.equal(decodeEvent(JSON.stringify({ type: 'GrantRevoked', data: { grantId: 'g', reason: 'some_later_reason' }, metadata: { ...v1.metadata, schemaVersion: 3 } })).kind, 'newer_version');
  });
});
