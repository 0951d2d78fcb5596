/**
 * Compares resource indicators (RFC 8707) the way MCP clients send them: scheme and host case-insensitive,
 * default ports dropped, and one trailing slash ignored ("…/mcp" and "…/mcp/" name the same server).
 */
export function canonicalResource(value: string): string | null {
  if (value.includes('#')) return null;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return null;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return null;
  if (url.username || url.password) return null;
  const path = url.pathname.endsWith('/') ? url.pathname.slice(0, -1) : url.pathname;
  return `${url.protocol}//${url.host}${path}${url.search}`;
}

export function sameResource(a: string, b: string): boolean {
  const x = canonicalResource(a);
  return x !== null && x === canonicalResource(b);
}
