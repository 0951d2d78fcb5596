import { RevokeConsentCommand, commandQueues, commandSubjects, subjects, type EventContext } from '@mcp-auth/contracts';
import type { EventStore, Logger, Served } from '@mcp-auth/event-store';
import type { ConsentsReadModel } from '@mcp-auth/read-models';
import { executeCommand, serveCommand, waitForPosition, type Projector } from '@mcp-auth/event-sourcing';
import { ConsentNotFound, decideConsent, type RevokeConsent } from './decider.ts';

type ConsentDeps = { store: EventStore; projector: Projector; consents: ConsentsReadModel };

/** Revokes one consent through the command path, exclusive on its subject. */
export function executeConsentRevocation(deps: ConsentDeps, command: RevokeConsent, context: EventContext): Promise<number | null> {
  const { consentId } = command.data;
  return executeCommand(deps, { subject: subjects.consent(consentId), load: () => ({ consent: deps.consents.find(consentId) }), decide: (state) => decideConsent(command, state) }, context);
}

/**
 * commands.authorization.revoke-consent: an admin's revocation of a grant, which ends the consent the grant was
 * made under (the admin service records no other context's events).
 */
export function serveConsentCommands(deps: ConsentDeps & { logger: Logger }): Served[] {
  return [
    serveCommand(deps.store, deps.logger, {
      subject: commandSubjects.revokeConsent,
      queue: commandQueues.authorization,
      schema: RevokeConsentCommand,
      isNotFound: (err) => err instanceof ConsentNotFound,
      execute: async ({ consentId, knownAt, context }) => {
        await waitForPosition(deps.projector, knownAt);
        if (!deps.consents.find(consentId)) throw new ConsentNotFound(consentId);
        return executeConsentRevocation(deps, { type: 'RevokeConsent', data: { consentId, reason: 'revoked_by_admin' } }, context);
      },
    }),
  ];
}
