import type { ClientMetadata, DecidedEvent, Decider } from '@mcp-auth/contracts';
import { InvalidClientMetadata } from '@mcp-auth/oauth';

export type RegisterClient = {
  type: 'RegisterClient';
  data: {
    clientId: string;
    metadata: ClientMetadata;
    fingerprint: string | null;
    clientSecretHash: string | null;
    registrationTokenHash: string;
    issuedAt: number;
  };
};
export type UpdateClient = { type: 'UpdateClient'; data: { clientId: string; metadata: ClientMetadata; fingerprint: string | null } };
/** RFC 7592 §2.3: the client deletes itself, with its registration access token. */
export type DeleteClient = { type: 'DeleteClient'; data: { clientId: string } };
/** An operator deletes a client (the admin service's command): shared clients too. */
export type DeleteClientByAdmin = { type: 'DeleteClientByAdmin'; data: { clientId: string } };
/** The admin service's reaper found the client idle (no use, no live grant, for idleDays) and expires it. */
export type ExpireClient = { type: 'ExpireClient'; data: { clientId: string; lastUsedAt: string; idleDays: number } };
export type ClientCommand = RegisterClient | UpdateClient | DeleteClient | DeleteClientByAdmin | ExpireClient;

export type ClientState =
  | { status: 'unregistered' }
  /** shared: a public client registered by more than one registrant (every install of one agent). */
  | { status: 'active'; metadata: ClientMetadata; fingerprint: string | null; shared: boolean }
  | { status: 'deleted' };

/** The deterministic id of a public client is taken by a client whose metadata has since changed. */
export class ClientIdTaken extends Error {
  constructor(readonly clientId: string) {
    super(`client id ${clientId} belongs to a client whose metadata changed`);
  }
}

export class ClientNotFound extends Error {
  constructor(readonly clientId: string) {
    super(`client ${clientId} does not exist`);
  }
}

/**
 * A public client registered with identical metadata by several registrants is theirs in common: one of them,
 * or anyone who copied the metadata, must not redirect or delete it for all the others.
 */
export class SharedClientLocked extends Error {
  constructor(readonly clientId: string) {
    super(`client ${clientId} is shared by several registrants`);
  }
}

export function decide(command: ClientCommand, state: ClientState): DecidedEvent[] {
  switch (command.type) {
    case 'RegisterClient': {
      const d = command.data;
      if (state.status === 'active') {
        // Same public client registering again: one client, one more registration access token. The second
        // registrant makes it shared, on the client's subject; the many after it change nothing there.
        if (d.fingerprint !== null && state.fingerprint === d.fingerprint) {
          const data = { clientId: d.clientId, registrationTokenHash: d.registrationTokenHash };
          return [state.shared ? { type: 'SharedClientReregistered', data } : { type: 'ClientReregistered', data }];
        }
        throw new ClientIdTaken(d.clientId);
      }
      return [
        {
          type: 'ClientRegistered',
          data: {
            clientId: d.clientId,
            clientIdIssuedAt: d.issuedAt,
            metadata: d.metadata,
            clientSecretHash: d.clientSecretHash,
            registrationTokenHash: d.registrationTokenHash,
            fingerprint: d.fingerprint,
          },
        },
      ];
    }
    case 'UpdateClient': {
      if (state.status !== 'active') throw new ClientNotFound(command.data.clientId);
      if (state.shared) throw new SharedClientLocked(command.data.clientId);
      const { metadata } = command.data;
      if (metadata.token_endpoint_auth_method !== state.metadata.token_endpoint_auth_method) {
        // Changing between public and confidential would need a secret issued or withdrawn: register a new client instead.
        throw new InvalidClientMetadata('token_endpoint_auth_method cannot be changed; register a new client');
      }
      if (JSON.stringify(metadata) === JSON.stringify(state.metadata)) return [];
      return [{ type: 'ClientUpdated', data: { clientId: command.data.clientId, metadata, fingerprint: command.data.fingerprint } }];
    }
    case 'DeleteClient':
      if (state.status !== 'active') throw new ClientNotFound(command.data.clientId);
      if (state.shared) throw new SharedClientLocked(command.data.clientId);
      return [{ type: 'ClientDeleted', data: { clientId: command.data.clientId } }];
    // The operator's authority is the deployment's, not one registrant's: a shared client may go too. Its
    // consents and grants end with it (the authorization and token services' policies record that).
    case 'DeleteClientByAdmin':
      if (state.status !== 'active') throw new ClientNotFound(command.data.clientId);
      return [{ type: 'ClientDeleted', data: { clientId: command.data.clientId } }];
    // The reaper's judgement of idleness is the admin service's (it alone sees every use); a client gone meanwhile needs nothing more.
    case 'ExpireClient': {
      if (state.status !== 'active') return [];
      const { clientId, lastUsedAt, idleDays } = command.data;
      return [{ type: 'ClientExpired', data: { clientId, lastUsedAt, idleDays } }];
    }
  }
}

export const clientDecider = { decide } satisfies Decider<ClientCommand, ClientState>;
