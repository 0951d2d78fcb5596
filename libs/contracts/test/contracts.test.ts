import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { EVENT_AGGREGATES, aggregateOfSubject, decodeEvent, eventCatalogue, newEvent, subjectOf, subjects, type DecidedEvent } from '../src/index.ts';

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
});
