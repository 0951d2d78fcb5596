import type Router from '@koa/router';
import { z } from 'zod';
import { readForm } from '@mcp-auth/http';
import { html, type SafeHtml } from '@mcp-auth/web';
import { nowSeconds } from '../api/query.ts';
import type { AdminDeps } from '../deps.ts';
import type { GrantOverview } from '../grants/grant-list.ts';
import { GrantNotFound, revokeGrant } from '../grants/revoke-grant.ts';
import { actionForm, consolePage, when } from './layout.ts';
import { consoleReturnPath } from './return-path.ts';
import type { ConsoleSession } from './session.ts';
import type { Context } from 'koa';
import type { ConsoleActor } from './types.ts';

const Search = z.object({ q: z.string().max(200).catch('') });
const GrantFilters = z.object({ user: z.string().max(200).optional().catch(undefined), client: z.string().max(200).optional().catch(undefined) });

/** Users, each user's grants, and grants by client; an admin revokes a grant from here. */
export function userPages(router: Router, deps: AdminDeps, session: ConsoleSession, actor: ConsoleActor): void {
  router.get('/admin/users', (ctx) => {
    const { q } = Search.parse(ctx.query);
    const users = deps.users.search(q, 200);
    consolePage(ctx, session, {
      title: 'Users',
      body: html`
<form class="filters" method="get" action="/admin/users">
  <label for="q">Username</label><input type="text" id="q" name="q" value="${q}">
  <button type="submit">Search</button>
</form>
${users.length === 0 ? html`<p class="muted">No users.</p>` : html`
<table>
  <thead><tr><th>Username</th><th>User id</th><th>Created</th><th>Last sign-in</th></tr></thead>
  <tbody>
  ${users.map((u) => html`<tr>
    <td><a href="/admin/grants?user=${encodeURIComponent(u.userId)}">${u.username}</a></td>
    <td><code>${u.userId}</code></td><td>${when(u.createdAt)}</td><td>${when(u.lastSignedInAt)}</td>
  </tr>`)}
  </tbody>
</table>`}`,
    });
  });

  router.get('/admin/grants', (ctx) => {
    const { user, client } = GrantFilters.parse(ctx.query);
    const grants = deps.grantList.list({ userId: user ?? null, clientId: client ?? null, nowSeconds: nowSeconds(), limit: 500 });
    const who = user ? deps.users.find(user)?.username ?? user : null;
    const title = who ? `Grants of ${who}` : client ? `Grants to client ${client}` : 'Grants';
    consolePage(ctx, session, { title, body: grantsTable(ctx, session, grants, ctx.url) });
  });

  router.post('/admin/grants/:grantId/revoke', async (ctx) => {
    const form = await readForm(ctx);
    session.csrf.verify(ctx, form._csrf);
    const { grantId } = ctx.params as { grantId: string };
    try {
      await revokeGrant(deps, grantId, actor(ctx));
    } catch (err) {
      if (!(err instanceof GrantNotFound)) throw err;
    }
    ctx.status = 303;
    ctx.redirect(consoleReturnPath(form.return_to, '/admin/grants'));
  });
}

function grantsTable(ctx: Context, session: ConsoleSession, grants: GrantOverview[], returnTo: string): SafeHtml {
  if (grants.length === 0) return html`<p class="muted">No grants.</p>`;
  return html`
<table>
  <thead><tr><th>User</th><th>Client</th><th>Scopes</th><th>Granted</th><th>State</th><th></th></tr></thead>
  <tbody>
  ${grants.map((g) => html`<tr data-grant-id="${g.grantId}">
    <td><a href="/admin/grants?user=${encodeURIComponent(g.userId)}">${g.username ?? g.userId}</a></td>
    <td><a href="/admin/grants?client=${encodeURIComponent(g.clientId)}">${g.clientName ?? g.clientId}</a>${g.clientVerifiedHost ? html` <span class="muted">(${g.clientVerifiedHost})</span>` : ''}</td>
    <td><code>${g.scopes.join(' ')}</code></td>
    <td>${when(g.createdAt)}</td>
    <td class="state-${g.state}">${grantState(g)}</td>
    <td>${g.state === 'live' ? actionForm(ctx, session, `/admin/grants/${encodeURIComponent(g.grantId)}/revoke`, 'Revoke', { return_to: returnTo }) : ''}</td>
  </tr>`)}
  </tbody>
</table>`;
}

/** Why a grant ended, as a reader says it; the reason's words, never the state's again. */
const REVOKE_REASONS: Record<string, string> = {
  revoked_by_user: 'by the user',
  revoked_by_admin: 'by an admin',
  revoked_by_client: 'by the client',
  client_deleted: 'client deleted',
  refresh_token_reuse: 'a spent refresh token was reused',
  authorization_code_reuse: 'an authorization code was reused',
};

function grantState(g: GrantOverview): SafeHtml {
  const state = g.state.replaceAll('_', ' ');
  const reason = g.revokeReason ? (REVOKE_REASONS[g.revokeReason] ?? g.revokeReason.replaceAll('_', ' ')) : null;
  return html`${state}${reason && reason !== state ? html` <span class="muted">(${reason})</span>` : ''}`;
}
