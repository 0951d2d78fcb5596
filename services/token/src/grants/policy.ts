import { consentRevocationReason, type EventOfType, type RecordedEvent } from '@mcp-auth/contracts';
import type { Grant } from '@mcp-auth/read-models';
import type { Policy } from '@mcp-auth/event-sourcing';
import type { TokenDeps } from '../deps.ts';
import type { RevokeGrant } from './decider.ts';
import { executeGrantRevocation } from './revoke-grant.ts';

export const TOKEN_POLICIES = 'token-policies';

type Cause = EventOfType<'ConsentRevoked'>;

/**
 * What ends a grant besides the token service's own reasons: the consent it was made under revoked, for the
 * consent's reason (the user's, an admin's, or its client's deletion, which authorization-policies turns into
 * the revocation of the client's consents). Of the grants given, those of the consent that no GrantRevoked has
 * ended and that have not expired are revoked, each by its own command.
 */
export function revocationsFollowing(cause: Cause, grants: readonly Grant[], nowSeconds: number): RevokeGrant[] {
  const reason = consentRevocationReason(cause.data);
  return grants
    .filter((g) => g.consentId === cause.data.consentId && g.revokedAt === null && g.expiresAt > nowSeconds)
    .map((g) => ({ type: 'RevokeGrant', data: { grantId: g.grantId, reason } }));
}

/**
 * token-policies: records the GrantRevoked that a consent's revocation implies. The grants are refused from the
 * moment of the cause already (grantIsActive reads the consent and the client); the events make every
 * revocation visible as such in the log, the audit trail and webhooks. It follows one subject
 * (events.authorization.consent.>), so every NATS version sends it consent events only.
 */
export function tokenPolicy(deps: Pick<TokenDeps, 'store' | 'projector' | 'grants'>): Policy {
  return {
    name: TOKEN_POLICIES,
    reactsTo: ['ConsentRevoked'],
    async react(event: RecordedEvent) {
      const cause = event as RecordedEvent<Cause>;
      const now = Math.floor(Date.now() / 1000);
      const candidates = deps.grants.unrevokedOfConsent(cause.data.consentId, now);
      const context = { actor: { kind: 'system' as const, id: TOKEN_POLICIES }, ...(cause.metadata.requestId ? { requestId: cause.metadata.requestId } : {}) };
      for (const command of revocationsFollowing(cause, candidates, now)) await executeGrantRevocation(deps, command, context);
    },
  };
}
