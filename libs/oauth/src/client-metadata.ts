import { CLIENT_ASSERTION_ALGORITHMS } from './client-assertion.ts';
import { displayTextProblem } from './display-text.ts';
import { classifyRedirectUri, type RedirectUriKind } from './redirect-uris.ts';
import { parseScope } from './scopes.ts';

/**
 * RFC 7591 §2 client metadata, validated and normalised the same way wherever it comes from: a registration
 * (RFC 7591) or a Client ID Metadata Document. What differs between the two is the policy.
 */

export type PublicJwks = { keys: Array<Record<string, unknown>> };

/** Client metadata as every service stores it (the contracts' ClientMetadata has the same shape). */
export type NormalisedClientMetadata = {
  redirect_uris: string[];
  token_endpoint_auth_method: string;
  grant_types: string[];
  response_types: ['code'];
  application_type: 'web' | 'native';
  client_name?: string;
  client_uri?: string;
  logo_uri?: string;
  tos_uri?: string;
  policy_uri?: string;
  scope?: string;
  contacts?: string[];
  software_id?: string;
  software_version?: string;
  jwks?: PublicJwks;
  jwks_uri?: string;
  /** The one algorithm the client signs its assertions with, when it names one (ChatGPT names RS256). */
  token_endpoint_auth_signing_alg?: string;
};

export type ClientMetadataPolicy = {
  /** token_endpoint_auth_method values accepted. */
  authMethods: readonly string[];
  /** When the metadata names none: RFC 7591's client_secret_basic for a registration, none for a document (no secret can exist). */
  defaultAuthMethod: string;
  /**
   * registration: grant types outside DROPPED_GRANT_TYPES and ours are refused, and response_types must be exactly
   * ["code"]; document: whatever we do not offer is dropped, and response_types must include "code".
   */
  source: 'registration' | 'document';
  /** Development only (CLIENT_METADATA_ALLOW_PRIVATE_TARGETS): a jwks_uri may be http on a loopback host. */
  allowLoopbackHttpJwksUri?: boolean;
};

/** Why metadata is refused; `field` says whether it is about the redirect URIs (invalid_redirect_uri, RFC 7591 §3.2.2). */
export class ClientMetadataRefused extends Error {
  constructor(
    reason: string,
    readonly field: 'redirect_uris' | 'other' = 'other',
  ) {
    super(reason);
    this.name = 'ClientMetadataRefused';
  }
}

export const SUPPORTED_GRANT_TYPES = ['authorization_code', 'refresh_token'] as const;

/**
 * Standard grant types some MCP clients list although this server does not offer them (VS Code asks for
 * the device flow). RFC 7591 §3.2.1 lets the server replace requested values, so they are dropped rather
 * than failing the whole registration. Anything else unknown is refused.
 */
const DROPPED_GRANT_TYPES = new Set([
  'urn:ietf:params:oauth:grant-type:device_code',
  'urn:ietf:params:oauth:grant-type:token-exchange',
  'urn:ietf:params:oauth:grant-type:jwt-bearer',
  'client_credentials',
]);

const LIMITS = { name: 200, uri: 2_000, redirectUris: 20, contacts: 10, contact: 320, software: 200, scope: 2_000, keys: 10 };
/** JWK members that carry private or symmetric key material (RFC 7518 §6.2.2, §6.3.2, §6.4.1; RFC 8037 §2). */
const PRIVATE_KEY_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

/**
 * Validates `raw` (a JSON object) against `policy`: defaults applied, unknown members ignored (RFC 7591 §3.2.1),
 * private_key_jwt only with public keys, inline or by an https URL, never both (RFC 7591 §2). Pure; every refusal
 * is a ClientMetadataRefused with a reason fit for the client and the log.
 */
export function normaliseClientMetadata(raw: Record<string, unknown>, policy: ClientMetadataPolicy): NormalisedClientMetadata {
  const field = (name: string) => (raw[name] === null ? undefined : raw[name]);
  const fromDocument = policy.source === 'document';

  const authMethod = optionalString(field('token_endpoint_auth_method'), 'token_endpoint_auth_method', 100) ?? policy.defaultAuthMethod;
  if (!policy.authMethods.includes(authMethod)) refuse(`token_endpoint_auth_method must be one of ${policy.authMethods.join(', ')}`);

  const jwks = optionalJwks(field('jwks'));
  const jwksUri = optionalUri(field('jwks_uri'), 'jwks_uri', { httpsOnly: !policy.allowLoopbackHttpJwksUri });
  if (jwks && jwksUri) refuse('jwks and jwks_uri must not both be present (RFC 7591 §2)');
  if (authMethod === 'private_key_jwt' && !jwks && !jwksUri) refuse('private_key_jwt needs jwks or jwks_uri');
  const signingAlg = optionalString(field('token_endpoint_auth_signing_alg'), 'token_endpoint_auth_signing_alg', 20);
  if (signingAlg !== undefined && !(CLIENT_ASSERTION_ALGORITHMS as readonly string[]).includes(signingAlg)) {
    refuse(`token_endpoint_auth_signing_alg must be one of ${CLIENT_ASSERTION_ALGORITHMS.join(', ')}`);
  }

  const requestedGrants = stringArray(field('grant_types'), 'grant_types', 10, 200) ?? ['authorization_code'];
  const grantTypes: string[] = [];
  for (const grant of requestedGrants) {
    if ((SUPPORTED_GRANT_TYPES as readonly string[]).includes(grant)) {
      if (!grantTypes.includes(grant)) grantTypes.push(grant);
    } else if (!fromDocument && !DROPPED_GRANT_TYPES.has(grant)) {
      refuse(`grant type "${printable(grant)}" is not supported; use authorization_code and refresh_token`);
    }
  }
  if (!grantTypes.includes('authorization_code')) refuse('grant_types must include authorization_code (refresh_token alone cannot obtain a grant)');

  const responseTypes = stringArray(field('response_types'), 'response_types', 5, 50) ?? ['code'];
  if (fromDocument ? !responseTypes.includes('code') : responseTypes.length !== 1 || responseTypes[0] !== 'code') {
    refuse(fromDocument ? 'response_types must include code' : 'response_types must be ["code"]: the authorization code flow is the only one offered');
  }

  const redirectUris = stringArray(field('redirect_uris'), 'redirect_uris', LIMITS.redirectUris, LIMITS.uri, 'redirect_uris');
  if (!redirectUris || redirectUris.length === 0) refuse('redirect_uris is required for the authorization_code grant', 'redirect_uris');
  const kinds: RedirectUriKind[] = redirectUris.map((uri) => {
    const verdict = classifyRedirectUri(uri);
    if (!verdict.ok) refuse(`${verdict.reason}: ${printable(uri)}`, 'redirect_uris');
    return verdict.kind;
  });

  const applicationType = optionalString(field('application_type'), 'application_type', 20);
  if (applicationType !== undefined && applicationType !== 'web' && applicationType !== 'native') refuse('application_type must be "web" or "native"');

  const scope = optionalString(field('scope'), 'scope', LIMITS.scope);
  if (scope !== undefined && parseScope(scope) === null) refuse('scope is not a valid space-delimited list of scopes');

  const metadata: NormalisedClientMetadata = {
    redirect_uris: [...new Set(redirectUris)],
    token_endpoint_auth_method: authMethod,
    grant_types: grantTypes,
    response_types: ['code'],
    // A client with only loopback and private-use redirects is an app on the user's device (RFC 8252).
    application_type: (applicationType as 'web' | 'native' | undefined) ?? (kinds.every((k) => k !== 'https') ? 'native' : 'web'),
  };
  const optional = {
    // Names are shown to people on the sign-in and consent pages and in the console: they must read as what they are.
    client_name: displayText(field('client_name'), 'client_name', LIMITS.name),
    client_uri: optionalUri(field('client_uri'), 'client_uri'),
    logo_uri: optionalUri(field('logo_uri'), 'logo_uri', { httpsOnly: fromDocument }),
    tos_uri: optionalUri(field('tos_uri'), 'tos_uri'),
    policy_uri: optionalUri(field('policy_uri'), 'policy_uri'),
    scope: scope === undefined ? undefined : parseScope(scope)!.join(' ') || undefined,
    contacts: stringArray(field('contacts'), 'contacts', LIMITS.contacts, LIMITS.contact),
    software_id: displayText(field('software_id'), 'software_id', LIMITS.software),
    software_version: displayText(field('software_version'), 'software_version', LIMITS.software),
    jwks,
    jwks_uri: jwksUri,
    token_endpoint_auth_signing_alg: signingAlg,
  };
  for (const [key, value] of Object.entries(optional)) {
    if (value !== undefined) (metadata as Record<string, unknown>)[key] = value;
  }
  return metadata;
}

function refuse(reason: string, field: 'redirect_uris' | 'other' = 'other'): never {
  throw new ClientMetadataRefused(reason, field);
}

function displayText(value: unknown, name: string, max: number): string | undefined {
  const text = optionalString(value, name, max);
  if (text === undefined) return undefined;
  const problem = displayTextProblem(text);
  if (problem) refuse(`${name} contains ${problem}`);
  if (text.trim() === '') refuse(`${name} is blank`);
  return text;
}

function optionalString(value: unknown, name: string, max: number): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') refuse(`${name} must be a string`);
  if (value.length > max) refuse(`${name} is longer than ${max} characters`);
  if (/[\u0000-\u001f\u007f]/.test(value)) refuse(`${name} contains control characters`);
  return value;
}

function stringArray(value: unknown, name: string, maxItems: number, maxLength: number, field: 'redirect_uris' | 'other' = 'other'): string[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value)) refuse(`${name} must be an array of strings`, field);
  if (value.length > maxItems) refuse(`${name} has more than ${maxItems} entries`, field);
  for (const item of value) {
    if (typeof item !== 'string') refuse(`${name} must be an array of strings`, field);
    if (item.length > maxLength) refuse(`an entry of ${name} is longer than ${maxLength} characters`, field);
    if (/[\u0000-\u001f\u007f]/.test(item)) refuse(`an entry of ${name} contains control characters`, field);
  }
  return value as string[];
}

/** URLs people may follow or the server may fetch: https, or http on loopback (development) unless httpsOnly. */
function optionalUri(value: unknown, name: string, { httpsOnly = false }: { httpsOnly?: boolean } = {}): string | undefined {
  const uri = optionalString(value, name, LIMITS.uri);
  if (uri === undefined) return undefined;
  const verdict = classifyRedirectUri(uri);
  if (!verdict.ok || verdict.kind === 'private-use' || (httpsOnly && verdict.kind !== 'https')) refuse(`${name} must be an https URL`);
  return uri;
}

/** A JWK Set of public keys only: private key material must never be sent to or kept by the server. */
function optionalJwks(value: unknown): PublicJwks | undefined {
  if (value === undefined) return undefined;
  const problem = publicJwksProblem(value);
  if (problem) refuse(`jwks ${problem}`);
  return value as PublicJwks;
}

/**
 * Why a value is not a JWK Set of public keys ("must contain public keys only"), or null if it is one: for keys a
 * client registers and for key sets fetched from its jwks_uri.
 */
export function publicJwksProblem(value: unknown): string | null {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return 'must be a JWK Set object';
  const keys = (value as { keys?: unknown }).keys;
  if (!Array.isArray(keys) || keys.length === 0) return 'must have a non-empty keys array';
  if (keys.length > LIMITS.keys) return `has more than ${LIMITS.keys} keys`;
  for (const key of keys) {
    if (key === null || typeof key !== 'object' || Array.isArray(key)) return 'must have a JWK object in every entry of keys';
    const jwk = key as Record<string, unknown>;
    if (typeof jwk.kty !== 'string') return 'needs a kty in every key';
    if (jwk.kty === 'oct' || PRIVATE_KEY_MEMBERS.some((m) => m in jwk)) return 'must contain public keys only';
  }
  return null;
}

function printable(value: string): string {
  return value.slice(0, 100).replace(/[^\x20-\x7e]/g, '?');
}
