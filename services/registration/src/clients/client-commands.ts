import {
  commandQueues,
  commandSubjects,
  DeleteClientCommand,
  ExpireClientCommand,
  subjects,
  type EventContext,
} from '@mcp-auth/contracts';
import type { EventStore, Logger, Served } from '@mcp-auth/event-store';
import type { ClientsReadModel, RegisteredClient } from '@mcp-auth/read-models';
import { executeCommand, serveCommand, type AggregateCommand, type CommandOptions, type Projector } from '@mcp-auth/event-sourcing';
import { ClientNotFound, decide, type ClientCommand, type ClientState } from './decider.ts';
import type { RegistrationTokensReadModel } from './registration-tokens.ts';

export type ClientCommandDeps = {
  store: EventStore;
  projector: Projector;
  logger: Logger;
  clients: ClientsReadModel;
  registrationTokens: RegistrationTokensReadModel;
};

/** What the decider judges of a client, from this replica's projection. */
export function clientStateOf(client: RegisteredClient | null, registrationTokens: RegistrationTokensReadModel): ClientState {
  if (client === null) return { status: 'unregistered' };
  if (client.status === 'deleted') return { status: 'deleted' };
  return { status: 'active', metadata: client.metadata, fingerprint: client.fingerprint, shared: registrationTokens.isShared(client.clientId) };
}

/**
 * Runs a command on a client through the command path (authoritative read, decision, append exclusive on the
 * client's subject), for the RFC 7592 routes and the admin service's commands alike.
 */
export function executeClientCommand(deps: ClientCommandDeps, command: ClientCommand, context: EventContext, options: CommandOptions = {}): Promise<number | null> {
  const { clientId } = command.data;
  const aggregate: AggregateCommand<ClientState> = {
    subject: subjects.client(clientId),
    load: () => clientStateOf(deps.clients.find(clientId), deps.registrationTokens),
    decide: (state) => decide(command, state),
  };
  return executeCommand(deps, aggregate, context, options);
}

/**
 * The commands the admin service sends here rather than writing registration's events itself: an operator's
 * deletion (commands.registration.delete-client) and the reaper's expiry (commands.registration.expire-client).
 */
export function serveClientCommands(deps: ClientCommandDeps): Served[] {
  const isNotFound = (err: unknown) => err instanceof ClientNotFound;
  return [
    serveCommand(deps.store, deps.logger, {
      subject: commandSubjects.deleteClient,
      queue: commandQueues.registration,
      schema: DeleteClientCommand,
      isNotFound,
      execute: ({ clientId, context }) => executeClientCommand(deps, { type: 'DeleteClientByAdmin', data: { clientId } }, context),
    }),
    serveCommand(deps.store, deps.logger, {
      subject: commandSubjects.expireClient,
      queue: commandQueues.registration,
      schema: ExpireClientCommand,
      isNotFound,
      // Exclusive on the version the reaper judged the client idle at: a registration or update since is a conflict.
      execute: ({ clientId, lastUsedAt, idleDays, expectedVersion, context }) =>
        executeClientCommand(deps, { type: 'ExpireClient', data: { clientId, lastUsedAt, idleDays } }, context, { expectedVersion }),
    }),
  ];
}
