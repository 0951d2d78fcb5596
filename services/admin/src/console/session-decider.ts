import type { DecidedEvent, Decider } from '@mcp-auth/contracts';

/** Sign out of the console: the session ends for every replica, whoever presents its cookie afterwards. */
export type EndConsoleSession = { type: 'EndConsoleSession'; data: { sessionHash: string; expiresAt: number } };
export type ConsoleSessionState = { ended: boolean };

export function decide(command: EndConsoleSession, state: ConsoleSessionState): DecidedEvent[] {
  return state.ended ? [] : [{ type: 'AdminSessionEnded', data: command.data }];
}

export const consoleSessionDecider = { decide } satisfies Decider<EndConsoleSession, ConsoleSessionState>;
