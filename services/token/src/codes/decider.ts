import type { DecidedEvent, Decider } from '@mcp-auth/contracts';
import { InvalidGrant, InvalidTarget, sameResource, verifyS256 } from '@mcp-auth/oauth';
import type { AuthorizationCode } from './projection.ts';

/** The tokens a successful redemption will carry, generated at the edge so the decision stays pure. */
export type IssuedGrant = {
  grantId: string;
  refreshTokenHash: string;
  accessTokenJti: string;
  accessTokenExpiresAt: number;
  grantExpiresAt: number;
};

export type RedeemCode = {
  type: 'RedeemCode';
  data: {
    clientId: string;
    redirectUri: string | undefined;
    codeVerifier: string | undefined;
    resource: string | undefined;
    nowSeconds: number;
    issue: IssuedGrant;
  };
};

export type CodeState = {
  code: AuthorizationCode | null;
  /** The consent the code was issued under is still in force. */
  consentActive: boolean;
};

/** A second redemption: RFC 6749 §4.1.2 says deny it and revoke what the first one obtained. */
export class CodeAlreadyRedeemed extends InvalidGrant {
  constructor(readonly grantId: string) {
    super('The authorization code has already been used.');
  }
}

/**
 * The rules of RFC 6749 §4.1.3 and RFC 7636 §4.6: the code exists, is unspent and unexpired, was issued to
 * this client for this redirect_uri, the verifier matches the S256 challenge, and resource (RFC 8707) is
 * the one authorized. Every failure is invalid_grant (invalid_target for a foreign resource).
 */
export function decide(command: RedeemCode, state: CodeState): DecidedEvent[] {
  const d = command.data;
  const code = state.code;
  if (!code) throw new InvalidGrant('The authorization code is invalid.');
  // Before the reuse check: revoke-on-reuse (RFC 6749 §4.1.2, OAuth 2.1 §4.1.3) is for the client the code was
  // issued to. Another client holding the spent code (leaked from a redirect or a log) must not end that grant.
  if (code.clientId !== d.clientId) throw new InvalidGrant('The authorization code was issued to another client.');
  if (code.redeemedGrantId) throw new CodeAlreadyRedeemed(code.redeemedGrantId);
  if (code.expiresAt <= d.nowSeconds) throw new InvalidGrant('The authorization code has expired.');
  if (d.redirectUri === undefined || d.redirectUri !== code.redirectUri) throw new InvalidGrant('redirect_uri does not match the authorization request.');
  if (!d.codeVerifier || !verifyS256(d.codeVerifier, code.codeChallenge)) throw new InvalidGrant('The code_verifier does not match the code_challenge.');
  if (d.resource !== undefined && !sameResource(d.resource, code.resource)) throw new InvalidTarget('The resource differs from the one authorized.');
  if (!state.consentActive) throw new InvalidGrant('The user revoked this authorization.');
  return [
    {
      type: 'AuthorizationCodeRedeemed',
      data: {
        codeHash: code.codeHash,
        grantId: d.issue.grantId,
        clientId: code.clientId,
        userId: code.userId,
        resource: code.resource,
        scopes: code.scopes,
        consentId: code.consentId,
        refreshTokenHash: d.issue.refreshTokenHash,
        accessTokenJti: d.issue.accessTokenJti,
        accessTokenExpiresAt: d.issue.accessTokenExpiresAt,
        grantExpiresAt: d.issue.grantExpiresAt,
      },
    },
  ];
}

export const codeDecider = { decide } satisfies Decider<RedeemCode, CodeState>;
