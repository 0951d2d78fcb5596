import type { EventContext } from '@mcp-auth/contracts';
import { waitForPosition } from '@mcp-auth/projector';
import { nowSeconds } from '../api/query.ts';
import type { AdminDeps } from '../deps.ts';
import { decide } from './decider.ts';

/**
 * Revokes a grant as an admin and answers once this replica has applied it. The MCP servers refuse the
 * grant's tokens as soon as their own projections apply the same event.
 */
export async function revokeGrant(deps: Pick<AdminDeps, 'store' | 'projector' | 'grants'>, grantId: string, context: EventContext): Promise<'revoked' | 'already_inactive'> {
  const events = decide({ type: 'RevokeGrantByAdmin', data: { grantId, nowSeconds: nowSeconds() } }, { grant: deps.grants.find(grantId) });
  if (events.length === 0) return 'already_inactive';
  const position = await deps.store.appendDecided(events, context);
  if (position !== null) await waitForPosition(deps.projector, position);
  return 'revoked';
}
