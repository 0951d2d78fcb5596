import assert from 'node:assert/strict';

export type Decider<Command, State, Event> = {
  decide(command: Command, state: State): Event[];
  evolve(state: State, event: Event): State;
  initialState(): State;
};

/**
 * given(events).when(command).then(events) for a pure decider: the business rule is tested with no
 * NATS, no SQLite and no HTTP. `thenThrows` checks a refusal.
 */
export function deciderSpec<Command, State, Event>(decider: Decider<Command, State, Event>) {
  return {
    given(events: Event[]) {
      const state = events.reduce(decider.evolve, decider.initialState());
      return {
        when(command: Command) {
          const run = () => decider.decide(command, state);
          return {
            then(expected: Event[]) {
              assert.deepEqual(run(), expected);
            },
            thenThrows(expected: (new (...args: never[]) => Error) | RegExp) {
              assert.throws(run, expected as never);
            },
          };
        },
      };
    },
  };
}
