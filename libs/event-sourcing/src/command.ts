import type { DecidedEvent, EventContext } from '@mcp-auth/contracts';
import { ConcurrencyConflict, type EventStore } from '@mcp-auth/event-store';
import type { Projector } from './projector.ts';
import { catchUpWithSubject, waitForPosition } from './read-your-writes.ts';

/** A command on one aggregate: where it lives, how its state is read, and the decision. */
export type AggregateCommand<State> = {
  /** The aggregate's subject: read from the stream first, and the append is exclusive on it. */
  subject: string;
  /** The aggregate's state in this replica's projection, once it has caught up with the subject (at `version`, 0: no events). */
  load(version: number): State;
  /**
   * The decider's answer; an error it throws is the command's refusal. It may wait (a rate limit that depends on
   * the state), and runs again on every try.
   */
  decide(state: State): DecidedEvent[] | Promise<DecidedEvent[]>;
  /**
   * The subject's version in this replica's projection, for a hot command that trusts it on the first try instead
   * of asking the stream: a stale read ends in a conflict, and the next try reads the stream.
   */
  projectedVersion?(): number;
};

export type CommandOptions = {
  /** Tries in all: a conflict (another writer on the subject) reads and decides again, up to this many times. */
  attempts?: number;
  /**
   * The subject sequence the command was decided against elsewhere (a reaper that judged a client idle at that
   * version), or 0 for a subject the command creates under a new id (not read first): any other version is a
   * conflict at once, never retried.
   */
  expectedVersion?: number;
  /** 'recorded': answer once the stream has the events, for an answer that is not read from this replica's projection. */
  answerWhen?: 'applied' | 'recorded';
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
  { attempts = 4, expectedVersion, answerWhen = 'applied' }: CommandOptions = {},
): Promise<number | null> {
  for (let attempt = 1; ; attempt++) {
    const version = await versionToDecideOn(deps, command, attempt, expectedVersion);
    if (expectedVersion !== undefined && version !== expectedVersion) throw new ConcurrencyConflict(command.subject, expectedVersion);
    const events = await command.decide(command.load(version));
    if (events.length === 0) return null;
    try {
      const position = await deps.store.appendDecided(events, context, { [command.subject]: version });
      if (position !== null && answerWhen === 'applied') await waitForPosition(deps.projector, position);
      return position;
    } catch (err) {
      if (err instanceof ConcurrencyConflict && expectedVersion === undefined && attempt < attempts) continue;
      throw err;
    }
  }
}

function versionToDecideOn(deps: { store: EventStore; projector: Projector }, command: AggregateCommand<unknown>, attempt: number, expectedVersion: number | undefined): number | Promise<number> {
  if (expectedVersion === 0) return 0;
  if (attempt === 1 && command.projectedVersion) return command.projectedVersion();
  return catchUpWithSubject(deps.store, deps.projector, command.subject);
}
