import { subjects, type EventContext } from '@mcp-auth/contracts';
import { catchUpWithSubject, waitForPosition } from '@mcp-auth/projector';
import { nowSeconds } from '../api/query.ts';
import type { AdminDeps } from '../deps.ts';
import { decide, type AdminClientCommand } from './decider.ts';

const ALL_GRANTS = 100_000;

/**
 * Decides and appends a command on a client, exclusive on its subject: the client read is made current with
 * the stream first, so a registration, update or deletion landing meanwhile makes this one a conflict.
 */
export async function executeClientCommand(
  deps: Pick<AdminDeps, 'store' | 'projector' | 'clientUsage' | 'grantList'>,
  command: AdminClientCommand,
  context: EventContext,
): Promise<number | null> {
  const { clientId } = command.data;
  const subject = subjects.client(clientId);
  const version = await catchUpWithSubject(deps.store, deps.projector, subject);
  const now = nowSeconds();
  const client = deps.clientUsage.find(clientId, now);
  const liveGrantIds = deps.grantList.list({ clientId, liveOnly: true, nowSeconds: now, limit: ALL_GRANTS }).map((g) => g.grantId);
  const events = decide(command, { client, liveGrantIds });
  if (events.length === 0) return null;
  const position = await deps.store.appendDecided(events, context, { [subject]: version });
  if (position !== null) await waitForPosition(deps.projector, position);
  return position;
}
