import { randomUUID } from 'node:crypto';
import Router from '@koa/router';
import { isSubjectToken, subjects } from '@mcp-auth/contracts';
import type { RegisteredClient } from '@mcp-auth/read-models';
import { rateLimit, readForm, eventContextOf } from '@mcp-auth/http';
import { redirectUriMatches } from '@mcp-auth/oauth';
import { catchUpWithSubject } from '@mcp-auth/event-sourcing';
import { formTargetFor, sendPage } from '@mcp-auth/web';
import { signInPage } from '../web/pages.ts';
import type { AuthorizationDeps } from '../web/context.ts';
import { PASSWORD_MAX_LENGTH, burnPasswordCheck, needsRehash, verifyPassword } from '../users/passwords.ts';
import { rehashPassword } from '../users/rehash-password.ts';
import { isValidUsername, normaliseUsername, userIdFor } from '../users/usernames.ts';
import { admitAttempt } from './admit-attempt.ts';
import { decide, initialState, type SignInPolicy } from './decider.ts';
import { clearSessionCookie, currentSession, newSessionSecret, setSessionCookie } from './sessions.ts';
import { safeReturnTo } from './return-to.ts';

const GENERIC_FAILURE = 'Incorrect username or password.';

/** The client whose authorization request a sign-in continues (return_to is /authorize for one of its registered redirect URIs), if any. */
export function requestingClient(returnTo: string, deps: Pick<AuthorizationDeps, 'config' | 'clients'>): { client: RegisteredClient; redirectUri: string } | null {
  const url = new URL(returnTo, deps.config.ISSUER);
  if (url.pathname !== '/authorize') return null;
  const clientId = url.searchParams.get('client_id') ?? '';
  const redirectUri = url.searchParams.get('redirect_uri');
  const client = isSubjectToken(clientId) ? deps.clients.active(clientId) : null;
  if (!client || !redirectUri || !client.metadata.redirect_uris.some((registered) => redirectUriMatches(registered, redirectUri))) return null;
  return { client, redirectUri };
}

/**
 * Where a sign-in form post may end up: a successful sign-in returns to /authorize, which may answer at
 * once (remembered consent) with a redirect to the client. Browsers apply CSP form-action to every
 * redirect after a form post, so the page must allow the client's (registered) redirect origin.
 */
export function signInFormTargets(returnTo: string, deps: Pick<AuthorizationDeps, 'config' | 'clients'>): string[] {
  const requesting = requestingClient(returnTo, deps);
  return requesting ? [formTargetFor(requesting.redirectUri)].filter(Boolean) : [];
}

/** How long a sign-out waits for this replica's projection to apply it (the event is durable either way). */
const SIGN_OUT_APPLY_MS = 2_000;

export function signInRoutes(deps: AuthorizationDeps): Router {
  const { config, store, projector, users, csrf, logger } = deps;
  const router = new Router();
  const policy: SignInPolicy = {
    maxAccountFailures: config.SIGNIN_MAX_FAILURES_PER_ACCOUNT,
    maxAddressFailures: config.SIGNIN_MAX_FAILURES_PER_ADDRESS,
    windowMs: config.SIGNIN_THROTTLE_WINDOW_SECONDS * 1000,
    sessionTtlSeconds: config.SESSION_TTL_SECONDS,
  };

  const postsPerAddress = rateLimit({
    name: 'sign-in',
    points: config.SIGNIN_RATE_LIMIT,
    windowSeconds: 60,
    keys: (ctx) => [ctx.ip],
    description: 'Too many sign-in attempts from your network. Wait a minute and try again.',
  });

  router.post('/signin', postsPerAddress, async (ctx) => {
    const form = await readForm(ctx);
    csrf.verify(ctx, form._csrf);
    const returnTo = safeReturnTo(form.return_to, config.ISSUER);
    const username = (form.username ?? '').trim();
    const password = form.password ?? '';
    const again = (status: number, error: string) =>
      sendPage(ctx, {
        title: 'Sign in',
        status,
        formTargets: signInFormTargets(returnTo, deps),
        body: signInPage({ csrf: csrf.tokenFor(ctx), returnTo, username, error, client: requestingClient(returnTo, deps)?.client ?? null }),
      });

    if (!isValidUsername(username) || password.length === 0 || password.length > PASSWORD_MAX_LENGTH) {
      await burnPasswordCheck(password.slice(0, PASSWORD_MAX_LENGTH));
      return again(401, GENERIC_FAILURE);
    }
    const userId = userIdFor(username);
    const userVersion = await catchUpWithSubject(store, projector, subjects.user(userId));
    const user = users.user(userId);
    const attempt = { attemptId: randomUUID(), username: normaliseUsername(username), userId, userExists: user !== null, clientAddress: ctx.ip || null, policy };
    const context = eventContextOf(ctx, { kind: 'user' as const, id: userId });

    const admission = await admitAttempt({ store, projector, users, policy }, attempt, context);
    if (!admission.admitted) {
      ctx.set('Retry-After', String(admission.retryAfterSeconds));
      return again(429, `Too many failed sign-in attempts. Try again in ${Math.ceil(admission.retryAfterSeconds / 60)} minute(s).`);
    }
    const passwordValid = user ? await verifyPassword(password, user.passwordHash) : await burnPasswordCheck(password);
    const session = newSessionSecret();
    // The outcome only settles an attempt already counted: it needs no exclusivity.
    const events = decide({ type: 'CompleteSignIn', data: { ...attempt, passwordValid, sessionHash: session.hash, nowMs: Date.now() } }, initialState());
    // Not executeCommand: the outcome is decided on no state (the attempt was admitted above), and nothing else writes its subject.
    const position = await store.appendDecided(events, context);
    if (events[0]!.type !== 'UserSignedIn' || position === null) return again(401, GENERIC_FAILURE);
    if (user && needsRehash(user.passwordHash)) await rehashPassword(store, { userId, password, version: userVersion }, context, logger);
    setSessionCookie(ctx, deps, session.secret, position);
    ctx.status = 303;
    ctx.redirect(returnTo);
  });

  router.post('/signout', async (ctx) => {
    const form = await readForm(ctx);
    csrf.verify(ctx, form._csrf);
    const session = await currentSession(ctx, deps);
    if (session) {
      const events = decide({ type: 'SignOut', data: { userId: session.userId, sessionHash: session.sessionHash } }, initialState());
      // Not executeCommand: a sign-out is decided on no state, and its wait for this replica is bounded more tightly.
      const position = await store.appendDecided(events, eventContextOf(ctx, { kind: 'user' as const, id: session.userId }));
      // This replica stops honouring the session before it says so; the others as soon as they apply the event.
      if (position !== null) await projector.waitFor(position, SIGN_OUT_APPLY_MS);
    }
    clearSessionCookie(ctx, deps);
    ctx.status = 303;
    ctx.redirect('/account');
  });

  return router;
}
