import type { DecidedEvent, Decider, GrantRevocationReason } from '@mcp-auth/contracts';
import type { Grant } from '@mcp-auth/read-models';

/**
 * Revokes a grant for a reason of the token service's own (RFC 7009, a code used twice) or of token-policies (the
 * consent it was made under ended: by the user, an admin, or its client's deletion).
 */
export type RevokeGrant = { type: 'RevokeGrant'; data: { grantId: string; reason: Exclude<GrantRevocationReason, 'refresh_token_reuse'> } };
export type RevokeAccessToken = { type: 'RevokeAccessToken'; data: { grantId: string; jti: string; expiresAt: number } };
export type GrantCommand = RevokeGrant | RevokeAccessToken;
export type GrantState = { grant: Grant | null; accessTokenRevoked?: boolean };

/**
 * Revocation is idempotent: a grant already revoked records nothing more; an access token is revoked by its jti.
 * GrantRevoked names the grant's consent, so that the authorization service can end the consent with it.
 */
export function decide(command: GrantCommand, state: GrantState): DecidedEvent[] {
  const { grant } = state;
  switch (command.type) {
    case 'RevokeGrant':
      if (!grant || grant.revokedAt !== null) return [];
      return [{ type: 'GrantRevoked', data: { grantId: command.data.grantId, reason: command.data.reason, consentId: grant.consentId } }];
    case 'RevokeAccessToken':
      if (!grant || grant.revokedAt !== null || state.accessTokenRevoked) return [];
      return [{ type: 'TokenRevoked', data: command.data }];
  }
}

export const grantDecider = { decide } satisfies Decider<GrantCommand, GrantState>;
