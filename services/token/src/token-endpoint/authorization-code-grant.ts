import { subjects, type EventContext } from '@mcp-auth/contracts';
import { ConcurrencyConflict } from '@mcp-auth/event-store';
import { InvalidGrant, InvalidRequest, randomToken } from '@mcp-auth/oauth';
import type { RegisteredClient } from '@mcp-auth/projections';
import { catchUpWithSubject, executeCommand, type AggregateCommand } from '@mcp-auth/projector';
import { CodeAlreadyRedeemed, decide, type CodeState } from '../codes/decider.ts';
import type { TokenDeps } from '../deps.ts';
import { executeGrantRevocation } from '../grants/revoke-grant.ts';
import { resolveGrantCredential } from './credentials.ts';
import { newTokenMaterial, tokenResponse } from './issue-tokens.ts';

/**
 * grant_type=authorization_code. The redemption is published with optimistic concurrency on the code's
 * subject, so across any number of token replicas exactly one redemption wins; every other attempt is
 * invalid_grant, and one by the client the code was issued to revokes what the winner obtained (RFC 6749
 * §4.1.2, RFC 9700 §4.2.4). Another client presenting the code is refused and revokes nothing.
 */
export async function authorizationCodeGrant(deps: TokenDeps, client: RegisteredClient, form: Record<string, string>, actor: EventContext) {
  if (!form.code) throw new InvalidRequest('code is required.');
  const codeHash = await resolveGrantCredential(form.code, deps);
  const code = deps.codes.find(codeHash);
  const nowSeconds = Math.floor(Date.now() / 1000);
  const material = newTokenMaterial(deps.config, nowSeconds);
  const grantId = randomToken(16);
  const command = {
    type: 'RedeemCode' as const,
    data: {
      clientId: client.clientId,
      redirectUri: form.redirect_uri,
      codeVerifier: form.code_verifier,
      resource: form.resource,
      nowSeconds,
      issue: {
        grantId,
        refreshTokenHash: material.refreshTokenHash,
        accessTokenJti: material.accessTokenJti,
        accessTokenExpiresAt: material.accessTokenExpiresAt,
        grantExpiresAt: nowSeconds + Math.round(deps.config.GRANT_LIFETIME_DAYS * 86_400),
      },
    },
  };
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
    position = await executeCommand(deps, redemption, actor, { attempts: 1, answerWhen: 'recorded' });
  } catch (err) {
    if (err instanceof CodeAlreadyRedeemed) {
      await revokeGrant(deps, err.grantId, actor);
      throw err;
    }
    if (err instanceof ConcurrencyConflict) {
      // Another replica redeemed it between our read and our write: a second redemption all the same, and by the
      // client the code was issued to (the decider let only that one through), so the first one's grant is revoked.
      await catchUpWithSubject(deps.store, deps.projector, codeSubject);
      const winner = deps.codes.find(codeHash)?.redeemedGrantId;
      if (winner) await revokeGrant(deps, winner, actor);
      throw new InvalidGrant('The authorization code has already been used.');
    }
    throw err;
  }
  const issuesRefresh = client.metadata.grant_types.includes('refresh_token');
  return tokenResponse(deps, {
    userId: code!.userId,
    clientId: client.clientId,
    resource: code!.resource,
    scopes: code!.scopes,
    grantId,
    jti: material.accessTokenJti,
    issuedAt: nowSeconds,
    expiresAt: material.accessTokenExpiresAt,
    position: position!,
    // A client registered without the refresh_token grant gets none (its hash in the event matches nothing handed out).
    refreshSecret: issuesRefresh ? material.refreshSecret : null,
  });
}

function revokeGrant(deps: TokenDeps, grantId: string, actor: EventContext): Promise<number | null> {
  return executeGrantRevocation(deps, { type: 'RevokeGrant', data: { grantId, reason: 'authorization_code_reuse' } }, actor);
}
