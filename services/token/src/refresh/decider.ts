import type { DecidedEvent, Decider } from '@mcp-auth/contracts';
import { InvalidGrant, InvalidScope, InvalidTarget, sameResource } from '@mcp-auth/oauth';
import { grantIsActive, type Grant } from '@mcp-auth/read-models';
import type { RefreshFamily, RefreshToken } from './projection.ts';

export type RefreshPolicy = { graceMs: number; maxGraceRetries: number };

export type RefreshGrant = {
  type: 'RefreshGrant';
  data: {
    clientId: string;
    presentedHash: string;
    /** Scopes asked for: null means all the grant has (RFC 6749 §6). */
    requestedScopes: string[] | null;
    resource: string | undefined;
    newRefreshTokenHash: string;
    accessTokenJti: string;
    accessTokenExpiresAt: number;
    nowMs: number;
    policy: RefreshPolicy;
  };
};

export type RefreshState = { token: RefreshToken | null; grant: Grant | null; family: RefreshFamily | null };

/** The request was well-formed but the token is dead; what the decision recorded (if anything) is in the events. */
export const REVOKED_FOR_REUSE = 'The refresh token was already used; the grant is revoked.';

/**
 * Refresh-token rotation (RFC 9700 §4.14.2): the current token buys a new one and spends its generation.
 * A spent token is reuse, which revokes the whole grant, unless it comes from the same client within the
 * grace window right after its own rotation (agents do refresh twice in parallel): then it gets a sibling
 * in the current generation, at most maxGraceRetries times per generation.
 */
export function decide(command: RefreshGrant, state: RefreshState): DecidedEvent[] {
  const d = command.data;
  const { token, grant, family } = state;
  if (!token || !grant || !family) throw new InvalidGrant('The refresh token is invalid.');
  if (grant.clientId !== d.clientId) throw new InvalidGrant('The refresh token was issued to another client.');
  if (!grantIsActive(grant, Math.floor(d.nowMs / 1000))) {
    throw new InvalidGrant(grant.expiresAt * 1000 <= d.nowMs ? 'The grant has expired; authorize again.' : 'The grant was revoked.');
  }

  const scopes = d.requestedScopes ?? grant.scopes;
  const wider = scopes.filter((s) => !grant.scopes.includes(s));
  if (wider.length > 0) throw new InvalidScope(`Scopes beyond the grant: ${wider.join(' ')}`);
  if (scopes.length === 0) throw new InvalidScope('At least one scope is needed.');
  if (d.resource !== undefined && !sameResource(d.resource, grant.resource)) throw new InvalidTarget('The resource is not the one of this grant.');

  const rotated = (graceRetry: boolean): DecidedEvent => ({
    type: 'RefreshTokenRotated',
    data: {
      grantId: grant.grantId,
      clientId: d.clientId,
      spentRefreshTokenHash: d.presentedHash,
      refreshTokenHash: d.newRefreshTokenHash,
      scopes,
      accessTokenJti: d.accessTokenJti,
      accessTokenExpiresAt: d.accessTokenExpiresAt,
      graceRetry,
    },
  });

  if (token.spentAtMs === null) return [rotated(false)];

  const justRotated = d.policy.graceMs > 0 && token.generation === family.generation - 1 && d.nowMs - token.spentAtMs <= d.policy.graceMs;
  if (justRotated) {
    if (family.graceRetries < d.policy.maxGraceRetries) return [rotated(true)];
    throw new InvalidGrant('The refresh token was just used; use the newest one.');
  }
  return [
    { type: 'RefreshTokenReuseDetected', data: { grantId: grant.grantId, clientId: d.clientId, refreshTokenHash: d.presentedHash } },
    { type: 'GrantRevoked', data: { grantId: grant.grantId, reason: 'refresh_token_reuse', consentId: grant.consentId } },
  ];
}

export const refreshDecider = { decide } satisfies Decider<RefreshGrant, RefreshState>;
