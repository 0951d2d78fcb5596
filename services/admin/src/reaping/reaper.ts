import type { AdminDeps } from '../deps.ts';
import { expireIdleClient } from '../clients/client-commands.ts';

const BATCH = 100;
const DAY_MS = 86_400_000;
const REAPER = { actor: { kind: 'system' as const, id: 'client-reaper' } };

/**
 * Expires clients that have had no live grant and no use for CLIENT_IDLE_DAYS, by asking the registration service
 * (which owns ClientExpired). Every replica looks; each expiry is exclusive on the client's subject, so when two
 * replicas race, or the client is registered again meanwhile, the loser's command is a conflict and is dropped.
 */
export async function reapIdleClients(deps: AdminDeps, now = new Date()): Promise<number> {
  const idleDays = deps.config.CLIENT_IDLE_DAYS;
  if (idleDays <= 0) return 0;
  const candidates = deps.clientUsage.idleSince(new Date(now.getTime() - idleDays * DAY_MS), Math.floor(now.getTime() / 1000), BATCH);
  let expired = 0;
  for (const client of candidates) {
    try {
      if (await expireIdleClient(deps, client.clientId, { now, idleDays }, REAPER)) expired++;
    } catch (err) {
      if ((err as Error).name !== 'ConcurrencyConflict') throw err;
    }
  }
  return expired;
}

export function startClientReaper(deps: AdminDeps): { stop(): void } {
  let running = false;
  const tick = async () => {
    if (running || !deps.projector.isCaughtUp()) return;
    running = true;
    try {
      const expired = await reapIdleClients(deps);
      if (expired > 0) deps.logger.info({ expired }, 'idle clients expired');
    } catch (err) {
      deps.logger.warn({ err: String(err) }, 'client reaping failed; will try again');
    } finally {
      running = false;
    }
  };
  const first = setTimeout(tick, 5_000);
  const timer = setInterval(tick, deps.config.CLIENT_REAP_INTERVAL_SECONDS * 1000);
  first.unref();
  timer.unref();
  return {
    stop() {
      clearTimeout(first);
      clearInterval(timer);
    },
  };
}
