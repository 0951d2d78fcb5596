import type { DecidedEvent } from '@mcp-auth/contracts';

/** Sign out of the console: the session ends for every replica, whoever presents its cookie afterwards. */
export type EndConsoleSession = { type: 'EndConsoleSession'; data: { sessionHash: string; expiresAt: number } };
export type ConsoleSessionState = { ended: boolean };

export const initialState = (): ConsoleSessionState => ({ ended: false });

export function decide(command: EndConsoleSession, state: ConsoleSessionState): DecidedEvent[] {
  return state.ended ? [] : [{ type: 'AdminSessionEnded', data: command.data }];
}

export function evolve(state: ConsoleSessionState, event: DecidedEvent): ConsoleSessionState {
  return event.type === 'AdminSessionEnded' ? { ended: true } : state;
}
