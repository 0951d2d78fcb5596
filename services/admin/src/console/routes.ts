import Router from '@koa/router';
import { eventContextOf, readForm } from '@mcp-auth/http';
import { html, sendPage } from '@mcp-auth/web';
import type { AdminDeps } from '../deps.ts';
import { activityPage } from './activity-page.ts';
import { clientPages } from './clients-page.ts';
import { keysPage } from './keys-page.ts';
import { consoleSession } from './session.ts';
import type { Context } from 'koa';
import type { ConsoleActor } from './types.ts';
import { CONSOLE_STYLESHEET } from './style.ts';
import { userPages } from './users-page.ts';
import { webhookPages } from './webhooks-page.ts';

const ADMIN_ACTOR = { kind: 'admin' as const, id: 'console' };

/** The admin console: server-rendered pages over the same read models and commands as the admin API. */
export function consoleRoutes(deps: AdminDeps): Router {
  const router = new Router();
  const actor: ConsoleActor = (ctx) => eventContextOf(ctx, ADMIN_ACTOR);
  const session = consoleSession(deps, actor);

  router.get('/admin/assets/style.css', (ctx) => {
    ctx.type = 'text/css; charset=utf-8';
    ctx.set('Cache-Control', 'public, max-age=3600');
    ctx.body = CONSOLE_STYLESHEET;
  });

  const signInForm = (ctx: Context, error?: string) =>
    sendPage(ctx, {
      title: 'Admin console · Sign in',
      stylesheet: '/admin/assets/style.css',
      status: !deps.credential ? 503 : error ? 401 : 200,
      body: !deps.credential
        ? html`<div class="signin"><h1>Admin console</h1><p class="notice" role="alert">The console is off: set ADMIN_TOKEN (at least 32 characters) on the admin service.</p></div>`
        : html`<div class="signin">
<h1>Admin console</h1>
${error ? html`<p class="error" role="alert">${error}</p>` : ''}
<form method="post" action="/admin/sign-in">
  <input type="hidden" name="_csrf" value="${session.csrf.tokenFor(ctx)}">
  <label for="admin-token">Admin token</label>
  <input type="password" id="admin-token" name="admin_token" autocomplete="current-password" required autofocus>
  <button type="submit">Sign in</button>
</form>
<p class="muted">The admin token is the service's ADMIN_TOKEN setting.</p>
</div>`,
    });

  router.get('/admin/sign-in', async (ctx) => {
    if (await session.isSignedIn(ctx)) return ctx.redirect('/admin');
    signInForm(ctx);
  });

  router.post('/admin/sign-in', async (ctx) => {
    const form = await readForm(ctx);
    session.csrf.verify(ctx, form._csrf);
    if (!deps.credential?.matches(form.admin_token)) return signInForm(ctx, 'That is not the admin token.');
    session.signIn(ctx);
    ctx.status = 303;
    ctx.redirect('/admin');
  });

  router.post('/admin/sign-out', async (ctx) => {
    const form = await readForm(ctx);
    session.csrf.verify(ctx, form._csrf);
    await session.signOut(ctx);
    ctx.status = 303;
    ctx.redirect('/admin/sign-in');
  });

  const pages = new Router();
  pages.use(session.required);
  activityPage(pages, deps, session);
  clientPages(pages, deps, session, actor);
  userPages(pages, deps, session, actor);
  webhookPages(pages, deps, session, actor);
  keysPage(pages, deps, session);
  router.use(pages.routes());
  return router;
}
