import { subjects, type EventContext } from '@mcp-auth/contracts';
import { ConcurrencyConflict } from '@mcp-auth/event-store';
import { InvalidGrant } from '@mcp-auth/oauth';
import { catchUpWithSubject, executeCommand, type AggregateCommand } from '@mcp-auth/event-sourcing';
import type { TokenDeps } from '../deps.ts';
import { executeGrantRevocation } from '../grants/revoke-grant.ts';
import { CodeAlreadyRedeemed, decide, type CodeState, type RedeemCode } from './decider.ts';
import type { AuthorizationCode } from './projection.ts';

/**
 * The redemption of a code, exclusive on the code's subject, so that across any number of token replicas
 * exactly one redemption wins; every other attempt is invalid_grant, and one by the client the code was issued
 * to revokes what the winner obtained (RFC 6749 §4.1.2, RFC 9700 §4.2.4). Another client presenting the code is
 * refused and revokes nothing. Answers the redeemed code and the redemption's position once recorded.
 */
export async function executeRedemption(deps: TokenDeps, codeHash: string, command: RedeemCode, context: EventContext): Promise<{ code: AuthorizationCode; position: number }> {
  const code = deps.codes.find(codeHash);
  const codeSubject = subjects.authorizationCode(codeHash);
  const redemption: AggregateCommand<CodeState> = {
    subject: codeSubject,
    // The code is current already (its position was waited for): exactly one redemption lands on its version.
    projectedVersion: () => code?.version ?? 0,
    load: () => ({ code, consentActive: code ? deps.consents.isActive(code.consentId) : false }),
    decide: (state) => decide(command, state),
  };
  let position: number | null;
  try {
    position = await executeCommand(deps, redemption, context, { attempts: 1, answerWhen: 'recorded' });
  } catch (err) {
    if (err instanceof CodeAlreadyRedeemed) {
      await revokeGrant(deps, err.grantId, context);
      throw err;
    }
    if (err instanceof ConcurrencyConflict) {
      // Another replica redeemed it between our read and our write: a second redemption all the same, and by the
      // client the code was issued to (the decider let only that one through), so the first one's grant is revoked.
      await catchUpWithSubject(deps.store, deps.projector, codeSubject);
      const winner = deps.codes.find(codeHash)?.redeemedGrantId;
      if (winner) await revokeGrant(deps, winner, context);
      throw new InvalidGrant('The authorization code has already been used.');
    }
    throw err;
  }
  // The decider records a redemption or refuses: a code that is missing never gets here.
  return { code: code!, position: position! };
}

function revokeGrant(deps: TokenDeps, grantId: string, context: EventContext): Promise<number | null> {
  return executeGrantRevocation(deps, { type: 'RevokeGrant', data: { grantId, reason: 'authorization_code_reuse' } }, context);
}
