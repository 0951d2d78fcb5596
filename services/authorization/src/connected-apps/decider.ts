import type { DecidedEvent } from '@mcp-auth/contracts';
import type { Consent } from '@mcp-auth/projections';

export type RevokeApp = { type: 'RevokeApp'; data: { userId: string; clientId: string } };

/** Revoking an app revokes every active consent the user gave it; the token service and MCP servers drop its grants. */
export function decide(command: RevokeApp, state: { activeConsents: Consent[] }): DecidedEvent[] {
  return state.activeConsents
    .filter((c) => c.userId === command.data.userId && c.clientId === command.data.clientId && c.revokedAt === null)
    .map((c) => ({ type: 'ConsentRevoked', data: { consentId: c.consentId, userId: c.userId, clientId: c.clientId } }));
}
