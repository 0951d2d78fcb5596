import { createHash } from 'node:crypto';
import type { ClientMetadata, TokenEndpointAuthMethod } from '@mcp-auth/contracts';
import { ClientMetadataRefused, InvalidClientMetadata, InvalidRedirectUri, classifyRedirectUri, isLoopbackHost, normaliseClientMetadata, type OAuthError } from '@mcp-auth/oauth';

export const SUPPORTED_AUTH_METHODS: readonly TokenEndpointAuthMethod[] = ['none', 'client_secret_post', 'client_secret_basic', 'private_key_jwt'];

export type MetadataVerdict = { ok: true; metadata: ClientMetadata } | { ok: false; error: OAuthError };

export type RegistrationMetadataOptions = {
  /** Development only (CLIENT_METADATA_ALLOW_PRIVATE_TARGETS): a jwks_uri may be http on loopback. */
  allowLoopbackHttpJwksUri?: boolean;
};

/**
 * RFC 7591 §2 client metadata: validated, defaults applied, unknown fields ignored (§3.2.1 lets the
 * server ignore what it does not understand), by the rules metadata documents share. Pure, so the rules
 * are tested table-driven.
 */
export function validateClientMetadata(raw: Record<string, unknown>, options: RegistrationMetadataOptions = {}): MetadataVerdict {
  try {
    const metadata = normaliseClientMetadata(raw, {
      authMethods: SUPPORTED_AUTH_METHODS,
      defaultAuthMethod: 'client_secret_basic',
      source: 'registration',
      ...(options.allowLoopbackHttpJwksUri ? { allowLoopbackHttpJwksUri: true } : {}),
    });
    return { ok: true, metadata: metadata as ClientMetadata };
  } catch (error) {
    if (error instanceof ClientMetadataRefused) {
      return { ok: false, error: error.field === 'redirect_uris' ? new InvalidRedirectUri(error.message) : new InvalidClientMetadata(error.message) };
    }
    throw error;
  }
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
