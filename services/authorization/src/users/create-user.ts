import { subjects, type Actor } from '@mcp-auth/contracts';
import { ConcurrencyConflict, type EventStore } from '@mcp-auth/event-store';
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH, hashPassword } from './passwords.ts';
import { decide } from './decider.ts';
import { isValidUsername, normaliseUsername, userIdFor } from './usernames.ts';

export class InvalidUser extends Error {}

/** Creates a user unless one with that name exists. Exclusive on the user's subject, so replicas seeding at once create it once. */
export async function createUser(store: EventStore, username: string, password: string, actor: Actor): Promise<'created' | 'exists'> {
  if (!isValidUsername(username)) throw new InvalidUser(`"${username.slice(0, 64)}" is not a valid username: 1-64 of letters, digits and . _ @ + -`);
  if (password.length < PASSWORD_MIN_LENGTH || password.length > PASSWORD_MAX_LENGTH) {
    throw new InvalidUser(`the password must have ${PASSWORD_MIN_LENGTH} to ${PASSWORD_MAX_LENGTH} characters`);
  }
  // No sign-in form can send a line break or another control character: such a password (two lines piped
  // into the users CLI, say) would create an account nobody can sign in to.
  if (/[\u0000-\u001f\u007f]/.test(password)) throw new InvalidUser('the password must be one line of printable characters');
  const userId = userIdFor(username);
  const subject = subjects.user(userId);
  // Not executeCommand: the users CLI creates users with no projection; the stream alone says whether the name is taken.
  if (await store.last(subject)) return 'exists';
  const events = decide({ type: 'CreateUser', data: { userId, username: normaliseUsername(username), passwordHash: await hashPassword(password) } }, { status: 'none' });
  try {
    await store.appendDecided(events, { actor }, { [subject]: 0 });
    return 'created';
  } catch (err) {
    if (err instanceof ConcurrencyConflict) return 'exists';
    throw err;
  }
}

/** SEED_USERS="alice:password,bob:password" (a password may contain ':' but not ','). */
export function parseSeedUsers(value: string | undefined): Array<{ username: string; password: string }> {
  if (!value) return [];
  return value
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean)
    .map((entry) => {
      const colon = entry.indexOf(':');
      if (colon <= 0) throw new InvalidUser(`SEED_USERS entry "${entry.split(':')[0]}" needs the form name:password`);
      return { username: entry.slice(0, colon), password: entry.slice(colon + 1) };
    });
}
