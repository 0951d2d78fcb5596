import type { Context, Next } from 'koa';
import { subjects } from '@mcp-auth/contracts';
import { catchUpWithSubject, executeCommand } from '@mcp-auth/event-sourcing';
import { clearCookie, csrfGuard, setCookie, type CsrfGuard } from '@mcp-auth/web';
import type { ConsoleSessionClaim } from '../access/admin-credential.ts';
import type { AdminDeps } from '../deps.ts';
import { EndedSessionsReadModel } from './ended-sessions.ts';
import { decide, type ConsoleSessionState } from './session-decider.ts';
import type { ConsoleActor } from './types.ts';

export type ConsoleSession = {
  csrf: CsrfGuard;
  signIn(ctx: Context): void;
  /** Ends the browser's session for every replica (AdminSessionEnded) and clears its cookie. */
  signOut(ctx: Context): Promise<void>;
  isSignedIn(ctx: Context): Promise<boolean>;
  /** Sends a browser without a console session to the sign-in page. */
  required(ctx: Context, next: Next): Promise<void>;
};

/**
 * The console's sign-in: the admin credential typed once, then an HttpOnly, SameSite=Strict signed session cookie.
 * A cookie is honoured only while the event log records no end of its session: the replica asks the stream about
 * the session's subject before it believes its own projection, so a cookie replayed after Sign out is refused on
 * every replica at once.
 */
export function consoleSession(deps: Pick<AdminDeps, 'config' | 'credential' | 'store' | 'projector'>, actor: ConsoleActor): ConsoleSession {
  const { config, credential, store, projector } = deps;
  const secure = config.ADMIN_BASE_URL.startsWith('https:');
  // Distinct from the authorization service's cookies, which share the origin behind the edge.
  const names = { session: secure ? '__Host-admin_session' : 'admin_session', csrf: secure ? '__Host-admin_csrf' : 'admin_csrf' };
  const lifetimeSeconds = config.ADMIN_SESSION_MINUTES * 60;
  const now = () => Math.floor(Date.now() / 1000);
  const ended = new EndedSessionsReadModel(projector.db);
  const claimOf = (ctx: Context): ConsoleSessionClaim | null => credential?.verifySession(ctx.cookies.get(names.session) ?? undefined, now()) ?? null;

  /** The position of the newest event on the session's subject (0: never ended), once this replica has applied it. */
  const caughtUp = (claim: ConsoleSessionClaim) => catchUpWithSubject(store, projector, subjects.adminSession(claim.sessionHash));

  async function isSignedIn(ctx: Context): Promise<boolean> {
    if (ctx.state.consoleSignedIn !== undefined) return ctx.state.consoleSignedIn as boolean;
    const claim = claimOf(ctx);
    const signedIn = claim !== null && ((await caughtUp(claim)) === 0 || !ended.isEnded(claim.sessionHash));
    ctx.state.consoleSignedIn = signedIn;
    return signedIn;
  }

  return {
    csrf: csrfGuard({ cookieName: names.csrf, secure, origin: new URL(config.ADMIN_BASE_URL).origin }),
    signIn(ctx) {
      if (!credential) return;
      setCookie(ctx, names.session, credential.issueSession(now() + lifetimeSeconds), { secure, sameSite: 'strict', maxAgeSeconds: lifetimeSeconds });
    },
    async signOut(ctx) {
      const claim = claimOf(ctx);
      if (claim) {
        // Another sign-out of the same session landing meanwhile is read again: it is ended either way.
        const end = { subject: subjects.adminSession(claim.sessionHash), load: () => ({ ended: ended.isEnded(claim.sessionHash) }), decide: (state: ConsoleSessionState) => decide({ type: 'EndConsoleSession', data: claim }, state) };
        await executeCommand({ store, projector }, end, actor(ctx));
      }
      clearCookie(ctx, names.session, secure);
    },
    isSignedIn,
    async required(ctx, next) {
      if (!(await isSignedIn(ctx))) {
        ctx.redirect('/admin/sign-in');
        return;
      }
      await next();
    },
  };
}
