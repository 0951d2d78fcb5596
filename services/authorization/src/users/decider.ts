import type { DecidedEvent, Decider } from '@mcp-auth/contracts';

export type CreateUser = { type: 'CreateUser'; data: { userId: string; username: string; passwordHash: string } };
/** The same password, hashed again with today's parameters (the edge checked it and decided the stored hash is weaker). */
export type RehashPassword = { type: 'RehashPassword'; data: { userId: string; passwordHash: string } };
export type UserCommand = CreateUser | RehashPassword;
export type UserState = { status: 'none' } | { status: 'exists' };

export class UserAlreadyExists extends Error {
  constructor(readonly username: string) {
    super(`user ${username} already exists`);
  }
}

export function decide(command: UserCommand, state: UserState): DecidedEvent[] {
  switch (command.type) {
    case 'CreateUser':
      if (state.status === 'exists') throw new UserAlreadyExists(command.data.username);
      return [{ type: 'UserCreated', data: command.data }];
    case 'RehashPassword':
      return state.status === 'exists' ? [{ type: 'UserPasswordRehashed', data: command.data }] : [];
  }
}

export const userDecider = { decide } satisfies Decider<UserCommand, UserState>;
