import { ClientMetadataRefused, normaliseClientMetadata, type NormalisedClientMetadata, type PublicJwks } from './client-metadata.ts';
import { classifyRedirectUri, isLoopbackHost } from './redirect-uris.ts';

/**
 * Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document-02, "CIMD" below): a client_id
 * that is an https URL whose JSON document is the client's metadata. These are the pure rules; fetching is
 * libs/outbound's fetchDocument, caching its freshSeconds.
 */

/** Token endpoint authentication a CIMD client may use: no shared secret can exist (CIMD §4.1). */
export const CIMD_AUTH_METHODS = ['none', 'private_key_jwt'] as const;
export type CimdAuthMethod = (typeof CIMD_AUTH_METHODS)[number];

const MAX_CLIENT_ID_LENGTH = 2_000;

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

export type { PublicJwks };

/** A validated metadata document, normalised as a DCR registration would be, plus what consent shows and what keys it names. */
export type ClientMetadataDocument = Omit<NormalisedClientMetadata, 'token_endpoint_auth_method'> & {
  client_id: string;
  token_endpoint_auth_method: CimdAuthMethod;
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
  if ((raw.client_id ?? undefined) !== clientId) refuse('the document\'s client_id is not exactly the URL it was fetched from');
  if ((raw.client_secret ?? undefined) !== undefined || (raw.client_secret_expires_at ?? undefined) !== undefined) refuse('the document must not contain a client secret');
  try {
    // RFC 7591's default (client_secret_basic) cannot apply to a document, which has no secret: a document
    // that names no method is a public client.
    const metadata = normaliseClientMetadata(raw, { authMethods: CIMD_AUTH_METHODS, defaultAuthMethod: 'none', source: 'document' });
    return { client_id: clientId, ...metadata } as ClientMetadataDocument;
  } catch (error) {
    if (error instanceof ClientMetadataRefused) refuse(error.message);
    throw error;
  }
}

function facts(document: ClientMetadataDocument): DocumentFacts {
  const localhostOnly = document.redirect_uris.every((uri) => {
    const verdict = classifyRedirectUri(uri);
    return verdict.ok && verdict.kind === 'loopback';
  });
  return { verifiedHost: new URL(document.client_id).host, localhostOnly };
}

function printable(value: string): string {
  return value.slice(0, 100).replace(/[^\x20-\x7e]/g, '?');
}
