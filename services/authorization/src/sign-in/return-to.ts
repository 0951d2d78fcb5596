/**
 * Where to go after signing in: only back to /authorize (with its query) or to the account page on this
 * very origin. Anything else (other hosts, //evil, backslashes, javascript:) falls back to the account page.
 */
export function safeReturnTo(value: string | undefined, issuer: string): string {
  if (!value || !value.startsWith('/') || value.startsWith('//') || value.includes('\\')) return '/account';
  try {
    const base = new URL(issuer);
    const url = new URL(value, base);
    if (url.origin !== base.origin) return '/account';
    if (url.pathname !== '/authorize' && url.pathname !== '/account') return '/account';
    return url.pathname + url.search;
  } catch {
    return '/account';
  }
}
