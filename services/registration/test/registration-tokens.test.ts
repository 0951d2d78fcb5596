import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { ClientDeleted, ClientRegistered, ClientReregistered, newEvent, subjects, type DomainEvent, type RecordedEvent } from '@mcp-auth/contracts';
import { registrationTokensProjection, RegistrationTokensReadModel } from '../src/clients/registration-tokens.ts';

const actor = { kind: 'client', id: 'c1' } as const;
const metadata = { redirect_uris: ['http://127.0.0.1/cb'], token_endpoint_auth_method: 'none', grant_types: ['authorization_code'], response_types: ['code'] };
const registered = (hash: string) =>
  newEvent(ClientRegistered, { clientId: 'c1', clientIdIssuedAt: 1, metadata: metadata as never, clientSecretHash: null, registrationTokenHash: hash, fingerprint: 'f' }, { actor });
const reregistered = (hash: string) => newEvent(ClientReregistered, { clientId: 'c1', registrationTokenHash: hash }, { actor });
const deleted = () => newEvent(ClientDeleted, { clientId: 'c1' }, { actor });

function given(...events: DomainEvent[]): RegistrationTokensReadModel {
  const db = new Database(':memory:');
  db.exec(registrationTokensProjection.schema);
  events.forEach((event, i) => registrationTokensProjection.apply({ ...event, position: i + 1, subject: subjects.client('c1') } as RecordedEvent<DomainEvent>, db));
  return new RegistrationTokensReadModel(db);
}

describe('registration access tokens projection', () => {
  test('every registrant of a client has its own token', () => {
    assert.deepEqual(given(registered('h1'), reregistered('h2'), reregistered('h3')).hashes('c1').sort(), ['h1', 'h2', 'h3']);
  });

  test('deletion withdraws every token, and a re-registration that lands after it gets none', () => {
    assert.deepEqual(given(registered('h1'), reregistered('h2'), deleted(), reregistered('h3')).hashes('c1'), []);
  });

  test('registering the freed id afresh starts with only the new registrant', () => {
    assert.deepEqual(given(registered('h1'), deleted(), registered('h4'), reregistered('h5')).hashes('c1').sort(), ['h4', 'h5']);
  });
});
