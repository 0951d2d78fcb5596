import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { hashSecret } from '@mcp-auth/oauth';
import { ClientDeleted, ClientRegistered, ClientReregistered, SharedClientReregistered, newEvent, subjects, type DomainEvent, type RecordedEvent } from '@mcp-auth/contracts';
import { registrationTokensProjection, RegistrationTokensReadModel } from '../src/clients/registration-tokens.ts';

const actor = { kind: 'client', id: 'c1' } as const;
const metadata = { redirect_uris: ['http://127.0.0.1/cb'], token_endpoint_auth_method: 'none', grant_types: ['authorization_code'], response_types: ['code'] };
// Each registrant's token is named t<n>; the events carry its hash, as the registration service writes them.
const registered = (token: string) =>
  newEvent(ClientRegistered, { clientId: 'c1', clientIdIssuedAt: 1, metadata: metadata as never, clientSecretHash: null, registrationTokenHash: hashSecret(token), fingerprint: 'f' }, { actor });
const reregistered = (token: string) => newEvent(ClientReregistered, { clientId: 'c1', registrationTokenHash: hashSecret(token) }, { actor });
const sharedReregistered = (token: string) => newEvent(SharedClientReregistered, { clientId: 'c1', registrationTokenHash: hashSecret(token) }, { actor });
const held = (model: RegistrationTokensReadModel, ...tokens: string[]) => tokens.filter((token) => model.holds('c1', token));
const deleted = () => newEvent(ClientDeleted, { clientId: 'c1' }, { actor });

function given(...events: DomainEvent[]): RegistrationTokensReadModel {
  const db = new Database(':memory:');
  db.exec(registrationTokensProjection.schema);
  events.forEach((event, i) => registrationTokensProjection.apply({ ...event, position: i + 1, subject: subjects.client('c1') } as RecordedEvent<DomainEvent>, db));
  return new RegistrationTokensReadModel(db);
}

describe('registration access tokens projection', () => {
  test('every registrant of a client has its own token; another token or another client id is refused', () => {
    const model = given(registered('t1'), reregistered('t2'), sharedReregistered('t3'));
    assert.deepEqual(held(model, 't1', 't2', 't3', 't4'), ['t1', 't2', 't3']);
    assert.equal(model.holds('c2', 't1'), false);
    assert.equal(model.holds('c1', hashSecret('t1')), false, 'the stored hash is not itself a token');
  });

  test('registrants are counted up to two: one alone, or shared', () => {
    assert.equal(given(registered('t1')).registrantsUpToTwo('c1'), 1);
    assert.equal(given(registered('t1'), reregistered('t2')).registrantsUpToTwo('c1'), 2);
    assert.equal(given(registered('t1'), reregistered('t2'), sharedReregistered('t3'), sharedReregistered('t4')).registrantsUpToTwo('c1'), 2);
    // Streams written before the shared client's further registrants had a subject of their own.
    assert.equal(given(registered('t1'), reregistered('t2'), reregistered('t3')).registrantsUpToTwo('c1'), 2);
    assert.equal(given().registrantsUpToTwo('c1'), 0);
  });

  test('deletion withdraws every token, and a re-registration that lands after it gets none', () => {
    const model = given(registered('t1'), reregistered('t2'), deleted(), sharedReregistered('t3'));
    assert.deepEqual(held(model, 't1', 't2', 't3'), []);
    assert.equal(model.registrantsUpToTwo('c1'), 0);
  });

  test('a client found shared stays so only until the clients projection changes (it ends with the client)', () => {
    const db = new Database(':memory:');
    db.exec(registrationTokensProjection.schema);
    let position = 0;
    let clientsChanges = 0;
    const apply = (event: DomainEvent) => registrationTokensProjection.apply({ ...event, position: ++position, subject: subjects.client('c1') } as RecordedEvent<DomainEvent>, db);
    const model = new RegistrationTokensReadModel(db, { changes: () => clientsChanges });
    apply(registered('t1'));
    assert.equal(model.isShared('c1'), false);
    apply(reregistered('t2'));
    assert.equal(model.isShared('c1'), true, 'a second registrant makes it shared (not remembered as unshared)');
    apply(sharedReregistered('t3'));
    assert.equal(model.isShared('c1'), true);
    apply(deleted());
    clientsChanges++; // the clients projection applied the deletion too
    assert.equal(model.isShared('c1'), false);
    apply(registered('t4'));
    clientsChanges++;
    assert.equal(model.isShared('c1'), false, 'registered afresh: one registrant again');
  });

  test('registering the freed id afresh starts with only the new registrant', () => {
    assert.deepEqual(held(given(registered('t1'), deleted(), registered('t4'), reregistered('t5')), 't1', 't4', 't5'), ['t4', 't5']);
  });
});
