import { subjects, type EventOfType, type RecordedEvent } from '@mcp-auth/contracts';
import type { EventStore } from '@mcp-auth/event-store';
import type { Consent, ConsentsReadModel } from '@mcp-auth/read-models';
import type { Policy, Projector } from '@mcp-auth/event-sourcing';
import { executeConsentRevocation } from './revoke-consent.ts';
import type { RevokeConsent } from './decider.ts';

export const AUTHORIZATION_POLICIES = 'authorization-policies';

type Cause = EventOfType<'ClientDeleted' | 'ClientExpired'>;

/**
 * What ends a remembered consent besides the user and an admin: its client deleted or expired (client_deleted).
 * Of the consents given, those of the client that are not revoked are revoked; token-policies then records the
 * GrantRevoked of each grant made under them.
 */
export function consentRevocationsFollowing(cause: Cause, consents: readonly Consent[]): RevokeConsent[] {
  return consents
    .filter((c) => c.clientId === cause.data.clientId && c.revokedAt === null)
    .map((c) => ({ type: 'RevokeConsent', data: { consentId: c.consentId, reason: 'client_deleted' } }));
}

/**
 * authorization-policies: records the ConsentRevoked that a client's deletion implies, each exclusive on the
 * consent's subject. A deletion revokes only consents given before it, never those of the client registered
 * again afterwards. It follows one subject (events.registration.client.>), so every NATS version sends it
 * client events only.
 */
export function authorizationPolicy(deps: { store: EventStore; projector: Projector; consents: ConsentsReadModel }): Policy {
  return {
    name: AUTHORIZATION_POLICIES,
    reactsTo: ['ClientDeleted', 'ClientExpired'],
    async react(event: RecordedEvent) {
      const cause = event as RecordedEvent<Cause>;
      const candidates = deps.consents.unrevokedOfClientBefore(cause.data.clientId, cause.position);
      const context = { actor: { kind: 'system' as const, id: AUTHORIZATION_POLICIES }, ...(cause.metadata.requestId ? { requestId: cause.metadata.requestId } : {}) };
      for (const command of consentRevocationsFollowing(cause, candidates)) await executeConsentRevocation(deps, command, context);
    },
  };
}
