import Router from '@koa/router';
import { isSubjectToken } from '@mcp-auth/contracts';
import { readForm, eventContextOf } from '@mcp-auth/http';
import { looksLikeClientIdUrl, parsePosition } from '@mcp-auth/oauth';
import { DEFAULT_CATCH_UP_MS, waitForCredentialPosition, waitForPosition } from '@mcp-auth/event-sourcing';
import { currentSession } from '../sign-in/sessions.ts';
import type { AuthorizationDeps } from '../web/context.ts';
import { sendPage } from '@mcp-auth/web';
import { accountPage, signInPage, type ConnectedApp } from '../web/pages.ts';
import { decide } from './decider.ts';

export function connectedAppsRoutes(deps: AuthorizationDeps): Router {
  const { store, projector, directory, consents, csrf } = deps;
  /** A registered client's id, or a metadata document's URL. */
  const isClientId = (clientId: string) => isSubjectToken(clientId) || looksLikeClientIdUrl(clientId);
  const router = new Router();

  router.get('/', (ctx) => {
    ctx.redirect('/account');
  });

  router.get('/account', async (ctx) => {
    const session = await currentSession(ctx, deps);
    if (!session) {
      return sendPage(ctx, { title: 'Sign in', body: signInPage({ csrf: csrf.tokenFor(ctx), returnTo: '/account', context: 'Sign in to see the applications connected to your account.' }) });
    }
    // After a revocation on another replica, the page waits (bounded) until this one has applied it, so the app
    // is not shown again. The position comes from the link: one beyond the stream's end is not waited for.
    const at = typeof ctx.query.at === 'string' ? parsePosition(ctx.query.at) : null;
    if (at !== null) await waitForCredentialPosition(store, projector, at, DEFAULT_CATCH_UP_MS);
    const byClient = new Map<string, ConnectedApp>();
    for (const consent of consents.activeForUser(session.userId)) {
      const app = byClient.get(consent.clientId) ?? { clientId: consent.clientId, client: directory.active(consent.clientId), consents: [] };
      app.consents.push(consent);
      byClient.set(consent.clientId, app);
    }
    // The notice comes from a link anyone can craft: it states only what is true now, for this user.
    const revokedId = ctx.query.revoked;
    const revoked =
      typeof revokedId === 'string' && isClientId(revokedId) && !byClient.has(revokedId) ? deps.clients.find(revokedId)?.metadata.client_name || revokedId : null;
    sendPage(ctx, {
      title: 'Connected apps',
      body: accountPage({
        username: session.username,
        apps: [...byClient.values()],
        csrf: csrf.tokenFor(ctx),
        ...(revoked ? { notice: `${revoked} has no access to your account.` } : {}),
      }),
    });
  });

  router.post('/account/apps/revoke', async (ctx) => {
    const form = await readForm(ctx);
    csrf.verify(ctx, form._csrf);
    const session = await currentSession(ctx, deps);
    if (!session) return ctx.redirect('/account');
    const clientId = form.client_id ?? '';
    if (!isClientId(clientId)) return ctx.redirect('/account');
    const events = decide({ type: 'RevokeApp', data: { userId: session.userId, clientId } }, { activeConsents: consents.activeForClient(session.userId, clientId) });
    // Not executeCommand: the revocation ends every consent of the user to the client, each on a subject of its own, in one batch.
    const position = await store.appendDecided(events, eventContextOf(ctx, { kind: 'user' as const, id: session.userId }));
    if (position !== null) await waitForPosition(projector, position);
    ctx.status = 303;
    ctx.redirect(`/account?revoked=${encodeURIComponent(clientId)}${position !== null ? `&at=${position}` : ''}`);
  });

  return router;
}
