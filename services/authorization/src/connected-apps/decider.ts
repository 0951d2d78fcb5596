import type { ConsentRevocationReason, DecidedEvent, Decider } from '@mcp-auth/contracts';
import type { Consent } from '@mcp-auth/read-models';

/** The user revokes an app on /account. */
export type RevokeApp = { type: 'RevokeApp'; data: { userId: string; clientId: string } };
/** A consent ends by an admin's revocation (the admin service's command) or as its client's deletion's consequence (authorization-policies). */
export type RevokeConsent = { type: 'RevokeConsent'; data: { consentId: string; reason: ConsentRevocationReason } };

export class ConsentNotFound extends Error {
  constructor(readonly consentId: string) {
    super(`consent ${consentId} does not exist`);
  }
}

/** Revoking an app revokes every active consent the user gave it; the token service and MCP servers drop its grants. */
export function decide(command: RevokeApp, state: { activeConsents: Consent[] }): DecidedEvent[] {
  return state.activeConsents
    .filter((c) => c.userId === command.data.userId && c.clientId === command.data.clientId && c.revokedAt === null)
    .map((c) => consentRevoked(c, 'revoked_by_user'));
}

/** A consent revoked already (or never given) records nothing more: a command sent again, or a policy's reaction delivered twice, changes nothing. */
export function decideConsent(command: RevokeConsent, state: { consent: Consent | null }): DecidedEvent[] {
  const { consent } = state;
  if (!consent || consent.revokedAt !== null) return [];
  return [consentRevoked(consent, command.data.reason)];
}

/** The user's revocation carries no reason: that is what version 1 meant by one, and every reader understands it. */
function consentRevoked(consent: Consent, reason: ConsentRevocationReason): DecidedEvent {
  const { consentId, userId, clientId } = consent;
  return { type: 'ConsentRevoked', data: reason === 'revoked_by_user' ? { consentId, userId, clientId } : { consentId, userId, clientId, reason } };
}

export const revokeAppDecider = { decide } satisfies Decider<RevokeApp, { activeConsents: Consent[] }>;
export const revokeConsentDecider = { decide: decideConsent } satisfies Decider<RevokeConsent, { consent: Consent | null }>;
