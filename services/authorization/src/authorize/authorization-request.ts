import { isSubjectToken } from '@mcp-auth/contracts';
import { S256_CHALLENGE, canonicalResource, isToolScope, looksLikeClientIdUrl, parseScope, redirectUriMatches, type ScopeDefinition } from '@mcp-auth/oauth';
import type { DirectoryClient, RegisteredClient } from '@mcp-auth/read-models';

/** A registered client, or a metadata document's client (with what its document verified). */
export type RequestingClient = RegisteredClient & Partial<Pick<DirectoryClient, 'document'>>;

/** A request to /authorize that passed every check: what consent and the code are bound to. */
export type AuthorizationRequest = {
  client: RequestingClient;
  /** Exactly as the client sent it: the token request must repeat it byte for byte. */
  redirectUri: string;
  state: string | undefined;
  codeChallenge: string;
  /** The configured resource it names (RFC 8707), as this deployment spells it. */
  resource: string;
  scopes: string[];
  forceConsent: boolean;
};

export type RequestVerdict =
  /** The client or redirect URI cannot be trusted: show an error page and never redirect (RFC 6749 §4.1.2.1). */
  | { kind: 'error-page'; message: string }
  /** Everything else goes back to the client, with state and iss. */
  | { kind: 'redirect-error'; redirectUri: string; state: string | undefined; error: string; description: string }
  | { kind: 'valid'; request: AuthorizationRequest };

export type RequestPolicy = {
  client: RequestingClient | null;
  resources: readonly string[];
  scopes: readonly ScopeDefinition[];
  defaultScopes: readonly string[];
  /** Refuse unknown scopes (STRICT_SCOPES) rather than ignore them. */
  strictScopes?: boolean;
};

export const AUTHORIZATION_PARAMETERS = ['client_id', 'redirect_uri', 'response_type', 'state', 'code_challenge', 'code_challenge_method', 'scope', 'resource', 'prompt'] as const;

const MAX_STATE_LENGTH = 2048;

/** Validates /authorize parameters in the order RFC 6749 §4.1.2.1 requires: client and redirect URI first. */
export function validateAuthorizationRequest(params: URLSearchParams, policy: RequestPolicy): RequestVerdict {
  const clientIds = params.getAll('client_id');
  if (clientIds.length !== 1 || !(isSubjectToken(clientIds[0]!) || looksLikeClientIdUrl(clientIds[0]!))) {
    return { kind: 'error-page', message: 'The request has no valid client_id.' };
  }
  const client = policy.client;
  if (!client || client.status !== 'active') {
    return { kind: 'error-page', message: 'The application that sent you here is not registered with this server.' };
  }

  const redirectUris = params.getAll('redirect_uri');
  if (redirectUris.length > 1) return { kind: 'error-page', message: 'The request has more than one redirect_uri.' };
  const redirectUri = redirectUris[0];
  // Required even when only one is registered: the token request must repeat it, and MCP clients always send it.
  if (redirectUri === undefined) return { kind: 'error-page', message: 'The request has no redirect_uri.' };
  if (!client.metadata.redirect_uris.some((registered) => redirectUriMatches(registered, redirectUri))) {
    return { kind: 'error-page', message: 'The redirect_uri is not one this application registered.' };
  }

  const states = params.getAll('state');
  const state = states[0];
  const fail = (error: string, description: string): RequestVerdict => ({ kind: 'redirect-error', redirectUri, state, error, description });

  for (const name of AUTHORIZATION_PARAMETERS) {
    if (params.getAll(name).length > 1 && name !== 'resource') return fail('invalid_request', `The ${name} parameter was sent more than once.`);
  }
  if (state !== undefined && state.length > MAX_STATE_LENGTH) return fail('invalid_request', 'state is too long.');

  const responseType = params.get('response_type');
  if (!responseType) return fail('invalid_request', 'response_type is required.');
  if (responseType !== 'code') return fail('unsupported_response_type', 'Only response_type=code is supported.');

  const challenge = params.get('code_challenge');
  const method = params.get('code_challenge_method');
  if (!challenge) return fail('invalid_request', 'PKCE is required: send code_challenge with code_challenge_method=S256.');
  if (method !== 'S256') return fail('invalid_request', 'code_challenge_method must be S256 (plain is not allowed).');
  if (!S256_CHALLENGE.test(challenge)) return fail('invalid_request', 'code_challenge must be a base64url SHA-256 (43 characters).');

  const requestedResources = params.getAll('resource');
  if (requestedResources.length > 1) return fail('invalid_target', 'Ask for one resource per authorization request.');
  let resource = policy.resources[0]!;
  if (requestedResources.length === 1) {
    const wanted = canonicalResource(requestedResources[0]!);
    const known = policy.resources.find((r) => wanted !== null && canonicalResource(r) === wanted);
    if (!known) return fail('invalid_target', 'The resource is not a protected resource of this server.');
    resource = known;
  }

  const requestedScopes = parseScope(params.get('scope') ?? undefined);
  if (requestedScopes === null) return fail('invalid_scope', 'scope is malformed.');
  const known = requestedScopes.filter((s) => policy.scopes.some((d) => d.name === s));
  if (policy.strictScopes && known.length < requestedScopes.length) {
    const unknown = requestedScopes.filter((s) => !known.includes(s));
    return fail('invalid_scope', `Unknown scope: ${unknown.join(' ').slice(0, 200)}`);
  }
  // RFC 6749 §3.3 lets the server grant less than asked: scopes it does not know (openid, a client's guesses) are
  // left out, and the consent page and token response name what is granted. A request left with no tool scope
  // (nothing, or only offline_access) gets the defaults, as a request without scope does.
  const scopes = known.some(isToolScope) ? known : [...policy.defaultScopes, ...known.filter((s) => !policy.defaultScopes.includes(s))];

  return {
    kind: 'valid',
    request: { client, redirectUri, state, codeChallenge: challenge, resource, scopes, forceConsent: params.get('prompt') === 'consent' },
  };
}

/** The authorization response URL: parameters added to the redirect URI's own query (RFC 6749 §3.1.2). */
export function redirectTo(redirectUri: string, params: Record<string, string | undefined>): string {
  const url = new URL(redirectUri);
  for (const [name, value] of Object.entries(params)) if (value !== undefined) url.searchParams.set(name, value);
  return url.href;
}
