import type Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import { isSubjectToken } from '@mcp-auth/contracts';
import { isDocumentClientId } from '@mcp-auth/read-models';
import { readForm } from '@mcp-auth/http';
import { html } from '@mcp-auth/web';
import { nowSeconds } from '../api/query.ts';
import { ClientNotFound, DOCUMENT_CLIENT_READ_ONLY, deleteClient } from '../clients/client-commands.ts';
import type { ClientOverview } from '../clients/usage-projection.ts';
import type { AdminDeps } from '../deps.ts';
import { actionForm, consolePage, when } from './layout.ts';
import type { ConsoleSession } from './session.ts';
import type { ConsoleActor } from './types.ts';

const Filters = z.object({ q: z.string().max(200).catch(''), status: z.enum(['active', 'deleted', 'any']).catch('active') });

/**
 * Clients with their last use and live grants; an admin can delete a registered one (its live grants are revoked
 * with it). A document client is shown by its verified host and name, read-only.
 */
export function clientPages(router: Router, deps: AdminDeps, session: ConsoleSession, actor: ConsoleActor): void {
  const clientAction = (ctx: Context, c: ClientOverview) => {
    if (c.source === 'document') return html`<span class="muted" title="${DOCUMENT_CLIENT_READ_ONLY}">not deletable: no registration</span>`;
    return c.status === 'active' ? actionForm(ctx, session, `/admin/clients/${encodeURIComponent(c.clientId)}/delete`, 'Delete') : '';
  };

  router.get('/admin/clients', (ctx) => {
    const { q, status } = Filters.parse(ctx.query);
    const clients = deps.clientUsage.search({ query: q, status, limit: 200, nowSeconds: nowSeconds() });
    consolePage(ctx, session, {
      title: 'Clients',
      body: html`
<form class="filters" method="get" action="/admin/clients">
  <span class="field"><label for="q">Search</label><input type="text" id="q" name="q" value="${q}" placeholder="name, host or client id"></span>
  <span class="field"><label for="status">Status</label>
  <select id="status" name="status">${(['active', 'deleted', 'any'] as const).map((s) => html`<option value="${s}"${s === status ? html` selected` : ''}>${s}</option>`)}</select></span>
  <button type="submit">Search</button>
</form>
${clients.length === 0 ? html`<p class="muted">No clients.</p>` : html`
<table>
  <thead><tr><th>Name</th><th>Described by</th><th>Client id</th><th>Status</th><th>Registered</th><th>Last used</th><th>Live grants</th><th></th></tr></thead>
  <tbody>
  ${clients.map((c) => html`<tr>
    <td>${c.clientName ?? html`<span class="muted">unnamed</span>`}</td>
    <td>${c.verifiedHost ? html`its document at <strong><code>${c.verifiedHost}</code></strong> (verified)` : html`<span class="muted">registration</span>`}</td>
    <td><a href="/admin/grants?client=${encodeURIComponent(c.clientId)}"><code>${c.clientId}</code></a></td>
    <td class="state-${c.status}">${c.status}</td>
    <td>${when(c.registeredAt)}</td>
    <td>${when(c.lastUsedAt)}</td>
    <td>${c.liveGrants}</td>
    <td>${clientAction(ctx, c)}</td>
  </tr>`)}
  </tbody>
</table>`}`,
    });
  });

  router.post('/admin/clients/:clientId/delete', async (ctx) => {
    const form = await readForm(ctx);
    session.csrf.verify(ctx, form._csrf);
    const { clientId } = ctx.params as { clientId: string };
    if (isDocumentClientId(clientId)) {
      consolePage(ctx, session, { title: 'Clients', status: 409, body: html`<p class="notice">${DOCUMENT_CLIENT_READ_ONLY}</p><p><a href="/admin/clients">Back to the clients</a></p>` });
      return;
    }
    try {
      if (!isSubjectToken(clientId)) throw new ClientNotFound(clientId);
      await deleteClient(deps, clientId, actor(ctx));
    } catch (err) {
      if (!(err instanceof ClientNotFound)) throw err;
    }
    ctx.status = 303;
    ctx.redirect('/admin/clients');
  });
}
