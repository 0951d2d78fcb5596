import type Router from '@koa/router';
import { eventCatalogue } from '@mcp-auth/contracts';
import { html, type SafeHtml } from '@mcp-auth/web';
import { AUDIT_OUTCOMES } from '../audit/describe.ts';
import type { AuditEntry } from '../audit/read-model.ts';
import { exportQuery, filtersOf, pageQuery, readingTrail, sendAuditExport } from '../audit/routes.ts';
import type { AdminDeps } from '../deps.ts';
import { consolePage, when } from './layout.ts';
import type { ConsoleSession } from './session.ts';

const TYPES = Object.keys(eventCatalogue).sort();

/** Keeps only the filters the form sets, so empty fields do not fail validation. */
function setFields(query: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(query).filter(([, v]) => v !== ''));
}

/** The audit trail, newest first, with filters, older pages and a JSON Lines download. */
export function activityPage(router: Router, deps: AdminDeps, session: ConsoleSession): void {
  router.get('/admin', (ctx) => {
    const fields = setFields(ctx.query);
    const parsed = pageQuery.safeParse(fields);
    let body: SafeHtml;
    if (!parsed.success) {
      body = html`<p class="error" role="alert">These filters are not valid: ${parsed.error.issues[0]?.path.join('.')} ${parsed.error.issues[0]?.message}</p>`;
    } else {
      const { cursor, limit, ...filters } = parsed.data;
      const page = readingTrail(() => deps.audit.query({ ...filtersOf(filters), ...(cursor ? { cursor } : {}), limit: limit ?? 50 }));
      const own = new URLSearchParams(Object.entries(fields).filter(([k]) => k !== 'cursor').map(([k, v]): [string, string] => [k, String(v)]));
      const olderParams = new URLSearchParams(own);
      if (page.nextCursor) olderParams.set('cursor', page.nextCursor);
      const older = page.nextCursor ? `/admin?${olderParams.toString()}` : null;
      body = html`${entriesTable(page.events)}
<p>${older ? html`<a href="${older}">Older events</a> · ` : ''}<a href="/admin/audit/export?${own.toString()}">Download as JSON Lines</a></p>`;
    }
    const value = (k: string) => (typeof fields[k] === 'string' ? (fields[k] as string) : '');
    consolePage(ctx, session, {
      title: 'Activity',
      body: html`
<form class="filters" method="get" action="/admin">
  <label for="f-user">User id</label><input type="text" id="f-user" name="user" value="${value('user')}">
  <label for="f-client">Client id</label><input type="text" id="f-client" name="client" value="${value('client')}">
  <label for="f-type">Event</label>
  <select id="f-type" name="type"><option value="">any</option>${TYPES.map((t) => html`<option${t === value('type') ? html` selected` : ''}>${t}</option>`)}</select>
  <label for="f-outcome">Outcome</label>
  <select id="f-outcome" name="outcome"><option value="">any</option>${AUDIT_OUTCOMES.map((o) => html`<option${o === value('outcome') ? html` selected` : ''}>${o}</option>`)}</select>
  <button type="submit">Filter</button>
</form>
${body}`,
    });
  });

  router.get('/admin/audit/export', (ctx) => {
    const parsed = exportQuery.safeParse(setFields(ctx.query));
    if (!parsed.success) {
      ctx.status = 400;
      ctx.body = 'invalid filters';
      return;
    }
    sendAuditExport(ctx, readingTrail(() => deps.audit.exportRows(filtersOf(parsed.data))));
  });
}

function entriesTable(entries: AuditEntry[]): SafeHtml {
  if (entries.length === 0) return html`<p class="muted">No events.</p>`;
  return html`
<table>
  <thead><tr><th>When</th><th>Event</th><th>Actor</th><th>User</th><th>Client</th><th>From</th><th>Outcome</th><th>Details</th></tr></thead>
  <tbody>
  ${entries.map((e) => html`<tr>
    <td>${when(e.occurredAt)}</td>
    <td>${e.type}</td>
    <td>${e.actor.kind} <code>${e.actor.id}</code></td>
    <td>${e.userId ? html`<a href="/admin/grants?user=${encodeURIComponent(e.userId)}"><code>${e.userId}</code></a>` : ''}</td>
    <td>${e.clientId ? html`<a href="/admin/grants?client=${encodeURIComponent(e.clientId)}"><code>${e.clientId}</code></a>` : ''}</td>
    <td>${e.sourceAddress ?? ''}</td>
    <td class="state-${e.outcome}">${e.outcome}</td>
    <td><code>${Object.keys(e.details).length > 0 ? JSON.stringify(e.details) : ''}</code></td>
  </tr>`)}
  </tbody>
</table>`;
}
