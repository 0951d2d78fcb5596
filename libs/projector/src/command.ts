import type { DecidedEvent, EventContext } from '@mcp-auth/contracts';
import { ConcurrencyConflict, type EventStore } from '@mcp-auth/event-store';
import type { Projector } from './projector.ts';
import { catchUpWithSubject, waitForPosition } from './read-your-writes.ts';

/** A command on one aggregate: where it lives, how its state is read, and the decision. */
export type AggregateCommand<State> = {
  /** The aggregate's subject: read from the stream first, and the append is exclusive on it. */
  subject: string;
  /** The aggregate's state in this replica's projection, once it has caught up with the subject. */
  load(): State;
  /** The decider's answer; an error it throws is the command's refusal. */
  decide(state: State): DecidedEvent[];
};

export type CommandOptions = {
  /** Tries in all: a conflict (another writer on the subject) reads and decides again, up to this many times. */
  attempts?: number;
  /**
   * The subject sequence the command was decided against elsewhere (a reaper that judged a client idle at that
   * version): any other version is a conflict at once, never retried.
   */
  expectedVersion?: number;
};

/**
 * The command path: an authoritative read of the aggregate (its subject's last sequence, asked of the stream,
 * and this replica's projection caught up to it), the decision, an append exclusive on that sequence, a new
 * read and decision on a conflict, and an answer only once this replica has applied what was recorded. Returns
 * the position of the last event recorded, or null when the decider recorded nothing.
 */
export async function executeCommand<State>(
  deps: { store: EventStore; projector: Projector },
  command: AggregateCommand<State>,
  context: EventContext,
  { attempts = 4, expectedVersion }: CommandOptions = {},
): Promise<number | null> {
  for (let attempt = 1; ; attempt++) {
    const version = await catchUpWithSubject(deps.store, deps.projector, command.subject);
    if (expectedVersion !== undefined && version !== expectedVersion) throw new ConcurrencyConflict(command.subject, expectedVersion);
    const events = command.decide(command.load());
    if (events.length === 0) return null;
    try {
      const position = await deps.store.appendDecided(events, context, { [command.subject]: version });
      if (position !== null) await waitForPosition(deps.projector, position);
      return position;
    } catch (err) {
      if (err instanceof ConcurrencyConflict && expectedVersion === undefined && attempt < attempts) continue;
      throw err;
    }
  }
}
