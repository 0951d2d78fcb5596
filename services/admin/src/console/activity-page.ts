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
/** One row per try of every webhook delivery: they outnumber everything else, so the trail leaves them out unless asked. */
const DELIVERY_ATTEMPTS = 'WebhookDeliveryAttempted';
const TYPES_BUT_ATTEMPTS = TYPES.filter((t) => t !== DELIVERY_ATTEMPTS);
/** The console's own field (not an audit filter): show the delivery attempts too. */
const SHOW_ATTEMPTS = 'attempts';

/** Keeps only the filters the form sets, so empty fields do not fail validation. */
function setFields(query: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(query).filter(([, v]) => v !== ''));
}

/** The audit trail, newest first, with filters, older pages and a JSON Lines download. */
export function activityPage(router: Router, deps: AdminDeps, session: ConsoleSession): void {
  router.get('/admin', (ctx) => {
    const { [SHOW_ATTEMPTS]: attemptsField, ...fields } = setFields(ctx.query);
    const showAttempts = attemptsField === 'shown';
    const parsed = pageQuery.safeParse(fields);
    let body: SafeHtml;
    if (!parsed.success) {
      body = html`<p class="error" role="alert">These filters are not valid: ${parsed.error.issues[0]?.path.join('.')} ${parsed.error.issues[0]?.message}</p>`;
    } else {
      const { cursor, limit, ...filters } = parsed.data;
      const audit = filtersOf(filters);
      // Asked for by type, the attempts are shown whatever the toggle says.
      if (!showAttempts && audit.types === undefined) audit.types = TYPES_BUT_ATTEMPTS;
      const page = readingTrail(() => deps.audit.query({ ...audit, ...(cursor ? { cursor } : {}), limit: limit ?? 50 }));
      const own = new URLSearchParams(Object.entries(fields).filter(([k]) => k !== 'cursor').map(([k, v]): [string, string] => [k, String(v)]));
      const exported = new URLSearchParams(own);
      if (audit.types === TYPES_BUT_ATTEMPTS) exported.set('type', TYPES_BUT_ATTEMPTS.join(','));
      if (showAttempts) own.set(SHOW_ATTEMPTS, 'shown');
      const olderParams = new URLSearchParams(own);
      if (page.nextCursor) olderParams.set('cursor', page.nextCursor);
      const older = page.nextCursor ? `/admin?${olderParams.toString()}` : null;
      body = html`${entriesTable(page.events, names(deps))}
<p>${older ? html`<a href="${older}">Older events</a> · ` : ''}<a href="/admin/audit/export?${exported.toString()}">Download as JSON Lines</a></p>`;
    }
    const value = (k: string) => (typeof fields[k] === 'string' ? (fields[k] as string) : '');
    consolePage(ctx, session, {
      title: 'Activity',
      body: html`
<form class="filters" method="get" action="/admin">
  <span class="field"><label for="f-user">User id</label><input type="text" id="f-user" name="user" value="${value('user')}"></span>
  <span class="field"><label for="f-client">Client id</label><input type="text" id="f-client" name="client" value="${value('client')}"></span>
  <span class="field"><label for="f-type">Event</label>
  <select id="f-type" name="type"><option value="">any</option>${TYPES.map((t) => html`<option${t === value('type') ? html` selected` : ''}>${t}</option>`)}</select></span>
  <span class="field"><label for="f-outcome">Outcome</label>
  <select id="f-outcome" name="outcome"><option value="">any</option>${AUDIT_OUTCOMES.map((o) => html`<option${o === value('outcome') ? html` selected` : ''}>${o}</option>`)}</select></span>
  <span class="field"><input type="checkbox" id="f-attempts" name="${SHOW_ATTEMPTS}" value="shown"${showAttempts ? html` checked` : ''}><label for="f-attempts">Webhook delivery attempts</label></span>
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

/** Who an id is, for people reading the trail: usernames and client names, looked up once a page. */
type Names = { user(id: string): string | null; client(id: string): string | null };

function names(deps: AdminDeps): Names {
  const users = new Map<string, string | null>();
  const clients = new Map<string, string | null>();
  const remembered = (cache: Map<string, string | null>, id: string, find: () => string | null | undefined) => {
    if (!cache.has(id)) cache.set(id, find() ?? null);
    return cache.get(id)!;
  };
  return {
    user: (id) => remembered(users, id, () => deps.users.find(id)?.username),
    client: (id) => remembered(clients, id, () => deps.clients.find(id)?.metadata.client_name),
  };
}

/** A user or client by name, linked to its grants, its id on hover (and shown when it has no name). */
function named(kind: 'user' | 'client', id: string, name: string | null): SafeHtml {
  return html`<a href="/admin/grants?${kind}=${encodeURIComponent(id)}" title="${id}">${name ?? html`<code>${id}</code>`}</a>`;
}

function actorCell(actor: AuditEntry['actor'], who: Names): SafeHtml {
  if (actor.kind === 'user') return html`user ${named('user', actor.id, who.user(actor.id))}`;
  if (actor.kind === 'client') return html`client ${named('client', actor.id, who.client(actor.id))}`;
  return html`${actor.kind} <code>${actor.id}</code>`;
}

/** snake_case, as the admin API names the same keys. */
function snakeCase(name: string): string {
  return name.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);
}

/** The event's details as key and value, leaving out what the row's columns already say. */
function detailsList(entry: AuditEntry): SafeHtml {
  const shown = Object.entries(entry.details).filter(
    ([key, value]) => value !== null && value !== undefined && !(key === 'userId' && value === entry.userId) && !(key === 'clientId' && value === entry.clientId),
  );
  if (shown.length === 0) return html``;
  const text = (value: unknown) => (Array.isArray(value) ? value.join(' ') : typeof value === 'object' ? JSON.stringify(value) : String(value));
  return html`<dl class="details">${shown.map(([key, value]) => html`<div><dt>${snakeCase(key)}</dt><dd>${text(value)}</dd></div>`)}</dl>`;
}

function entriesTable(entries: AuditEntry[], who: Names): SafeHtml {
  if (entries.length === 0) return html`<p class="muted">No events.</p>`;
  return html`
<table class="activity">
  <thead><tr><th>When</th><th>Event</th><th>Actor</th><th>User</th><th>Client</th><th>From</th><th>Outcome</th><th>Details</th></tr></thead>
  <tbody>
  ${entries.map((e) => html`<tr>
    <td>${when(e.occurredAt)}</td>
    <td>${e.type}</td>
    <td>${actorCell(e.actor, who)}</td>
    <td>${e.userId ? named('user', e.userId, who.user(e.userId)) : ''}</td>
    <td>${e.clientId ? named('client', e.clientId, who.client(e.clientId)) : ''}</td>
    <td>${e.sourceAddress ?? ''}</td>
    <td class="state-${e.outcome}">${e.outcome}</td>
    <td>${detailsList(e)}</td>
  </tr>`)}
  </tbody>
</table>`;
}
