import type { DecidedEvent } from '@mcp-auth/contracts';

export type SignInPolicy = {
  maxAccountFailures: number;
  maxAddressFailures: number;
  windowMs: number;
  sessionTtlSeconds: number;
};

export type SignIn = {
  type: 'SignIn';
  data: {
    username: string;
    userId: string;
    userExists: boolean;
    /** Checked at the edge (scrypt is I/O); false for a user that does not exist. */
    passwordValid: boolean;
    clientAddress: string | null;
    sessionHash: string;
    nowMs: number;
    policy: SignInPolicy;
  };
};
export type SignOut = { type: 'SignOut'; data: { userId: string; sessionHash: string } };
export type SignInCommand = SignIn | SignOut;

/**
 * Recent bad-credential failures (ms timestamps) for the account and for the client address: the users
 * projection folds them from UserSignInFailed and UserSignedIn, with the events' own times.
 */
export type SignInState = { accountFailures: number[]; addressFailures: number[] };

export type ThrottleVerdict = { throttled: false } | { throttled: true; retryAfterSeconds: number };

export const initialState = (): SignInState => ({ accountFailures: [], addressFailures: [] });

/**
 * Too many bad passwords within the window, for this account or from this address, and sign-in is refused
 * until the oldest of them leaves the window. Attempts while throttled do not extend it.
 */
export function throttleVerdict(state: SignInState, policy: SignInPolicy, nowMs: number): ThrottleVerdict {
  let retryAfterMs = 0;
  for (const [failures, max] of [
    [state.accountFailures, policy.maxAccountFailures],
    [state.addressFailures, policy.maxAddressFailures],
  ] as const) {
    if (max <= 0) continue;
    const recent = failures.filter((t) => nowMs - t < policy.windowMs);
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
    data: { username: d.username, userId: d.userId, userExists: d.userExists, clientAddress: d.clientAddress, reason },
  });
  if (throttleVerdict(state, d.policy, d.nowMs).throttled) return [failed('throttled')];
  if (!d.userExists || !d.passwordValid) return [failed('bad_credentials')];
  return [
    {
      type: 'UserSignedIn',
      data: { userId: d.userId, sessionHash: d.sessionHash, expiresAt: Math.floor(d.nowMs / 1000) + d.policy.sessionTtlSeconds },
    },
  ];
}
