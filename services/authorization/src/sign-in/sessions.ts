import type { Context } from 'koa';
import { attachPosition, hashSecret, randomToken, splitPosition } from '@mcp-auth/oauth';
import { waitForCredentialPosition } from '@mcp-auth/event-sourcing';
import { clearCookie, setCookie } from '@mcp-auth/web';
import type { AuthorizationDeps } from '../web/context.ts';
import type { Session } from '../users/projection.ts';

/** How long a request waits for this replica to learn of a session created on another one. */
const SESSION_CATCH_UP_MS = 2_000;

export type CurrentSession = Session & { sessionHash: string };

/**
 * The signed-in user, if the session cookie names an open session. The cookie carries the stream position
 * of its UserSignedIn event, so a replica that has not applied it yet waits for it instead of signing the user out.
 */
export async function currentSession(ctx: Context, deps: AuthorizationDeps): Promise<CurrentSession | null> {
  if (ctx.state.session !== undefined) return ctx.state.session as CurrentSession | null;
  let session: CurrentSession | null = null;
  const raw = ctx.cookies.get(deps.cookies.session);
  const parsed = raw ? splitPosition(raw) : null;
  if (parsed && (await waitForCredentialPosition(deps.store, deps.projector, parsed.position, SESSION_CATCH_UP_MS))) {
    const sessionHash = hashSecret(parsed.secret);
    const found = deps.users.session(sessionHash, Math.floor(Date.now() / 1000));
    session = found ? { ...found, sessionHash } : null;
  }
  ctx.state.session = session;
  return session;
}

export function newSessionSecret(): { secret: string; hash: string } {
  const secret = randomToken(32);
  return { secret, hash: hashSecret(secret) };
}

export function setSessionCookie(ctx: Context, deps: AuthorizationDeps, secret: string, position: number): void {
  setCookie(ctx, deps.cookies.session, attachPosition(secret, position), {
    secure: deps.cookies.secure,
    sameSite: 'lax',
    maxAgeSeconds: deps.config.SESSION_TTL_SECONDS,
  });
}

export function clearSessionCookie(ctx: Context, deps: AuthorizationDeps): void {
  clearCookie(ctx, deps.cookies.session, deps.cookies.secure);
}
