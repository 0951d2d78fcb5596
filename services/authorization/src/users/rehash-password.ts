import { subjects, type EventContext } from '@mcp-auth/contracts';
import { ConcurrencyConflict, type EventStore } from '@mcp-auth/event-store';
import type { Logger } from '@mcp-auth/http';
import { decide } from './decider.ts';
import { hashPassword } from './passwords.ts';

/**
 * Replaces a user's weaker password hash with one made with today's parameters, right after the password
 * proved right. Exclusive on the user's subject as read before the sign-in: if the user changed meanwhile
 * (another replica rehashed it), this one gives way, and the next sign-in looks again.
 */
export async function rehashPassword(store: EventStore, user: { userId: string; password: string; version: number }, context: EventContext, logger: Logger): Promise<void> {
  const events = decide({ type: 'RehashPassword', data: { userId: user.userId, passwordHash: await hashPassword(user.password) } }, { status: 'exists' });
  // Not executeCommand: exclusive on the version read before the password check, and a conflict is given way to, never retried.
  try {
    await store.appendDecided(events, context, { [subjects.user(user.userId)]: user.version });
  } catch (err) {
    if (!(err instanceof ConcurrencyConflict)) throw err;
    logger.info({ userId: user.userId }, 'password hash already replaced on another replica');
  }
}
