import { subjects, type EventContext } from '@mcp-auth/contracts';
import { executeCommand } from '@mcp-auth/event-sourcing';
import type { TokenDeps } from '../deps.ts';
import { decide, type RevokeGrant } from './decider.ts';

/**
 * Revokes a grant through the command path: an authoritative read of the grant's subject, the decision, an
 * append exclusive on it (a rotation or another revocation landing meanwhile is read again), then the answer
 * once this replica applied it. Every GrantRevoked is decided here.
 */
export function executeGrantRevocation(deps: Pick<TokenDeps, 'store' | 'projector' | 'grants'>, command: RevokeGrant, context: EventContext): Promise<number | null> {
  const { grantId } = command.data;
  return executeCommand(deps, { subject: subjects.grant(grantId), load: () => ({ grant: deps.grants.find(grantId) }), decide: (state) => decide(command, state) }, context);
}
