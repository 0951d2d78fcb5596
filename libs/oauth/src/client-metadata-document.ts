import { CLIENT_ASSERTION_ALGORITHMS } from './client-assertion.ts';
import { classifyRedirectUri, isLoopbackHost, type RedirectUriKind } from './redirect-uris.ts';
import { parseScope } from './scopes.ts';

/**
 * Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document-02, "CIMD" below): a client_id
 * that is an https URL whose JSON document is the client's metadata. These are the pure rules; fetching is
 * libs/outbound's fetchDocument, caching its freshSeconds.
 */

/** Token endpoint authentication a CIMD client may use: no shared secret can exist (CIMD §4.1). */
export const CIMD_AUTH_METHODS = ['none', 'private_key_jwt'] as const;
export type CimdAuthMethod = (typeof CIMD_AUTH_METHODS)[number];

const MAX_CLIENT_ID_LENGTH = 2_000;
const LIMITS = { name: 200, uri: 2_000, redirectUris: 20, contacts: 10, contact: 320, software: 200, scope: 2_000, keys: 10 };
const SUPPORTED_GRANT_TYPES = ['authorization_code', 'refresh_token'];
/** JWK members that carry private or symmetric key material (RFC 7518 §6.2.2, §6.3.2, §6.4.1; RFC 8037 §2). */
const PRIVATE_KEY_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

export type ClientIdUrlOptions = {
  /** Development only (CLIENT_METADATA_ALLOW_PRIVATE_TARGETS): also accept http URLs on a loopback host. */
  allowLoopbackHttp?: boolean;
};

export type ClientIdUrlVerdict = { ok: true; url: URL } | { ok: false; reason: string };

/** Whether a client_id names a metadata document rather than a registered client (DCR ids never contain ':'). */
export function looksLikeClientIdUrl(clientId: string): boolean {
  return /^https?:\/\//i.test(clientId);
}

/**
 * CIMD §3: https, no userinfo, a path, no single- or double-dot path segment, no fragment; a port is allowed
 * and a query is only discouraged. The string itself is the identity (compared by simple string comparison,
 * RFC 3986 §6.2.1), so nothing here normalises it: the segments are read from the string as sent, since the
 * URL parser would resolve "/a/../b" before anyone saw it.
 */
export function checkClientIdUrl(raw: string, options: ClientIdUrlOptions = {}): ClientIdUrlVerdict {
  if (raw.length === 0 || raw.length > MAX_CLIENT_ID_LENGTH) return { ok: false, reason: `client_id must be 1 to ${MAX_CLIENT_ID_LENGTH} characters` };
  if (/[\s\u0000-\u001f\u007f]/.test(raw)) return { ok: false, reason: 'client_id contains whitespace or control characters' };
  const match = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)([^?#]*)(\?[^#]*)?(#.*)?$/.exec(raw);
  if (!match) return { ok: false, reason: 'client_id must be an absolute https URL' };
  const [, scheme, authority, path, , fragment] = match;
  if (fragment !== undefined) return { ok: false, reason: 'client_id must not contain a fragment' };
  if (authority!.includes('@')) return { ok: false, reason: 'client_id must not contain user information' };
  if (!path) return { ok: false, reason: 'client_id must contain a path, such as /client.json' };
  const segments = path.split('/').map((s) => s.toLowerCase().replace(/%2e/g, '.'));
  if (segments.some((s) => s === '.' || s === '..')) return { ok: false, reason: 'client_id must not contain "." or ".." path segments' };
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, reason: 'client_id is not a valid URL' };
  }
  if (scheme!.toLowerCase() === 'https') return { ok: true, url };
  if (scheme!.toLowerCase() === 'http' && options.allowLoopbackHttp && isLoopbackHost(url.hostname)) return { ok: true, url };
  return { ok: false, reason: 'client_id must be an https URL' };
}

export type PublicJwks = { keys: Array<Record<string, unknown>> };

/** A validated metadata document, normalised as a DCR registration would be, plus what consent shows and what keys it names. */
export type ClientMetadataDocument = {
  client_id: string;
  redirect_uris: string[];
  token_endpoint_auth_method: CimdAuthMethod;
  /** The one algorithm the client signs its assertions with, when it names one (ChatGPT names RS256). */
  token_endpoint_auth_signing_alg?: string;
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
};

export type DocumentFacts = {
  /** The client_id's host: the one thing about the client the server has verified (CIMD §8.5 asks to show it). */
  verifiedHost: string;
  /** Every redirect URI is on this machine: any local process could be the client (MCP authorization, "Localhost Redirect URI Risks"). */
  localhostOnly: boolean;
};

export type DocumentVerdict = { ok: true; document: ClientMetadataDocument; facts: DocumentFacts } | { ok: false; reason: string };

export type DocumentResponse = { contentType: string | undefined; body: Buffer | string };

/**
 * Reads and validates a fetched document for `clientId` (already accepted by checkClientIdUrl): JSON, an object,
 * its client_id equal to the URL by simple string comparison (CIMD §4), no client secret (§4.1), only public keys,
 * redirect URIs by the same rules as registered clients, and display text a person can trust. Unknown members are
 * ignored (RFC 7591 §2). Every refusal is a reason for the log and the audit trail. Pure.
 */
export function validateClientMetadataDocument(clientId: string, response: DocumentResponse): DocumentVerdict {
  try {
    const raw = parseJsonObject(response);
    const document = normalise(clientId, raw);
    return { ok: true, document, facts: facts(document) };
  } catch (error) {
    if (error instanceof DocumentRefused) return { ok: false, reason: error.message };
    throw error;
  }
}

class DocumentRefused extends Error {}

function refuse(reason: string): never {
  throw new DocumentRefused(reason);
}

function parseJsonObject({ contentType, body }: DocumentResponse): Record<string, unknown> {
  // CIMD §4: JSON, as application/json or a more specific application/<name>+json. text/plain is accepted too:
  // static hosts serve .json files that way, and what proves the client is the client_id inside, not the label.
  const mediaType = contentType?.split(';')[0]?.trim().toLowerCase();
  const json = mediaType === undefined || mediaType === '' || mediaType === 'application/json' || mediaType === 'text/plain' || /^application\/[a-z0-9.+-]+\+json$/.test(mediaType);
  if (!json) {
    refuse(`the document is served as ${printable(mediaType)}, not JSON`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(typeof body === 'string' ? body : body.toString('utf8'));
  } catch {
    refuse('the document is not valid JSON');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) refuse('the document is not a JSON object');
  return parsed as Record<string, unknown>;
}

function normalise(clientId: string, raw: Record<string, unknown>): ClientMetadataDocument {
  const field = (name: string) => (raw[name] === null ? undefined : raw[name]);

  if (field('client_id') !== clientId) refuse('the document\'s client_id is not exactly the URL it was fetched from');
  if (field('client_secret') !== undefined || field('client_secret_expires_at') !== undefined) refuse('the document must not contain a client secret');

  // RFC 7591's default (client_secret_basic) cannot apply to a document, which has no secret: a document
  // that names no method is a public client.
  const authMethod = optionalString(field('token_endpoint_auth_method'), 'token_endpoint_auth_method', 100) ?? 'none';
  if (!(CIMD_AUTH_METHODS as readonly string[]).includes(authMethod)) refuse(`token_endpoint_auth_method must be one of ${CIMD_AUTH_METHODS.join(', ')}`);

  const jwks = optionalJwks(field('jwks'));
  const jwksUri = optionalUri(field('jwks_uri'), 'jwks_uri', { httpsOnly: true });
  if (jwks && jwksUri) refuse('jwks and jwks_uri must not both be present (RFC 7591 §2)');
  if (authMethod === 'private_key_jwt' && !jwks && !jwksUri) refuse('private_key_jwt needs jwks or jwks_uri');
  const signingAlg = optionalString(field('token_endpoint_auth_signing_alg'), 'token_endpoint_auth_signing_alg', 20);
  if (signingAlg !== undefined && !(CLIENT_ASSERTION_ALGORITHMS as readonly string[]).includes(signingAlg)) {
    refuse(`token_endpoint_auth_signing_alg must be one of ${CLIENT_ASSERTION_ALGORITHMS.join(', ')}`);
  }

  const grantTypes = (stringArray(field('grant_types'), 'grant_types', 10, 200) ?? ['authorization_code']).filter((g, i, all) => SUPPORTED_GRANT_TYPES.includes(g) && all.indexOf(g) === i);
  if (!grantTypes.includes('authorization_code')) refuse('grant_types must include authorization_code');

  const responseTypes = stringArray(field('response_types'), 'response_types', 5, 50) ?? ['code'];
  if (!responseTypes.includes('code')) refuse('response_types must include code');

  const redirectUris = stringArray(field('redirect_uris'), 'redirect_uris', LIMITS.redirectUris, LIMITS.uri);
  if (!redirectUris || redirectUris.length === 0) refuse('redirect_uris is required');
  const kinds: RedirectUriKind[] = redirectUris.map((uri) => {
    const verdict = classifyRedirectUri(uri);
    if (!verdict.ok) refuse(`${verdict.reason}: ${printable(uri)}`);
    return verdict.kind;
  });

  const applicationType = optionalString(field('application_type'), 'application_type', 20);
  if (applicationType !== undefined && applicationType !== 'web' && applicationType !== 'native') refuse('application_type must be "web" or "native"');

  const scope = optionalString(field('scope'), 'scope', LIMITS.scope);
  if (scope !== undefined && parseScope(scope) === null) refuse('scope is not a valid space-delimited list of scopes');

  const document: ClientMetadataDocument = {
    client_id: clientId,
    redirect_uris: [...new Set(redirectUris)],
    token_endpoint_auth_method: authMethod as CimdAuthMethod,
    ...(signingAlg !== undefined ? { token_endpoint_auth_signing_alg: signingAlg } : {}),
    grant_types: grantTypes,
    response_types: ['code'],
    application_type: applicationType ?? (kinds.every((k) => k !== 'https') ? 'native' : 'web'),
  };
  const optional = {
    client_name: displayText(field('client_name'), 'client_name', LIMITS.name),
    client_uri: optionalUri(field('client_uri'), 'client_uri'),
    logo_uri: optionalUri(field('logo_uri'), 'logo_uri', { httpsOnly: true }),
    tos_uri: optionalUri(field('tos_uri'), 'tos_uri'),
    policy_uri: optionalUri(field('policy_uri'), 'policy_uri'),
    scope: scope === undefined ? undefined : parseScope(scope)!.join(' ') || undefined,
    contacts: stringArray(field('contacts'), 'contacts', LIMITS.contacts, LIMITS.contact),
    software_id: displayText(field('software_id'), 'software_id', LIMITS.software),
    software_version: displayText(field('software_version'), 'software_version', LIMITS.software),
    jwks,
    jwks_uri: jwksUri,
  };
  for (const [key, value] of Object.entries(optional)) {
    if (value !== undefined) (document as Record<string, unknown>)[key] = value;
  }
  return document;
}

function facts(document: ClientMetadataDocument): DocumentFacts {
  const localhostOnly = document.redirect_uris.every((uri) => {
    const verdict = classifyRedirectUri(uri);
    return verdict.ok && verdict.kind === 'loopback';
  });
  return { verifiedHost: new URL(document.client_id).host, localhostOnly };
}

/**
 * Why a string shown to people (on the consent page, in the admin console) is refused, or null. The one home
 * of the display-text rules for what a client says about itself.
 */
function displayTextProblem(value: string): string | null {
  // C0 and C1 controls, DEL: line breaks and terminal escapes that would rewrite what the user reads.
  if (/[\u0000-\u001f\u007f-\u009f]/.test(value)) return 'contains control characters';
  return null;
}

function displayText(value: unknown, name: string, max: number): string | undefined {
  const text = optionalString(value, name, max);
  if (text === undefined) return undefined;
  const problem = displayTextProblem(text);
  if (problem) refuse(`${name} ${problem}`);
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

function stringArray(value: unknown, name: string, maxItems: number, maxLength: number): string[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value)) refuse(`${name} must be an array of strings`);
  if (value.length > maxItems) refuse(`${name} has more than ${maxItems} entries`);
  for (const item of value) {
    if (typeof item !== 'string') refuse(`${name} must be an array of strings`);
    if (item.length > maxLength) refuse(`an entry of ${name} is longer than ${maxLength} characters`);
    if (/[\u0000-\u001f\u007f]/.test(item)) refuse(`an entry of ${name} contains control characters`);
  }
  return value as string[];
}

/** URLs people may follow or the server may fetch: https (http on loopback only where allowed, for client_uri and friends). */
function optionalUri(value: unknown, name: string, { httpsOnly = false }: { httpsOnly?: boolean } = {}): string | undefined {
  const uri = optionalString(value, name, LIMITS.uri);
  if (uri === undefined) return undefined;
  const verdict = classifyRedirectUri(uri);
  if (!verdict.ok || verdict.kind === 'private-use' || (httpsOnly && verdict.kind !== 'https')) refuse(`${name} must be an https URL`);
  return uri;
}

/** A JWK Set of public keys only (CIMD §4.1: private key material must never be in the document). */
function optionalJwks(value: unknown): PublicJwks | undefined {
  if (value === undefined) return undefined;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) refuse('jwks must be a JWK Set object');
  const keys = (value as { keys?: unknown }).keys;
  if (!Array.isArray(keys) || keys.length === 0) refuse('jwks must have a non-empty keys array');
  if (keys.length > LIMITS.keys) refuse(`jwks has more than ${LIMITS.keys} keys`);
  for (const key of keys) {
    if (key === null || typeof key !== 'object' || Array.isArray(key)) refuse('every entry of jwks.keys must be a JWK object');
    const jwk = key as Record<string, unknown>;
    if (typeof jwk.kty !== 'string') refuse('every key in jwks needs a kty');
    if (jwk.kty === 'oct' || PRIVATE_KEY_MEMBERS.some((m) => m in jwk)) refuse('jwks must contain public keys only');
  }
  return { keys: keys as Array<Record<string, unknown>> };
}

function printable(value: string): string {
  return value.slice(0, 100).replace(/[^\x20-\x7e]/g, '?');
}
