import type { DecidedEvent, GrantRevocationReason } from '@mcp-auth/contracts';
import { grantIsActive, type Grant } from '@mcp-auth/projections';

/** Revokes a grant for a reason of the token service's own (RFC 7009, a code used twice) or of a policy. */
export type RevokeGrant = { type: 'RevokeGrant'; data: { grantId: string; reason: Exclude<GrantRevocationReason, 'refresh_token_reuse'> } };
/** An admin revokes a grant (the admin service's command). */
export type RevokeGrantByAdmin = { type: 'RevokeGrantByAdmin'; data: { grantId: string; nowSeconds: number } };
export type RevokeAccessToken = { type: 'RevokeAccessToken'; data: { grantId: string; jti: string; expiresAt: number } };
export type GrantCommand = RevokeGrant | RevokeGrantByAdmin | RevokeAccessToken;

export class GrantNotFound extends Error {
  constructor(readonly grantId: string) {
    super(`grant ${grantId} does not exist`);
  }
}

/**
 * Revocation is idempotent: a grant already revoked records nothing more; an access token is revoked by its jti.
 * GrantRevoked names the grant's consent, so that the authorization service can end the consent with it.
 */
export function decide(command: GrantCommand, state: { grant: Grant | null; accessTokenRevoked?: boolean }): DecidedEvent[] {
  const { grant } = state;
  switch (command.type) {
    case 'RevokeGrant':
      if (!grant || grant.revokedAt !== null) return [];
      return [{ type: 'GrantRevoked', data: { grantId: command.data.grantId, reason: command.data.reason, consentId: grant.consentId } }];
    case 'RevokeGrantByAdmin':
      if (!grant) throw new GrantNotFound(command.data.grantId);
      // Already dead (revoked, expired, its consent or its client gone): nothing to record, like RFC 7009.
      if (!grantIsActive(grant, command.data.nowSeconds)) return [];
      return [{ type: 'GrantRevoked', data: { grantId: command.data.grantId, reason: 'revoked_by_admin', consentId: grant.consentId } }];
    case 'RevokeAccessToken':
      if (!grant || grant.revokedAt !== null || state.accessTokenRevoked) return [];
      return [{ type: 'TokenRevoked', data: command.data }];
  }
}
