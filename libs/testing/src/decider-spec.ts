import assert from 'node:assert/strict';
import type { Decider } from '@mcp-auth/contracts';

/**
 * given(state).when(command).then(events) for a pure decider: the business rule is tested with no NATS, no
 * SQLite and no HTTP. The state given is the one the aggregate's projection reads; `thenThrows` checks a refusal.
 */
export function deciderSpec<Command, State, Event>(decider: Decider<Command, State, Event>) {
  return {
    given(state: State) {
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
