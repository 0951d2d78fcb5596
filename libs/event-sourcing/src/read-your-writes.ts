import { EventStoreUnavailable, type EventStore } from '@mcp-auth/event-store';
import type { Projector } from './projector.ts';

/** How long a request may wait for its replica's projection before answering 503. */
export const DEFAULT_CATCH_UP_MS = 3_000;

/**
 * Authoritative read of one aggregate: asks the stream for the newest event on its subject, then waits
 * until this replica's projection has applied it. Returns that position (0 if the aggregate has no events),
 * which is also the expected sequence for the next exclusive write.
 */
export async function catchUpWithSubject(store: EventStore, projector: Projector, subject: string, timeoutMs = DEFAULT_CATCH_UP_MS): Promise<number> {
  const last = await store.last(subject);
  if (!last) return 0;
  await waitForPosition(projector, last.position, timeoutMs);
  return last.position;
}

/** Waits for the projection to reach a position or answers 503: never serve a read older than a write we know of. */
export async function waitForPosition(projector: Projector, position: number, timeoutMs = DEFAULT_CATCH_UP_MS): Promise<void> {
  if (!(await projector.waitFor(position, timeoutMs))) {
    throw new EventStoreUnavailable(`projection did not reach position ${position} within ${timeoutMs} ms`);
  }
}

/**
 * Waits for the position a credential carries (a session cookie, a code, a refresh or access token):
 * 'applied' once this projection has it; 'made-up' at once for a position beyond the end of the stream,
 * instead of holding the request for the whole timeout (which would let anyone tie up connections for
 * free); 'behind' if the projection did not get there in time.
 */
export async function reachCredentialPosition(store: EventStore, projector: Projector, position: number, timeoutMs: number): Promise<'applied' | 'made-up' | 'behind'> {
  if (projector.hasApplied(position)) return 'applied';
  if (!(await streamHasReached(store, projector, position))) return 'made-up';
  return (await projector.waitFor(position, timeoutMs)) ? 'applied' : 'behind';
}

/** Whether this projection has (or reaches in time) the position a credential carries. */
export async function waitForCredentialPosition(store: EventStore, projector: Projector, position: number, timeoutMs: number): Promise<boolean> {
  return (await reachCredentialPosition(store, projector, position, timeoutMs)) === 'applied';
}

/**
 * Whether the stream has reached a position. Asks NATS only when neither this process's own appends nor its
 * consumer have shown that far already: a credential minted a moment ago here, or seen arriving, costs no round trip.
 */
async function streamHasReached(store: EventStore, projector: Projector, position: number): Promise<boolean> {
  if (position <= Math.max(store.highestKnownPosition, projector.streamHorizon)) return true;
  const { lastSequence } = await store.streamState();
  return position <= lastSequence;
}
