import type { Context } from 'koa';
import { html, sendPage, type SafeHtml } from '@mcp-auth/web';
import type { ConsoleSession } from './session.ts';

const SECTIONS = [
  ['/admin', 'Activity'],
  ['/admin/clients', 'Clients'],
  ['/admin/users', 'Users'],
  ['/admin/webhooks', 'Webhooks'],
  ['/admin/keys', 'Signing keys'],
] as const;

/** A console page: the navigation, a sign-out form, and the body. */
export function consolePage(ctx: Context, session: ConsoleSession, { title, body, status }: { title: string; body: SafeHtml; status?: number }): void {
  sendPage(ctx, {
    title: `${title} · Admin console`,
    stylesheet: '/admin/assets/style.css',
    ...(status ? { status } : {}),
    body: html`
<nav aria-label="Console">
  ${SECTIONS.map(([href, label]) => html`<a href="${href}">${label}</a>`)}
  <form method="post" action="/admin/sign-out"><input type="hidden" name="_csrf" value="${session.csrf.tokenFor(ctx)}"><button class="secondary" type="submit">Sign out</button></form>
</nav>
<h1>${title}</h1>
${body}`,
  });
}

export function when(iso: string | null): SafeHtml {
  if (!iso) return html`<span class="muted">never</span>`;
  return html`<time datetime="${iso}">${iso.replace('T', ' ').replace(/\.\d+Z$|Z$/, ' UTC')}</time>`;
}

/** A form posting one action with the CSRF token; the button names what it does. */
export function actionForm(ctx: Context, session: ConsoleSession, action: string, label: string, hidden: Record<string, string> = {}): SafeHtml {
  return html`<form method="post" action="${action}">
  <input type="hidden" name="_csrf" value="${session.csrf.tokenFor(ctx)}">
  ${Object.entries(hidden).map(([k, v]) => html`<input type="hidden" name="${k}" value="${v}">`)}
  <button class="danger" type="submit">${label}</button>
</form>`;
}
