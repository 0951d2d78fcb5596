import { subjects, type EventOfType, type RecordedEvent } from '@mcp-auth/contracts';
import type { EventStore } from '@mcp-auth/event-store';
import type { Consent, ConsentsReadModel } from '@mcp-auth/projections';
import { executeCommand, type Policy, type Projector } from '@mcp-auth/projector';
import { decideConsent, type RevokeConsent } from './decider.ts';

export const AUTHORIZATION_POLICIES = 'authorization-policies';

type Cause = EventOfType<'ClientDeleted' | 'ClientExpired' | 'GrantRevoked'>;

/**
 * What ends a remembered consent besides the user: its client deleted or expired (client_deleted), or an
 * admin's revocation of a grant made under it (revoked_by_admin: the next authorization asks the user again and
 * /account no longer lists the app). The token service's own revocations (a reused refresh token or code, the
 * client's RFC 7009 revocation) leave the user's consent alone: the client lost its tokens, the user did not
 * change their mind. Of the consents given, those of the client or the grant that are not revoked are revoked.
 */
export function consentRevocationsFollowing(cause: Cause, consents: readonly Consent[]): RevokeConsent[] {
  if (cause.type === 'GrantRevoked') {
    const { reason, consentId } = cause.data;
    // Events written before GrantRevoked named its consent cannot say which one.
    if ((reason !== 'revoked_by_admin' && reason !== 'revoked_by_user') || consentId === undefined) return [];
    return consents.filter((c) => c.consentId === consentId && c.revokedAt === null).map((c) => ({ type: 'RevokeConsent', data: { consentId: c.consentId, reason } }));
  }
  return consents
    .filter((c) => c.clientId === cause.data.clientId && c.revokedAt === null)
    .map((c) => ({ type: 'RevokeConsent', data: { consentId: c.consentId, reason: 'client_deleted' } }));
}

/**
 * authorization-policies: records the ConsentRevoked that a client's deletion or an admin's revocation of a
 * grant implies, each exclusive on the consent's subject. A deletion revokes only consents given before it,
 * never those of the client registered again afterwards.
 */
export function authorizationPolicy(deps: { store: EventStore; projector: Projector; consents: ConsentsReadModel }): Policy {
  return {
    name: AUTHORIZATION_POLICIES,
    reactsTo: ['ClientDeleted', 'ClientExpired', 'GrantRevoked'],
    async react(event: RecordedEvent) {
      const cause = event as RecordedEvent<Cause>;
      const candidates =
        cause.type === 'GrantRevoked'
          ? [cause.data.consentId === undefined ? null : deps.consents.find(cause.data.consentId)].filter((c): c is Consent => c !== null)
          : deps.consents.unrevokedOfClientBefore(cause.data.clientId, cause.position);
      const context = { actor: { kind: 'system' as const, id: AUTHORIZATION_POLICIES }, ...(cause.metadata.requestId ? { requestId: cause.metadata.requestId } : {}) };
      for (const command of consentRevocationsFollowing(cause, candidates)) {
        const { consentId } = command.data;
        await executeCommand(deps, { subject: subjects.consent(consentId), load: () => ({ consent: deps.consents.find(consentId) }), decide: (state) => decideConsent(command, state) }, context);
      }
    },
  };
}
