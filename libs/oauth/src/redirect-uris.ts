export type RedirectUriKind = 'https' | 'loopback' | 'private-use';

export type RedirectUriVerdict = { ok: true; kind: RedirectUriKind } | { ok: false; reason: string };

const MAX_REDIRECT_URI_LENGTH = 2000;
const SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*):/;
const FORBIDDEN_SCHEMES = new Set(['javascript', 'data', 'file', 'vbscript', 'blob', 'about', 'filesystem', 'view-source', 'ws', 'wss', 'ftp', 'mailto', 'tel', 'chrome', 'chrome-extension']);
const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

export function isLoopbackHost(hostname: string): boolean {
  return LOOPBACK_HOSTS.has(hostname.toLowerCase());
}

/**
 * Which redirect URIs a client may register (RFC 8252, OAuth 2.1 §2.3.1): https anywhere; plain http only
 * to a loopback address (any port, or none); private-use schemes for native apps (cursor://, com.example.app:/).
 */
export function classifyRedirectUri(uri: string): RedirectUriVerdict {
  if (uri.length === 0 || uri.length > MAX_REDIRECT_URI_LENGTH) return { ok: false, reason: 'redirect URI is empty or too long' };
  if (/[\s\u0000-\u001f\u007f]/.test(uri)) return { ok: false, reason: 'redirect URI contains whitespace or control characters' };
  if (uri.includes('#')) return { ok: false, reason: 'redirect URI must not contain a fragment' };
  const scheme = SCHEME.exec(uri)?.[1]?.toLowerCase();
  if (!scheme) return { ok: false, reason: 'redirect URI must be an absolute URI' };
  if (FORBIDDEN_SCHEMES.has(scheme)) return { ok: false, reason: `the ${scheme}: scheme is not allowed` };
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return { ok: false, reason: 'redirect URI is not a valid URI' };
  }
  if (url.username || url.password) return { ok: false, reason: 'redirect URI must not contain credentials' };
  if (scheme === 'https') {
    if (!url.hostname) return { ok: false, reason: 'https redirect URI needs a host' };
    return { ok: true, kind: 'https' };
  }
  if (scheme === 'http') {
    if (isLoopbackHost(url.hostname)) return { ok: true, kind: 'loopback' };
    return { ok: false, reason: 'plain http redirect URIs are only allowed to a loopback host (localhost, 127.0.0.1, [::1])' };
  }
  return { ok: true, kind: 'private-use' };
}

/**
 * RFC 6749 §3.1.2.3 exact matching, with the one exception of RFC 8252 §7.3: for http loopback redirect
 * URIs the port may differ, because native apps bind an ephemeral port at the time of the request.
 */
export function redirectUriMatches(registered: string, requested: string): boolean {
  if (registered === requested) return true;
  let a: URL;
  let b: URL;
  try {
    a = new URL(registered);
    b = new URL(requested);
  } catch {
    return false;
  }
  if (a.protocol !== 'http:' || b.protocol !== 'http:') return false;
  if (!isLoopbackHost(a.hostname) || a.hostname !== b.hostname) return false;
  if (requested.includes('#') || b.username || b.password) return false;
  return a.pathname === b.pathname && a.search === b.search;
}
