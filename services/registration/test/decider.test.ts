import { describe, test } from 'node:test';
import type { ClientMetadata, DecidedEvent } from '@mcp-auth/contracts';
import { InvalidClientMetadata } from '@mcp-auth/oauth';
import { deciderSpec } from '@mcp-auth/testing';
import { ClientIdTaken, ClientNotFound, SharedClientLocked, clientDecider, type ClientCommand, type ClientState } from '../src/clients/decider.ts';

const spec = deciderSpec<ClientCommand, ClientState, DecidedEvent>(clientDecider);

const metadata: ClientMetadata = {
  redirect_uris: ['http://127.0.0.1/cb'],
  token_endpoint_auth_method: 'none',
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
  application_type: 'native',
  client_name: 'Agent',
};
const registered: DecidedEvent = {
  type: 'ClientRegistered',
  data: { clientId: 'c1', clientIdIssuedAt: 1000, metadata, clientSecretHash: null, registrationTokenHash: 'rt1', fingerprint: 'fp1' },
};
const register = (overrides: Partial<Extract<ClientCommand, { type: 'RegisterClient' }>['data']> = {}): ClientCommand => ({
  type: 'RegisterClient',
  data: { clientId: 'c1', metadata, fingerprint: 'fp1', clientSecretHash: null, registrationTokenHash: 'rt2', issuedAt: 2000, ...overrides },
});

/** The client as the clients projection reads it: never registered, registered (by one registrant, or shared), gone. */
const unregistered: ClientState = { status: 'unregistered' };
const active: ClientState = { status: 'active', metadata, fingerprint: 'fp1', shared: false };
const shared: ClientState = { status: 'active', metadata, fingerprint: 'fp1', shared: true };
const deleted: ClientState = { status: 'deleted' };

describe('client registration decider', () => {
  test('a new client is registered', () => {
    spec.given(unregistered).when(register({ registrationTokenHash: 'rt1', issuedAt: 1000 })).then([registered]);
  });

  test('the same public client registering again gets the client back with a token of its own, and is shared from then on', () => {
    spec.given(active).when(register()).then([{ type: 'ClientReregistered', data: { clientId: 'c1', registrationTokenHash: 'rt2' } }]);
  });

  test('a shared client registered again only gains a token, on the registrants subject', () => {
    spec
      .given(shared)
      .when(register({ registrationTokenHash: 'rt3' }))
      .then([{ type: 'SharedClientReregistered', data: { clientId: 'c1', registrationTokenHash: 'rt3' } }]);
  });

  test('a shared client may be neither changed nor deleted by any one registrant', () => {
    spec.given(shared).when({ type: 'UpdateClient', data: { clientId: 'c1', metadata: { ...metadata, redirect_uris: ['https://evil.example/cb'] }, fingerprint: 'fp2' } }).thenThrows(SharedClientLocked);
    spec.given(shared).when({ type: 'DeleteClient', data: { clientId: 'c1' } }).thenThrows(SharedClientLocked);
  });

  test('a public client id whose client changed since is taken: the caller must use a fresh id', () => {
    const updated: ClientState = { status: 'active', metadata: { ...metadata, client_name: 'Renamed' }, fingerprint: 'fp2', shared: false };
    spec.given(updated).when(register()).thenThrows(ClientIdTaken);
  });

  test('a deleted public client can be registered again', () => {
    spec
      .given(deleted)
      .when(register({ registrationTokenHash: 'rt1', issuedAt: 1000 }))
      .then([registered]);
  });

  test('an update replaces the metadata', () => {
    const renamed = { ...metadata, client_name: 'Renamed' };
    spec
      .given(active)
      .when({ type: 'UpdateClient', data: { clientId: 'c1', metadata: renamed, fingerprint: 'fp2' } })
      .then([{ type: 'ClientUpdated', data: { clientId: 'c1', metadata: renamed, fingerprint: 'fp2' } }]);
  });

  test('an update that changes nothing records nothing', () => {
    spec.given(active).when({ type: 'UpdateClient', data: { clientId: 'c1', metadata, fingerprint: 'fp1' } }).then([]);
  });

  test('an update may not turn a public client into a confidential one', () => {
    spec
      .given(active)
      .when({ type: 'UpdateClient', data: { clientId: 'c1', metadata: { ...metadata, token_endpoint_auth_method: 'client_secret_basic' }, fingerprint: null } })
      .thenThrows(InvalidClientMetadata);
  });

  test('updating or deleting a client that does not exist is refused', () => {
    spec.given(unregistered).when({ type: 'UpdateClient', data: { clientId: 'c1', metadata, fingerprint: 'fp1' } }).thenThrows(ClientNotFound);
    spec.given(deleted).when({ type: 'DeleteClient', data: { clientId: 'c1' } }).thenThrows(ClientNotFound);
  });

  test('a client is deleted', () => {
    spec.given(active).when({ type: 'DeleteClient', data: { clientId: 'c1' } }).then([{ type: 'ClientDeleted', data: { clientId: 'c1' } }]);
  });
});

describe('the admin service\'s commands on a client', () => {
  const expire = { type: 'ExpireClient', data: { clientId: 'c1', lastUsedAt: '2026-01-01T00:00:00.000Z', idleDays: 90 } } satisfies ClientCommand;

  test('an operator deletes a client, a shared one too', () => {
    spec.given(active).when({ type: 'DeleteClientByAdmin', data: { clientId: 'c1' } }).then([{ type: 'ClientDeleted', data: { clientId: 'c1' } }]);
    spec.given(shared).when({ type: 'DeleteClientByAdmin', data: { clientId: 'c1' } }).then([{ type: 'ClientDeleted', data: { clientId: 'c1' } }]);
  });

  test('an operator deleting a client that is gone or never was is refused', () => {
    spec.given(unregistered).when({ type: 'DeleteClientByAdmin', data: { clientId: 'c1' } }).thenThrows(ClientNotFound);
    spec.given(deleted).when({ type: 'DeleteClientByAdmin', data: { clientId: 'c1' } }).thenThrows(ClientNotFound);
  });

  test('the reaper expires an active client, shared or not, with what it judged', () => {
    const expired = { type: 'ClientExpired', data: { clientId: 'c1', lastUsedAt: '2026-01-01T00:00:00.000Z', idleDays: 90 } } satisfies DecidedEvent;
    spec.given(active).when(expire).then([expired]);
    spec.given(shared).when(expire).then([expired]);
  });

  test('a client deleted or unknown is not expired: nothing to record', () => {
    spec.given(deleted).when(expire).then([]);
    spec.given(unregistered).when(expire).then([]);
  });
});
