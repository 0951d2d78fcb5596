import { createHash } from 'node:crypto';
import type { DecidedEvent, Decider } from '@mcp-auth/contracts';
import type { Consent } from '@mcp-auth/read-models';
import type { AuthorizationRequest } from './authorization-request.ts';

export type ApproveAuthorization = {
  type: 'ApproveAuthorization';
  data: {
    request: AuthorizationRequest;
    userId: string;
    /** What the user left ticked on the consent page; null when answering from a remembered consent. */
    grantedScopes: string[] | null;
    newConsentId: string;
    codeHash: string;
    codeExpiresAt: number;
  };
};
export type DenyAuthorization = { type: 'DenyAuthorization'; data: { request: AuthorizationRequest; userId: string; denialId: string } };
export type AuthorizationCommand = ApproveAuthorization | DenyAuthorization;

/** The user's active consents to this client, whether remembering consent is on, and the resource's basic scopes. */
export type AuthorizationState = { consents: Consent[]; rememberConsent: boolean; defaultScopes: readonly string[] };

export class ConsentRequired extends Error {
  constructor() {
    super('the user must be asked');
  }
}

export class InvalidScopeSelection extends Error {}

/** Scopes the consent page does not let the user untick: those the resource needs for its basic function. */
export function requiredScopes(request: AuthorizationRequest, defaultScopes: readonly string[]): string[] {
  return request.scopes.filter((s) => defaultScopes.includes(s));
}

export function redirectUrisFingerprint(redirectUris: readonly string[]): string {
  return createHash('sha256').update(JSON.stringify([...redirectUris].sort())).digest('base64url');
}

/**
 * What a consent was given to, as a hash: a registered client's redirect URIs (it may change nothing else the user
 * judged it by without a new registration); a metadata document's redirect URIs, self-declared name and
 * authentication method, since its document can change under the same client_id (CIMD §8.4).
 */
export function consentFingerprint(client: AuthorizationRequest['client']): string {
  if (!client.document) return redirectUrisFingerprint(client.metadata.redirect_uris);
  const judged = { redirect_uris: [...client.metadata.redirect_uris].sort(), client_name: client.metadata.client_name ?? null, auth: client.document.tokenEndpointAuthMethod };
  return createHash('sha256').update(JSON.stringify(judged)).digest('base64url');
}

/**
 * A consent already given covers this request if it is for the same resource, includes every requested
 * scope, and the client has not changed since (consentFingerprint: a client that changed where codes go, or a
 * document that changed its name or authentication, must ask again).
 */
export function rememberedConsent(state: AuthorizationState, request: AuthorizationRequest): Consent | null {
  if (!state.rememberConsent || request.forceConsent) return null;
  const fingerprint = consentFingerprint(request.client);
  return (
    state.consents.find(
      (c) => c.resource === request.resource && c.redirectUrisFingerprint === fingerprint && request.scopes.every((s) => c.scopes.includes(s)),
    ) ?? null
  );
}

export function decide(command: AuthorizationCommand, state: AuthorizationState): DecidedEvent[] {
  const { request, userId } = command.data;
  if (command.type === 'DenyAuthorization') {
    return [
      {
        type: 'AuthorizationDenied',
        data: { denialId: command.data.denialId, clientId: request.client.clientId, userId, resource: request.resource, scopes: request.scopes },
      },
    ];
  }
  const d = command.data;
  const code = (consentId: string, scopes: string[]): DecidedEvent => ({
    type: 'AuthorizationCodeIssued',
    data: {
      codeHash: d.codeHash,
      clientId: request.client.clientId,
      userId,
      redirectUri: request.redirectUri,
      codeChallenge: request.codeChallenge,
      codeChallengeMethod: 'S256',
      resource: request.resource,
      scopes,
      consentId,
      expiresAt: d.codeExpiresAt,
    },
  });

  if (d.grantedScopes === null) {
    const remembered = rememberedConsent(state, request);
    if (!remembered) throw new ConsentRequired();
    return [code(remembered.consentId, request.scopes)];
  }

  const granted = request.scopes.filter((s) => d.grantedScopes!.includes(s));
  if (granted.length === 0) throw new InvalidScopeSelection('Allow at least one permission, or choose Deny.');
  const missing = requiredScopes(request, state.defaultScopes).filter((s) => !granted.includes(s));
  if (missing.length > 0) throw new InvalidScopeSelection(`${missing.join(', ')} cannot be left out.`);
  return [
    {
      type: 'ConsentGranted',
      data: {
        consentId: d.newConsentId,
        userId,
        clientId: request.client.clientId,
        resource: request.resource,
        scopes: granted,
        redirectUrisFingerprint: consentFingerprint(request.client),
      },
    },
    code(d.newConsentId, granted),
  ];
}

export const authorizationDecider = { decide } satisfies Decider<AuthorizationCommand, AuthorizationState>;
