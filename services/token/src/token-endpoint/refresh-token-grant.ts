import { subjects, type EventContext, type DecidedEvent } from '@mcp-auth/contracts';
import { ConcurrencyConflict } from '@mcp-auth/event-store';
import { InvalidGrant, InvalidRequest, InvalidScope, parseScope } from '@mcp-auth/oauth';
import type { RegisteredClient } from '@mcp-auth/projections';
import { executeCommand, type AggregateCommand } from '@mcp-auth/projector';
import type { TokenDeps } from '../deps.ts';
import { REVOKED_FOR_REUSE, decide, type RefreshGrant, type RefreshState } from '../refresh/decider.ts';
import { resolveGrantCredential } from './credentials.ts';
import { newTokenMaterial, tokenResponse } from './issue-tokens.ts';

/**
 * grant_type=refresh_token. Rotation is published with optimistic concurrency on the grant's subject:
 * of parallel refreshes exactly one rotates; the others re-read the family and are judged again (a grace
 * sibling, or reuse).
 */
export async function refreshTokenGrant(deps: TokenDeps, client: RegisteredClient, form: Record<string, string>, actor: EventContext) {
  if (!form.refresh_token) throw new InvalidRequest('refresh_token is required.');
  const requestedScopes = form.scope === undefined ? null : parseScope(form.scope);
  if (requestedScopes === null && form.scope !== undefined) throw new InvalidScope('scope is malformed.');
  const presentedHash = await resolveGrantCredential(form.refresh_token, deps);
  const maxAttempts = deps.config.REFRESH_GRACE_MAX_RETRIES + 3;

  // Each try decides afresh, with new token material and the time of that try.
  let tried!: { material: ReturnType<typeof newTokenMaterial>; nowSeconds: number; state: RefreshState; events: DecidedEvent[] };
  const refresh = (state: RefreshState): DecidedEvent[] => {
    const nowMs = Date.now();
    const nowSeconds = Math.floor(nowMs / 1000);
    const material = newTokenMaterial(deps.config, nowSeconds);
    const command: RefreshGrant = {
      type: 'RefreshGrant',
      data: {
        clientId: client.clientId,
        presentedHash,
        requestedScopes,
        resource: form.resource,
        newRefreshTokenHash: material.refreshTokenHash,
        accessTokenJti: material.accessTokenJti,
        accessTokenExpiresAt: material.accessTokenExpiresAt,
        nowMs,
        policy: { graceMs: deps.config.REFRESH_GRACE_SECONDS * 1000, maxGraceRetries: deps.config.REFRESH_GRACE_MAX_RETRIES },
      },
    };
    const events = decide(command, state);
    tried = { material, nowSeconds, state, events };
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
    position = await executeCommand(deps, rotation, actor, { attempts: maxAttempts, answerWhen: 'recorded' });
  } catch (err) {
    if (err instanceof ConcurrencyConflict) throw new InvalidGrant('The refresh token was just used; use the newest one.');
    throw err;
  }
  const { material, nowSeconds, state, events } = tried;
  const grant = state.grant!;
  if (events.some((e) => e.type === 'GrantRevoked')) throw new InvalidGrant(REVOKED_FOR_REUSE);
  const rotated = events.find((e) => e.type === 'RefreshTokenRotated')!;
  return tokenResponse(deps, {
    userId: grant.userId,
    clientId: client.clientId,
    resource: grant.resource,
    scopes: rotated.data.scopes,
    grantId: grant.grantId,
    jti: material.accessTokenJti,
    issuedAt: nowSeconds,
    expiresAt: material.accessTokenExpiresAt,
    position: position!,
    refreshSecret: material.refreshSecret,
  });
}
