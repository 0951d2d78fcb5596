import type { EventStore } from '@mcp-auth/event-store';
import type { Projector } from './projector.ts';

/** Ready when connected to NATS and the projection has caught up with the stream as it was at start. */
export function readiness(store: EventStore, projector: Projector) {
  return () => {
    const stats = projector.stats();
    return {
      ready: store.connected && stats.caughtUp,
      checks: { nats: store.connected ? 'connected' : 'disconnected', projection: stats },
    };
  };
}
