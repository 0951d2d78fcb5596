import type { DecidedEvent, Decider, EventOfType } from '@mcp-auth/contracts';

export type SignInPolicy = {
  maxAccountFailures: number;
  maxAddressFailures: number;
  windowMs: number;
  sessionTtlSeconds: number;
};

type Attempt = {
  attemptId: string;
  username: string;
  userId: string;
  userExists: boolean;
  clientAddress: string | null;
  nowMs: number;
  policy: SignInPolicy;
};

/** Let one guess through to the password check, or refuse it unchecked. Decided on the account's sign-in subject, exclusively. */
export type AdmitSignIn = { type: 'AdmitSignIn'; data: Attempt };
/** The outcome of an admitted guess, once its password was compared. */
export type CompleteSignIn = {
  type: 'CompleteSignIn';
  data: Attempt & {
    /** Checked at the edge (scrypt is I/O); false for a user that does not exist. */
    passwordValid: boolean;
    sessionHash: string;
  };
};
export type SignOut = { type: 'SignOut'; data: { userId: string; sessionHash: string } };
export type SignInCommand = AdmitSignIn | CompleteSignIn | SignOut;

/**
 * A guess at one account's password that counts towards its limit: admitted and not yet resolved (its
 * password may be being compared right now, or its replica died mid-way), or resolved as bad credentials.
 * attemptId is null for a failure recorded without an admission.
 */
export type CountedGuess = { attemptId: string | null; atMs: number; pending: boolean };

/**
 * What the sign-in rules look at. accountGuesses folds the account's own sign-in subject (the exclusive part);
 * addressFailures are the recent bad-credential failures from the client address, on any account's subject,
 * folded by the users projection with the events' own times.
 */
export type SignInState = { accountGuesses: CountedGuess[]; addressFailures: number[] };

export type ThrottleVerdict = { throttled: false } | { throttled: true; retryAfterSeconds: number };

export const initialState = (): SignInState => ({ accountGuesses: [], addressFailures: [] });

/** Only the newest guesses are kept: a per-account limit above this counts as this. */
export const KEPT_GUESSES = 100;

type AccountEvent = DecidedEvent<EventOfType<'SignInAttemptAdmitted' | 'UserSignedIn' | 'UserSignInFailed'>>;

/**
 * The account's counted guesses after one event on its sign-in subject, at the event's time. An admission
 * counts at once; its failure only settles it. A successful sign-in ends its own attempt and clears the
 * failures before it, but not the guesses still being checked, which were let through under the old count.
 */
export function evolveAccount(guesses: readonly CountedGuess[], event: AccountEvent, atMs: number): CountedGuess[] {
  switch (event.type) {
    case 'SignInAttemptAdmitted':
      return [...guesses, { attemptId: event.data.attemptId, atMs, pending: true }].slice(-KEPT_GUESSES);
    case 'UserSignInFailed': {
      if (event.data.reason !== 'bad_credentials') return [...guesses];
      const attemptId = event.data.attemptId ?? null;
      if (attemptId !== null && guesses.some((g) => g.pending && g.attemptId === attemptId)) {
        return guesses.map((g) => (g.attemptId === attemptId ? { ...g, pending: false } : g));
      }
      return [...guesses, { attemptId, atMs, pending: false }].slice(-KEPT_GUESSES);
    }
    case 'UserSignedIn':
      return guesses.filter((g) => g.pending && g.attemptId !== event.data.attemptId);
  }
}

/**
 * Too many guesses within the window, for this account or from this address, and sign-in is refused until
 * the oldest of them leaves the window. Attempts refused while throttled do not extend it.
 */
export function throttleVerdict(state: SignInState, policy: SignInPolicy, nowMs: number): ThrottleVerdict {
  let retryAfterMs = 0;
  for (const [times, max] of [
    [state.accountGuesses.map((g) => g.atMs), Math.min(policy.maxAccountFailures, KEPT_GUESSES)],
    [state.addressFailures, policy.maxAddressFailures],
  ] as const) {
    if (max <= 0) continue;
    const recent = times.filter((t) => nowMs - t < policy.windowMs).sort((x, y) => x - y);
    if (recent.length >= max) {
      const oldestCounted = recent[recent.length - max]!;
      retryAfterMs = Math.max(retryAfterMs, oldestCounted + policy.windowMs - nowMs);
    }
  }
  return retryAfterMs > 0 ? { throttled: true, retryAfterSeconds: Math.ceil(retryAfterMs / 1000) } : { throttled: false };
}

export function decide(command: SignInCommand, state: SignInState): DecidedEvent[] {
  if (command.type === 'SignOut') return [{ type: 'UserSignedOut', data: command.data }];
  const d = command.data;
  const failed = (reason: 'bad_credentials' | 'throttled'): DecidedEvent => ({
    type: 'UserSignInFailed',
    data: { username: d.username, userId: d.userId, userExists: d.userExists, clientAddress: d.clientAddress, reason, ...(reason === 'bad_credentials' ? { attemptId: d.attemptId } : {}) },
  });
  if (command.type === 'AdmitSignIn') {
    // While throttled the password is not even compared.
    if (throttleVerdict(state, d.policy, d.nowMs).throttled) return [failed('throttled')];
    return [{ type: 'SignInAttemptAdmitted', data: { attemptId: d.attemptId, userId: d.userId, username: d.username, clientAddress: d.clientAddress } }];
  }
  if (!d.userExists || !command.data.passwordValid) return [failed('bad_credentials')];
  return [
    {
      type: 'UserSignedIn',
      data: { userId: d.userId, sessionHash: command.data.sessionHash, expiresAt: Math.floor(d.nowMs / 1000) + d.policy.sessionTtlSeconds, attemptId: d.attemptId },
    },
  ];
}

export const signInDecider = { decide, initialState } satisfies Decider<SignInCommand, SignInState>;
