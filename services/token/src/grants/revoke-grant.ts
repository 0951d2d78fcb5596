import { commandQueues, commandSubjects, RevokeGrantCommand, subjects, type EventContext } from '@mcp-auth/contracts';
import type { Served } from '@mcp-auth/event-store';
import { executeCommand, serveCommand, waitForPosition } from '@mcp-auth/projector';
import type { TokenDeps } from '../deps.ts';
import { GrantNotFound, decide, type RevokeGrant, type RevokeGrantByAdmin } from './decider.ts';

/**
 * Revokes a grant through the command path: an authoritative read of the grant's subject, the decision, an
 * append exclusive on it (a rotation or another revocation landing meanwhile is read again), then the answer
 * once this replica applied it. Every way of revoking a grant goes through here.
 */
export function executeGrantRevocation(deps: Pick<TokenDeps, 'store' | 'projector' | 'grants'>, command: RevokeGrant | RevokeGrantByAdmin, context: EventContext): Promise<number | null> {
  const { grantId } = command.data;
  return executeCommand(deps, { subject: subjects.grant(grantId), load: () => ({ grant: deps.grants.find(grantId) }), decide: (state) => decide(command, state) }, context);
}

/** commands.token.revoke-grant: the admin service's revocation, which it no longer records itself. */
export function serveGrantCommands(deps: Pick<TokenDeps, 'store' | 'projector' | 'grants' | 'logger'>): Served[] {
  return [
    serveCommand(deps.store, deps.logger, {
      subject: commandSubjects.revokeGrant,
      queue: commandQueues.token,
      schema: RevokeGrantCommand,
      isNotFound: (err) => err instanceof GrantNotFound,
      execute: async ({ grantId, knownAt, context }) => {
        await waitForPosition(deps.projector, knownAt);
        return executeGrantRevocation(deps, { type: 'RevokeGrantByAdmin', data: { grantId, nowSeconds: Math.floor(Date.now() / 1000) } }, context);
      },
    }),
  ];
}
