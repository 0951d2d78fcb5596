import type { DecidedEvent } from './catalogue.ts';

/**
 * A business rule: the events a command makes, given the state it is decided against, with no I/O and no clock,
 * so that a given(state).when(command).then(events) spec tests it alone. The state comes from the aggregate's
 * projection (the command path loads it), so a decider has no fold of its own that could drift from the
 * projection's rules: evolve is there only where production folds events with it, and initialState only where
 * production decides on a state it does not read.
 */
export type Decider<Command, State, Event = DecidedEvent> = {
  decide(command: Command, state: State): Event[];
  initialState?(): State;
  evolve?(state: State, event: Event): State;
};
