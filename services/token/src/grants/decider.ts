import type { DecidedEvent } from '@mcp-auth/contracts';
import type { Grant } from '@mcp-auth/projections';

export type RevokeGrant = {
  type: 'RevokeGrant';
  data: { grantId: string; reason: 'authorization_code_reuse' | 'revoked_by_client' | 'revoked_by_admin' };
};
export type RevokeAccessToken = { type: 'RevokeAccessToken'; data: { grantId: string; jti: string; expiresAt: number } };
export type GrantCommand = RevokeGrant | RevokeAccessToken;

/** Revocation is idempotent: a grant already revoked records nothing more; an access token is revoked by its jti. */
export function decide(command: GrantCommand, state: { grant: Grant | null; accessTokenRevoked?: boolean }): DecidedEvent[] {
  if (command.type === 'RevokeGrant') {
    if (!state.grant || state.grant.revokedAt !== null) return [];
    return [{ type: 'GrantRevoked', data: { grantId: command.data.grantId, reason: command.data.reason } }];
  }
  if (!state.grant || state.grant.revokedAt !== null || state.accessTokenRevoked) return [];
  return [{ type: 'TokenRevoked', data: command.data }];
}
