import { createHash } from 'node:crypto';
import type { ClientMetadata, TokenEndpointAuthMethod } from '@mcp-auth/contracts';
import { InvalidClientMetadata, InvalidRedirectUri, classifyRedirectUri, displayTextProblem, isLoopbackHost, parseScope, type OAuthError } from '@mcp-auth/oauth';

export const SUPPORTED_GRANT_TYPES = ['authorization_code', 'refresh_token'] as const;
export const SUPPORTED_AUTH_METHODS: readonly TokenEndpointAuthMethod[] = ['none', 'client_secret_post', 'client_secret_basic'];

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

const LIMITS = { name: 200, uri: 2000, redirectUris: 20, contacts: 10, contact: 320, software: 200, scope: 2000 };

export type MetadataVerdict = { ok: true; metadata: ClientMetadata } | { ok: false; error: OAuthError };

/**
 * RFC 7591 §2 client metadata: validated, defaults applied, unknown fields ignored (§3.2.1 lets the
 * server ignore what it does not understand). Pure, so the rules are tested table-driven.
 */
export function validateClientMetadata(raw: Record<string, unknown>): MetadataVerdict {
  try {
    return { ok: true, metadata: normalise(raw) };
  } catch (error) {
    if (error instanceof InvalidClientMetadata || error instanceof InvalidRedirectUri) return { ok: false, error };
    throw error;
  }
}

function normalise(raw: Record<string, unknown>): ClientMetadata {
  const field = (name: string) => (raw[name] === null ? undefined : raw[name]);

  const authMethod = optionalString(field('token_endpoint_auth_method'), 'token_endpoint_auth_method', 100) ?? 'client_secret_basic';
  if (!SUPPORTED_AUTH_METHODS.includes(authMethod as TokenEndpointAuthMethod)) {
    throw new InvalidClientMetadata(`token_endpoint_auth_method must be one of ${SUPPORTED_AUTH_METHODS.join(', ')}`);
  }

  const requestedGrants = stringArray(field('grant_types'), 'grant_types', 10, 200) ?? ['authorization_code'];
  const grantTypes: string[] = [];
  for (const grant of requestedGrants) {
    if ((SUPPORTED_GRANT_TYPES as readonly string[]).includes(grant)) {
      if (!grantTypes.includes(grant)) grantTypes.push(grant);
    } else if (!DROPPED_GRANT_TYPES.has(grant)) {
      throw new InvalidClientMetadata(`grant type "${printable(grant)}" is not supported; use authorization_code and refresh_token`);
    }
  }
  if (grantTypes.length === 0 || !grantTypes.includes('authorization_code')) {
    throw new InvalidClientMetadata('grant_types must include authorization_code (refresh_token alone cannot obtain a grant)');
  }

  const responseTypes = stringArray(field('response_types'), 'response_types', 5, 50) ?? ['code'];
  if (responseTypes.length !== 1 || responseTypes[0] !== 'code') {
    throw new InvalidClientMetadata('response_types must be ["code"]: the authorization code flow is the only one offered');
  }

  const redirectUris = stringArray(field('redirect_uris'), 'redirect_uris', LIMITS.redirectUris, LIMITS.uri, InvalidRedirectUri);
  if (!redirectUris || redirectUris.length === 0) {
    throw new InvalidRedirectUri('redirect_uris is required for the authorization_code grant');
  }
  const kinds = redirectUris.map((uri) => {
    const verdict = classifyRedirectUri(uri);
    if (!verdict.ok) throw new InvalidRedirectUri(`${verdict.reason}: ${printable(uri)}`);
    return verdict.kind;
  });

  const applicationType = optionalString(field('application_type'), 'application_type', 20);
  if (applicationType !== undefined && applicationType !== 'web' && applicationType !== 'native') {
    throw new InvalidClientMetadata('application_type must be "web" or "native"');
  }

  const scope = optionalString(field('scope'), 'scope', LIMITS.scope);
  if (scope !== undefined && parseScope(scope) === null) throw new InvalidClientMetadata('scope is not a valid space-delimited list of scopes');

  const metadata: ClientMetadata = {
    redirect_uris: [...new Set(redirectUris)],
    token_endpoint_auth_method: authMethod as TokenEndpointAuthMethod,
    grant_types: grantTypes,
    response_types: ['code'],
    // A client with only loopback and private-use redirects is an app on the user's device (RFC 8252).
    application_type: applicationType ?? (kinds.every((k) => k !== 'https') ? 'native' : 'web'),
  };
  // The name is shown to people on the sign-in and consent pages: it must read as what it is.
  const clientName = optionalString(field('client_name'), 'client_name', LIMITS.name);
  const nameProblem = clientName === undefined ? null : displayTextProblem(clientName);
  if (nameProblem) throw new InvalidClientMetadata(`client_name contains ${nameProblem}`);

  const optional = {
    client_name: clientName,
    client_uri: optionalWebUri(field('client_uri'), 'client_uri'),
    logo_uri: optionalWebUri(field('logo_uri'), 'logo_uri'),
    tos_uri: optionalWebUri(field('tos_uri'), 'tos_uri'),
    policy_uri: optionalWebUri(field('policy_uri'), 'policy_uri'),
    scope: scope === undefined ? undefined : parseScope(scope)!.join(' ') || undefined,
    contacts: stringArray(field('contacts'), 'contacts', LIMITS.contacts, LIMITS.contact),
    software_id: optionalString(field('software_id'), 'software_id', LIMITS.software),
    software_version: optionalString(field('software_version'), 'software_version', LIMITS.software),
  };
  for (const [key, value] of Object.entries(optional)) {
    if (value !== undefined) (metadata as Record<string, unknown>)[key] = value;
  }
  return metadata;
}

/**
 * Identical metadata from a public client is the same client: MCP clients register again on every
 * connection. The fingerprint is the hash of the canonical metadata; confidential clients get none.
 * Loopback redirect URIs count without their port, which native apps pick anew each time and which
 * /authorize lets vary anyway (RFC 8252 §7.3).
 */
export function publicClientFingerprint(metadata: ClientMetadata): string | null {
  if (metadata.token_endpoint_auth_method !== 'none') return null;
  const canonical = JSON.stringify(
    Object.keys(metadata)
      .sort()
      .map((key) => {
        const value = metadata[key as keyof ClientMetadata];
        if (key === 'redirect_uris') return [key, [...new Set(metadata.redirect_uris.map(withoutLoopbackPort))].sort()];
        return [key, Array.isArray(value) ? [...value].sort() : value];
      }),
  );
  return createHash('sha256').update(canonical).digest('base64url');
}

function withoutLoopbackPort(uri: string): string {
  if (classifyRedirectUri(uri).ok && uri.startsWith('http:')) {
    const url = new URL(uri);
    if (isLoopbackHost(url.hostname)) {
      url.port = '';
      return url.href;
    }
  }
  return uri;
}

function optionalString(value: unknown, name: string, max: number): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new InvalidClientMetadata(`${name} must be a string`);
  if (value.length > max) throw new InvalidClientMetadata(`${name} is longer than ${max} characters`);
  if (/[\u0000-\u001f\u007f]/.test(value)) throw new InvalidClientMetadata(`${name} contains control characters`);
  return value;
}

function stringArray(
  value: unknown,
  name: string,
  maxItems: number,
  maxLength: number,
  ErrorType: new (description: string) => OAuthError = InvalidClientMetadata,
): string[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value)) throw new ErrorType(`${name} must be an array of strings`);
  if (value.length > maxItems) throw new ErrorType(`${name} has more than ${maxItems} entries`);
  for (const item of value) {
    if (typeof item !== 'string') throw new ErrorType(`${name} must be an array of strings`);
    if (item.length > maxLength) throw new ErrorType(`an entry of ${name} is longer than ${maxLength} characters`);
  }
  return value as string[];
}

/** Informational URIs are shown to people, so only web URLs: https, or http on loopback for development. */
function optionalWebUri(value: unknown, name: string): string | undefined {
  const uri = optionalString(value, name, LIMITS.uri);
  if (uri === undefined) return undefined;
  const verdict = classifyRedirectUri(uri);
  if (!verdict.ok || verdict.kind === 'private-use') throw new InvalidClientMetadata(`${name} must be an https URL`);
  return uri;
}

function printable(value: string): string {
  return value.slice(0, 100).replace(/[^\x20-\x7e]/g, '?');
}
