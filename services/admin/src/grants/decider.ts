import type { DecidedEvent } from '@mcp-auth/contracts';
import { grantIsActive, type Grant } from '@mcp-auth/projections';

export type RevokeGrantByAdmin = { type: 'RevokeGrantByAdmin'; data: { grantId: string; nowSeconds: number } };

export class GrantNotFound extends Error {
  constructor(readonly grantId: string) {
    super(`grant ${grantId} does not exist`);
  }
}

/** An admin revokes a grant; revoking one that is already dead records nothing (idempotent, like RFC 7009). */
export function decide(command: RevokeGrantByAdmin, state: { grant: Grant | null }): DecidedEvent[] {
  if (!state.grant) throw new GrantNotFound(command.data.grantId);
  if (!grantIsActive(state.grant, command.data.nowSeconds)) return [];
  return [{ type: 'GrantRevoked', data: { grantId: command.data.grantId, reason: 'revoked_by_admin' } }];
}
