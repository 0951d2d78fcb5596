import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SigningKeyPublished, NoteCreated, decodeEventOn, newEvent, subjects } from '../src/index.ts';

const actor = { actor: { kind: 'system' as const, id: 't' } };

test("decodeEventOn: an event is believed only on its own aggregate's subject", () => {
  const key = JSON.stringify(newEvent(SigningKeyPublished, { kid: 'k', alg: 'ES256', publicJwk: {}, signsUntil: 1, retireAfter: 2 }, actor));
  const note = JSON.stringify(newEvent(NoteCreated, { noteId: 'n', userId: 'u', title: 't', text: '' }, actor));
  assert.equal(decodeEventOn(subjects.signingKey('k'), key).kind, 'event');
  assert.equal(decodeEventOn(subjects.note('n'), note).kind, 'event');
  assert.deepEqual(decodeEventOn(subjects.note('n'), key), { kind: 'misplaced', type: 'SigningKeyPublished', subject: 'events.mcp.note.n' });
  // Another aggregate of the same context is no better, nor a subject outside the stream's shape.
  assert.equal(decodeEventOn(subjects.grant('g'), key).kind, 'misplaced');
  assert.equal(decodeEventOn('events.token', key).kind, 'misplaced');
  // What decodeEvent says of what is not an event stays as it was.
  assert.equal(decodeEventOn(subjects.note('n'), 'not json').kind, 'invalid');
});
