import { subjects, type EventContext, type DecidedEvent } from '@mcp-auth/contracts';
import { ConcurrencyConflict } from '@mcp-auth/event-store';
import { InvalidGrant } from '@mcp-auth/oauth';
import type { Grant } from '@mcp-auth/read-models';
import { executeCommand, type AggregateCommand } from '@mcp-auth/event-sourcing';
import type { TokenDeps } from '../deps.ts';
import { REVOKED_FOR_REUSE, decide, type RefreshGrant, type RefreshState } from './decider.ts';

/**
 * Refresh-token rotation, with optimistic concurrency on the grant's subject: of parallel refreshes exactly one
 * rotates; the others re-read the family and are judged again (a grace sibling, or reuse). Each try decides
 * afresh with the command `newTry` makes for it (new token material, the time of that try); the answer is the
 * try that rotated, with its grant, the scopes rotated and the rotation's position once recorded.
 */
export async function executeRotation<Try extends { command: RefreshGrant }>(
  deps: TokenDeps,
  presentedHash: string,
  newTry: () => Try,
  context: EventContext,
): Promise<{ tried: Try; grant: Grant; scopes: string[]; position: number }> {
  let tried!: { attempt: Try; state: RefreshState; events: DecidedEvent[] };
  const refresh = (state: RefreshState): DecidedEvent[] => {
    const attempt = newTry();
    const events = decide(attempt.command, state);
    tried = { attempt, state, events };
    return events;
  };
  const token = deps.refreshTokens.token(presentedHash);
  // A token this replica does not know names no grant to read: the decider refuses it.
  if (!token) refresh({ token: null, grant: null, family: null });
  const { grantId } = token!;
  const rotation: AggregateCommand<RefreshState> = {
    subject: subjects.grant(grantId),
    // The family is current already (the token's position was waited for): a stale read is a conflict, then read again.
    projectedVersion: () => deps.refreshTokens.family(grantId)?.version ?? 0,
    load: () => ({ token: deps.refreshTokens.token(presentedHash), grant: deps.grants.find(grantId), family: deps.refreshTokens.family(grantId) }),
    decide: refresh,
  };
  let position: number | null;
  try {
    position = await executeCommand(deps, rotation, context, { attempts: deps.config.REFRESH_GRACE_MAX_RETRIES + 3, answerWhen: 'recorded' });
  } catch (err) {
    if (err instanceof ConcurrencyConflict) throw new InvalidGrant('The refresh token was just used; use the newest one.');
    throw err;
  }
  const { attempt, state, events } = tried;
  if (events.some((e) => e.type === 'GrantRevoked')) throw new InvalidGrant(REVOKED_FOR_REUSE);
  const rotated = events.find((e) => e.type === 'RefreshTokenRotated')!;
  return { tried: attempt, grant: state.grant!, scopes: rotated.data.scopes, position: position! };
}
