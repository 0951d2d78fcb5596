import { commandSubjects, isSubjectToken, type EventContext } from '@mcp-auth/contracts';
import { grantIsActive } from '@mcp-auth/read-models';
import { nowSeconds } from '../api/query.ts';
import type { AdminDeps } from '../deps.ts';
import { sendToOwner } from '../owning-services.ts';

export class GrantNotFound extends Error {
  constructor(readonly grantId: string) {
    super(`grant ${grantId} does not exist`);
  }
}

/**
 * Revokes a grant as an admin. An admin's revocation ends what the user agreed to: the authorization service
 * revokes the consent the grant was made under (ConsentRevoked, revoked_by_admin), which makes every grant made
 * under it dead at once on every replica, and the next authorization asks the user again; token-policies then
 * records each grant's GrantRevoked. Answers once this replica has applied the revocation. A grant already dead
 * (revoked, expired, its consent or client gone) records nothing: 'already_inactive'.
 */
export async function revokeGrant(deps: Pick<AdminDeps, 'store' | 'projector' | 'grants'>, grantId: string, context: EventContext): Promise<'revoked' | 'already_inactive'> {
  const grant = isSubjectToken(grantId) ? deps.grants.find(grantId) : null;
  if (!grant) throw new GrantNotFound(grantId);
  if (!grantIsActive(grant, nowSeconds())) return 'already_inactive';
  // The authorization service reads at least as far as this replica has: the consent may be new to it.
  const position = await sendToOwner(deps, commandSubjects.revokeConsent, { consentId: grant.consentId, knownAt: deps.projector.position }, context);
  return position === null ? 'already_inactive' : 'revoked';
}
