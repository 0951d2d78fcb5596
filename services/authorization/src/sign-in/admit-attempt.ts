import { subjects, type EventContext } from '@mcp-auth/contracts';
import { ConcurrencyConflict, type EventStore } from '@mcp-auth/event-store';
import { catchUpWithSubject, type Projector } from '@mcp-auth/event-sourcing';
import type { UsersReadModel } from '../users/projection.ts';
import { decide, throttleVerdict, type AdmitSignIn, type SignInPolicy } from './decider.ts';

/**
 * Rounds of read, decide and conditional append one admission may take: each conflict means another guess for
 * the same account was admitted or refused meanwhile, so this many rounds outlast any sane limit's worth of them.
 */
const MAX_ADMISSION_ROUNDS = 30;

export type Admission = { admitted: true } | { admitted: false; retryAfterSeconds: number };

type AdmissionDeps = { store: EventStore; projector: Projector; users: UsersReadModel; policy: SignInPolicy };

/**
 * Admits one guess at an account's password, or refuses it unchecked: decided on what this replica's projection
 * knows of the account once it caught up with the account's sign-in subject, and appended only if nothing else
 * landed on that subject since (another guess, on any replica), else read and decided again. So however many
 * guesses arrive at once, no more than the limit are let through to the password check in a window.
 */
export async function admitAttempt({ store, projector, users, policy }: AdmissionDeps, attempt: Omit<AdmitSignIn['data'], 'nowMs'>, context: EventContext): Promise<Admission> {
  const subject = subjects.signIn(attempt.userId);
  for (let round = 1; round <= MAX_ADMISSION_ROUNDS; round++) {
    const version = await catchUpWithSubject(store, projector, subject);
    const state = users.signInState(attempt.userId, attempt.clientAddress ?? '');
    const nowMs = Date.now();
    const events = decide({ type: 'AdmitSignIn', data: { ...attempt, nowMs } }, state);
    const admitted = events[0]!.type === 'SignInAttemptAdmitted';
    // Only an admission needs the subject unchanged (and only while there is an account limit to keep): a refusal changes no count.
    const exclusive = admitted && policy.maxAccountFailures > 0;
    // Not executeCommand: whether the append is exclusive depends on the decision, and contention ends in a refusal, not an error.
    try {
      await store.appendDecided(events, context, exclusive ? { [subject]: version } : {});
    } catch (err) {
      if (err instanceof ConcurrencyConflict) continue;
      throw err;
    }
    if (admitted) return { admitted: true };
    const verdict = throttleVerdict(state, policy, nowMs);
    return { admitted: false, retryAfterSeconds: verdict.throttled ? verdict.retryAfterSeconds : 1 };
  }
  // Still contended after every round: that many guesses at once for one account is an attack; none is checked.
  return { admitted: false, retryAfterSeconds: 1 };
}
