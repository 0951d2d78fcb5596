import type { DecidedEvent } from '@mcp-auth/contracts';

export type CreateUser = { type: 'CreateUser'; data: { userId: string; username: string; passwordHash: string } };
export type UserState = { status: 'none' } | { status: 'exists' };

export class UserAlreadyExists extends Error {
  constructor(readonly username: string) {
    super(`user ${username} already exists`);
  }
}

export const initialState = (): UserState => ({ status: 'none' });

export function decide(command: CreateUser, state: UserState): DecidedEvent[] {
  if (state.status === 'exists') throw new UserAlreadyExists(command.data.username);
  return [{ type: 'UserCreated', data: command.data }];
}

export function evolve(state: UserState, event: DecidedEvent): UserState {
  return event.type === 'UserCreated' ? { status: 'exists' } : state;
}
