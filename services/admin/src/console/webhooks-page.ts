import type Router from '@koa/router';
import { z } from 'zod';
import { isSubjectToken } from '@mcp-auth/contracts';
import { HttpError, readForm } from '@mcp-auth/http';
import { html, type SafeHtml } from '@mcp-auth/web';
import type { AdminDeps } from '../deps.ts';
import { webhookCommands } from '../webhooks/commands.ts';
import { DELIVERY_STATES, type WebhookDelivery, type WebhookEndpoint } from '../webhooks/projection.ts';
import { actionForm, consolePage, when } from './layout.ts';
import type { ConsoleSession } from './session.ts';
import type { Context } from 'koa';
import type { ConsoleActor } from './types.ts';

const Filters = z.object({ state: z.enum(DELIVERY_STATES as [string, ...string[]]).optional().catch(undefined) });

/** Webhook endpoints (add, remove) and their deliveries, dead letters first in mind. */
export function webhookPages(router: Router, deps: AdminDeps, session: ConsoleSession, actor: ConsoleActor): void {
  const commands = webhookCommands(deps);

  const render = (ctx: Context, notice: SafeHtml | '' = '', status?: number) => {
    const { state } = Filters.parse(ctx.query);
    const deliveries = deps.webhooks.deliveries({ ...(state ? { state: state as WebhookDelivery['state'] } : {}), limit: 200 });
    const endpoints = deps.webhooks.list();
    consolePage(ctx, session, {
      title: 'Webhooks',
      ...(status ? { status } : {}),
      body: html`${notice}
${endpointsTable(ctx, session, endpoints)}
<h2>Add an endpoint</h2>
${deps.config.WEBHOOK_SECRETS_KEY ? html`
<form class="filters" method="post" action="/admin/webhooks">
  <input type="hidden" name="_csrf" value="${session.csrf.tokenFor(ctx)}">
  <span class="field"><label for="wh-url">URL</label><input type="url" id="wh-url" name="url" required size="40" placeholder="https://hooks.example.com/mcp-auth"></span>
  <span class="field"><label for="wh-events">Events</label><input type="text" id="wh-events" name="event_types" value="*" size="30" title="Event types, comma-separated; * for all"></span>
  <span class="field"><label for="wh-description">Description</label><input type="text" id="wh-description" name="description"></span>
  <button type="submit">Add endpoint</button>
</form>` : html`<p class="notice">Set WEBHOOK_SECRETS_KEY on the admin service to register webhooks.</p>`}
<h2>Deliveries</h2>
<form class="filters" method="get" action="/admin/webhooks">
  <span class="field"><label for="wh-state">State</label>
  <select id="wh-state" name="state"><option value="">any</option>${DELIVERY_STATES.map((s) => html`<option value="${s}"${s === state ? html` selected` : ''}>${s.replace('_', ' ')}</option>`)}</select></span>
  <button type="submit">Show</button>
</form>
${deliveriesTable(ctx, session, deliveries, new Map(deps.webhooks.list({ includeRemoved: true }).map((w) => [w.webhookId, w.url])))}`,
    });
  };

  router.get('/admin/webhooks', (ctx) => render(ctx));

  router.post('/admin/webhooks', async (ctx) => {
    const form = await readForm(ctx);
    session.csrf.verify(ctx, form._csrf);
    const eventTypes = (form.event_types ?? '').split(',').map((t) => t.trim()).filter(Boolean);
    try {
      const { endpoint, secret } = await commands.register({ url: form.url ?? '', eventTypes, description: form.description ?? '' }, actor(ctx));
      render(
        ctx,
        html`<div class="notice" role="status"><p>Endpoint <code>${endpoint.webhookId}</code> added. Its signing secret is shown this once; keep it with the receiver:</p><p><code data-secret>${secret}</code></p></div>`,
        201,
      );
    } catch (err) {
      if (!(err instanceof HttpError) || err.status >= 500) throw err;
      render(ctx, html`<p class="error" role="alert">${err.message}</p>`, 400);
    }
  });

  router.post('/admin/webhooks/deliveries/:deliveryId/retry', async (ctx) => {
    const form = await readForm(ctx);
    session.csrf.verify(ctx, form._csrf);
    try {
      await commands.retryDelivery((ctx.params as { deliveryId: string }).deliveryId, actor(ctx));
    } catch (err) {
      if (!(err instanceof HttpError) || err.status >= 500) throw err;
      return render(ctx, html`<p class="error" role="alert">${err.message}</p>`, err.status);
    }
    ctx.status = 303;
    ctx.redirect('/admin/webhooks');
  });

  router.post('/admin/webhooks/:webhookId/remove', async (ctx) => {
    const form = await readForm(ctx);
    session.csrf.verify(ctx, form._csrf);
    const { webhookId } = ctx.params as { webhookId: string };
    if (isSubjectToken(webhookId)) {
      try {
        await commands.remove(webhookId, actor(ctx));
      } catch (err) {
        if (!(err instanceof HttpError) || err.status !== 404) throw err;
      }
    }
    ctx.status = 303;
    ctx.redirect('/admin/webhooks');
  });
}

function endpointsTable(ctx: Context, session: ConsoleSession, endpoints: WebhookEndpoint[]): SafeHtml {
  if (endpoints.length === 0) return html`<p class="muted">No webhook endpoints.</p>`;
  return html`
<table aria-label="Endpoints">
  <thead><tr><th>URL</th><th>Events</th><th>Description</th><th>Added</th><th>Delivered</th><th>Pending</th><th>Dead-lettered</th><th></th></tr></thead>
  <tbody>
  ${endpoints.map((w) => html`<tr>
    <td><code>${w.url}</code></td><td><code>${w.eventTypes.join(', ')}</code></td><td>${w.description}</td><td>${when(w.createdAt)}</td>
    <td>${w.deliveries.delivered}</td><td>${w.deliveries.pending}</td>
    <td${w.deliveries.deadLettered > 0 ? html` class="state-dead_lettered"` : ''}>${w.deliveries.deadLettered}</td>
    <td>${actionForm(ctx, session, `/admin/webhooks/${encodeURIComponent(w.webhookId)}/remove`, 'Remove')}</td>
  </tr>`)}
  </tbody>
</table>`;
}

function deliveriesTable(ctx: Context, session: ConsoleSession, deliveries: WebhookDelivery[], urls: Map<string, string>): SafeHtml {
  if (deliveries.length === 0) return html`<p class="muted">No deliveries.</p>`;
  return html`
<table aria-label="Deliveries">
  <thead><tr><th>Delivery (webhook-id)</th><th>Endpoint</th><th>Event</th><th>State</th><th>Attempts</th><th>Last status</th><th>Last error</th><th>Last attempt</th><th></th></tr></thead>
  <tbody>
  ${deliveries.map((d) => html`<tr>
    <td><code>${d.deliveryId}</code></td><td title="${d.webhookId}">${urls.has(d.webhookId) ? html`<code>${urls.get(d.webhookId)}</code>` : html`<code>${d.webhookId}</code>`}</td><td>${d.eventType}</td>
    <td class="state-${d.state}">${d.state.replace('_', ' ')}</td><td>${d.attempts}</td>
    <td>${d.lastStatus ?? ''}</td><td>${d.lastError ?? ''}</td><td>${when(d.lastAttemptAt)}</td>
    <td>${d.state === 'dead_lettered' ? actionForm(ctx, session, `/admin/webhooks/deliveries/${encodeURIComponent(d.deliveryId)}/retry`, 'Retry') : ''}</td>
  </tr>`)}
  </tbody>
</table>`;
}
