import type { EventStore } from '@mcp-auth/event-store';
import type { Projector } from './projector.ts';

/**
 * Ready when connected to NATS, the projection has caught up with the stream as it was at start, and a
 * consumer is following the stream: a replica whose projection does not follow would answer from a past in
 * which a revoked grant is still alive.
 */
export function readiness(store: EventStore, projector: Projector) {
  return () => {
    const stats = projector.stats();
    return {
      ready: store.connected && stats.caughtUp && stats.following,
      checks: { nats: store.connected ? 'connected' : 'disconnected', projection: stats },
    };
  };
}
