import { commandSubjects, subjects, type EventContext } from '@mcp-auth/contracts';
import { catchUpWithSubject } from '@mcp-auth/event-sourcing';
import { nowSeconds } from '../api/query.ts';
import type { AdminDeps } from '../deps.ts';
import { NotFoundByOwner, sendToOwner } from '../owning-services.ts';
import { decideExpiry } from './decider.ts';

const ALL_GRANTS = 100_000;

export class ClientNotFound extends Error {
  constructor(readonly clientId: string) {
    super(`client ${clientId} does not exist`);
  }
}

/**
 * Why a document client cannot be deleted or expired: it has no registration, it exists wherever its document is
 * served, and it comes back with its next authorization request, so a deletion would end nothing.
 */
export const DOCUMENT_CLIENT_READ_ONLY =
  'This client is described by its metadata document (its client_id is the document URL) and is not registered here: there is no registration to delete or expire, and it would come back with its next authorization request. Revoke its grants instead.';

/**
 * An operator deletes a client: the registration service records ClientDeleted (shared clients too), and its
 * consents and grants end with it (the authorization and token services' policies record those). Answers once
 * this replica shows it deleted.
 */
export async function deleteClient(deps: Pick<AdminDeps, 'store' | 'projector'>, clientId: string, context: EventContext): Promise<void> {
  try {
    await sendToOwner(deps, commandSubjects.deleteClient, { clientId }, context);
  } catch (err) {
    if (err instanceof NotFoundByOwner) throw new ClientNotFound(clientId);
    throw err;
  }
}

/**
 * The reaper's expiry of one client, judged on this replica's projection made current with the client's subject,
 * and recorded by the registration service only if the subject is still at that version (a registration or an
 * update meanwhile makes it a conflict, and it is dropped). Whether the client was expired.
 */
export async function expireIdleClient(
  deps: Pick<AdminDeps, 'store' | 'projector' | 'clientUsage' | 'grantList'>,
  clientId: string,
  { now, idleDays }: { now: Date; idleDays: number },
  context: EventContext,
): Promise<boolean> {
  const version = await catchUpWithSubject(deps.store, deps.projector, subjects.client(clientId));
  const at = nowSeconds();
  const client = deps.clientUsage.find(clientId, at);
  const liveGrantIds = deps.grantList.list({ clientId, liveOnly: true, nowSeconds: at, limit: ALL_GRANTS }).map((g) => g.grantId);
  const expiry = decideExpiry({ type: 'ExpireIdleClient', data: { clientId, now, idleDays } }, { client, liveGrantIds });
  if (!expiry) return false;
  try {
    return (await sendToOwner(deps, commandSubjects.expireClient, { ...expiry, expectedVersion: version }, context)) !== null;
  } catch (err) {
    if (err instanceof NotFoundByOwner) return false;
    throw err;
  }
}
