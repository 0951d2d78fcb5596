import { commandSubjects, isSubjectToken, type EventContext } from '@mcp-auth/contracts';
import type { AdminDeps } from '../deps.ts';
import { NotFoundByOwner, sendToOwner } from '../owning-services.ts';

export class GrantNotFound extends Error {
  constructor(readonly grantId: string) {
    super(`grant ${grantId} does not exist`);
  }
}

/**
 * Revokes a grant as an admin: the token service records GrantRevoked (revoked_by_admin), and the authorization
 * service's policy revokes the consent it was made under, so the next authorization asks the user again.
 * Answers once this replica has applied it; the MCP servers refuse the grant's tokens as soon as their own
 * projections apply the same event. A grant already dead records nothing: 'already_inactive'.
 */
export async function revokeGrant(deps: Pick<AdminDeps, 'store' | 'projector'>, grantId: string, context: EventContext): Promise<'revoked' | 'already_inactive'> {
  if (!isSubjectToken(grantId)) throw new GrantNotFound(grantId);
  try {
    // The token service reads at least as far as this replica has: the grant may be new to it.
    const position = await sendToOwner(deps, commandSubjects.revokeGrant, { grantId, knownAt: deps.projector.position }, context);
    return position === null ? 'already_inactive' : 'revoked';
  } catch (err) {
    if (err instanceof NotFoundByOwner) throw new GrantNotFound(grantId);
    throw err;
  }
}
