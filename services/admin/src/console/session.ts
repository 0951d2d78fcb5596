import type { Context, Next } from 'koa';
import { clearCookie, csrfGuard, setCookie, type CsrfGuard } from '@mcp-auth/web';
import type { AdminCredential } from '../access/admin-credential.ts';
import type { AdminConfig } from '../config.ts';

export type ConsoleSession = {
  csrf: CsrfGuard;
  signIn(ctx: Context): void;
  signOut(ctx: Context): void;
  isSignedIn(ctx: Context): boolean;
  /** Sends a browser without a console session to the sign-in page. */
  required(ctx: Context, next: Next): Promise<void>;
};

/** The console's sign-in: the admin credential typed once, then an HttpOnly, SameSite=Strict signed session cookie. */
export function consoleSession(config: AdminConfig, credential: AdminCredential | null): ConsoleSession {
  const secure = config.ADMIN_BASE_URL.startsWith('https:');
  // Distinct from the authorization service's cookies, which share the origin behind the edge.
  const names = { session: secure ? '__Host-admin_session' : 'admin_session', csrf: secure ? '__Host-admin_csrf' : 'admin_csrf' };
  const lifetimeSeconds = config.ADMIN_SESSION_MINUTES * 60;
  const now = () => Math.floor(Date.now() / 1000);
  const isSignedIn = (ctx: Context) => credential !== null && credential.isValidSession(ctx.cookies.get(names.session) ?? undefined, now());
  return {
    csrf: csrfGuard({ cookieName: names.csrf, secure, origin: new URL(config.ADMIN_BASE_URL).origin }),
    signIn(ctx) {
      if (!credential) return;
      setCookie(ctx, names.session, credential.issueSession(now() + lifetimeSeconds), { secure, sameSite: 'strict', maxAgeSeconds: lifetimeSeconds });
    },
    signOut(ctx) {
      clearCookie(ctx, names.session, secure);
    },
    isSignedIn,
    async required(ctx, next) {
      if (!isSignedIn(ctx)) {
        ctx.redirect('/admin/sign-in');
        return;
      }
      await next();
    },
  };
}
