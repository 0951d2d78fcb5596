import type { DecidedEvent } from '@mcp-auth/contracts';
import type { ClientOverview } from './usage-projection.ts';

export type DeleteClientByAdmin = { type: 'DeleteClientByAdmin'; data: { clientId: string } };
export type ExpireIdleClient = { type: 'ExpireIdleClient'; data: { clientId: string; now: Date; idleDays: number } };
export type AdminClientCommand = DeleteClientByAdmin | ExpireIdleClient;

export type AdminClientState = {
  client: ClientOverview | null;
  /** Grants of the client that are still honoured. */
  liveGrantIds: string[];
};

export class ClientNotFound extends Error {
  constructor(readonly clientId: string) {
    super(`client ${clientId} does not exist`);
  }
}

const DAY_MS = 86_400_000;

export function decide(command: AdminClientCommand, state: AdminClientState): DecidedEvent[] {
  switch (command.type) {
    case 'DeleteClientByAdmin': {
      if (!state.client || state.client.status !== 'active') throw new ClientNotFound(command.data.clientId);
      // A deleted client cannot refresh, but its access tokens would live on until they expire: revoke its grants with it.
      return [
        { type: 'ClientDeleted', data: { clientId: command.data.clientId } },
        ...state.liveGrantIds.map((grantId): DecidedEvent => ({ type: 'GrantRevoked', data: { grantId, reason: 'revoked_by_admin' } })),
      ];
    }
    case 'ExpireIdleClient': {
      const { client } = state;
      if (!client || client.status !== 'active' || command.data.idleDays <= 0) return [];
      // A client with a live grant is never reaped, however long since it was used.
      if (state.liveGrantIds.length > 0) return [];
      if (command.data.now.getTime() - Date.parse(client.lastUsedAt) < command.data.idleDays * DAY_MS) return [];
      return [{ type: 'ClientExpired', data: { clientId: client.clientId, lastUsedAt: client.lastUsedAt, idleDays: command.data.idleDays } }];
    }
  }
}
