import type { Context } from 'koa';

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
