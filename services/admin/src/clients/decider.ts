import type { ClientOverview } from './usage-projection.ts';

export type ExpireIdleClient = { type: 'ExpireIdleClient'; data: { clientId: string; now: Date; idleDays: number } };

export type AdminClientState = {
  client: ClientOverview | null;
  /** Grants of the client that are still honoured. */
  liveGrantIds: string[];
};

/** What the reaper asks the registration service to record (ClientExpired), which decides it on its own state. */
export type ExpiryRequest = { clientId: string; lastUsedAt: string; idleDays: number };

const DAY_MS = 86_400_000;

/**
 * Idle-client reaping: a client unused for idleDays, with no live grant, is expired. The judgement of idleness
 * is the admin service's, which alone sees every use; the expiry itself is the registration service's event.
 */
export function decideExpiry(command: ExpireIdleClient, state: AdminClientState): ExpiryRequest | null {
  const { client } = state;
  if (!client || client.status !== 'active' || command.data.idleDays <= 0) return null;
  // A client with a live grant is never reaped, however long since it was used.
  if (state.liveGrantIds.length > 0) return null;
  if (command.data.now.getTime() - Date.parse(client.lastUsedAt) < command.data.idleDays * DAY_MS) return null;
  return { clientId: client.clientId, lastUsedAt: client.lastUsedAt, idleDays: command.data.idleDays };
}
