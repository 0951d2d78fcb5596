import type { Context } from 'koa';

/**
 * Cookie names and attributes. Over https the names carry the __Host- prefix (Secure, Path=/, no Domain),
 * so no other site, not even a sibling subdomain, can plant or read them.
 */
export function cookieNames(secure: boolean) {
  return {
    session: secure ? '__Host-mcp_session' : 'mcp_session',
    csrf: secure ? '__Host-mcp_csrf' : 'mcp_csrf',
  };
}

export function setCookie(
  ctx: Context,
  name: string,
  value: string,
  { secure, sameSite, maxAgeSeconds }: { secure: boolean; sameSite: 'lax' | 'strict'; maxAgeSeconds?: number },
): void {
  ctx.cookies.set(name, value, {
    httpOnly: true,
    secure,
    sameSite,
    path: '/',
    overwrite: true,
    ...(maxAgeSeconds !== undefined ? { maxAge: maxAgeSeconds * 1000 } : {}),
  });
}

export function clearCookie(ctx: Context, name: string, secure: boolean): void {
  ctx.cookies.set(name, '', { httpOnly: true, secure, sameSite: 'lax', path: '/', maxAge: 0, overwrite: true });
}
