import { Readable } from 'node:stream';
import Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import { ActorSchema, eventCatalogue, type EventType } from '@mcp-auth/contracts';
import { HttpError } from '@mcp-auth/http';
import { parseQuery } from '../api/query.ts';
import type { AdminDeps } from '../deps.ts';
import { AUDIT_OUTCOMES } from './describe.ts';
import { InvalidAuditQuery, MAX_AUDIT_PAGE, type AuditEntry, type AuditFilters } from './read-model.ts';

const EVENT_TYPES = Object.keys(eventCatalogue) as [EventType, ...EventType[]];

/** One value of a query parameter; sent twice, it is refused rather than guessed at. */
const single = () => z.string({ error: 'must be given once, as a string' });
const id = () => single().regex(/^[\x21-\x7e]{1,2048}$/, 'must be 1 to 2048 printable characters');
const instant = () => single().pipe(z.iso.datetime({ offset: true, error: 'must be an ISO 8601 date-time with a time zone, such as 2025-01-31T12:00:00Z' }));

/** type=A,B and type=A&type=B both work. */
const eventTypes = z
  .union([z.string(), z.array(z.string()).max(EVENT_TYPES.length)], { error: 'must be event type names' })
  .transform((value) => (Array.isArray(value) ? value : [value]).flatMap((part) => part.split(',')).map((name) => name.trim()).filter(Boolean))
  .pipe(z.array(z.enum(EVENT_TYPES, { error: 'is not an event type of the catalogue' })).min(1, 'names no event type'));

const filterParams = {
  user: id().optional(),
  client: id().optional(),
  grant: id().optional(),
  type: eventTypes.optional(),
  actor: single().pipe(ActorSchema.shape.kind).optional(),
  outcome: single().pipe(z.enum(AUDIT_OUTCOMES)).optional(),
  since: instant().optional(),
  until: instant().optional(),
};

export const exportQuery = z.strictObject(filterParams);
export const pageQuery = z.strictObject({
  ...filterParams,
  cursor: single().max(100).optional(),
  limit: single()
    .regex(/^\d{1,4}$/, `must be a whole number from 1 to ${MAX_AUDIT_PAGE}`)
    .transform(Number)
    .pipe(z.number().min(1, `must be from 1 to ${MAX_AUDIT_PAGE}`).max(MAX_AUDIT_PAGE, `must be from 1 to ${MAX_AUDIT_PAGE}`))
    .optional(),
});

/**
 * The audit trail over HTTP, under /admin/api (behind the admin bearer credential):
 *
 *   GET /audit          ?user= &client= &grant= &type= &actor= &outcome= &since= &until= &cursor= &limit=
 *                       → { events: AuditEntryJson[], next_cursor: string | null }, newest first
 *   GET /audit/export   the same filters, without cursor and limit → JSON Lines, one AuditEntryJson a line, oldest first
 *
 * type takes a comma-separated list or is repeated; since is inclusive, until exclusive; next_cursor fetches
 * the next older page. Like the rest of the admin API, the JSON is snake_case, down to the keys of details.
 */
export function auditRoutes(deps: AdminDeps): Router {
  const router = new Router();

  router.get('/audit', (ctx) => {
    const { cursor, limit, ...filters } = parseQuery(ctx, pageQuery);
    const page = readingTrail(() => deps.audit.query({ ...filtersOf(filters), ...(cursor !== undefined ? { cursor } : {}), ...(limit !== undefined ? { limit } : {}) }));
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { events: page.events.map(auditEntryJson), next_cursor: page.nextCursor };
  });

  router.get('/audit/export', (ctx: Context) => {
    sendAuditExport(ctx, readingTrail(() => deps.audit.exportRows(filtersOf(parseQuery(ctx, exportQuery)))));
  });

  return router;
}

/** Streams audit entries as a JSON Lines download (the API's export and the console's). */
export function sendAuditExport(ctx: Context, rows: Iterable<AuditEntry>): void {
  ctx.set('Content-Type', 'application/jsonl; charset=utf-8');
  ctx.set('Content-Disposition', 'attachment; filename="audit.jsonl"');
  ctx.set('Cache-Control', 'no-store');
  ctx.body = Readable.from(jsonLines(rows));
}

type FilterParams = z.infer<typeof exportQuery>;

export function filtersOf(params: FilterParams): AuditFilters {
  const filters: AuditFilters = {};
  if (params.user !== undefined) filters.userId = params.user;
  if (params.client !== undefined) filters.clientId = params.client;
  if (params.grant !== undefined) filters.grantId = params.grant;
  if (params.type !== undefined) filters.types = params.type;
  if (params.actor !== undefined) filters.actorKind = params.actor;
  if (params.outcome !== undefined) filters.outcome = params.outcome;
  if (params.since !== undefined) filters.since = params.since;
  if (params.until !== undefined) filters.until = params.until;
  return filters;
}

export function readingTrail<T>(read: () => T): T {
  try {
    return read();
  } catch (err) {
    if (err instanceof InvalidAuditQuery) throw new HttpError(400, { error: 'invalid_request', error_description: err.message });
    throw err;
  }
}

/** Lines are sent in chunks of some tens of kilobytes: one write per line would be slow, one string for everything too big. */
function* jsonLines(entries: Iterable<AuditEntry>): Generator<string, void, undefined> {
  let chunk = '';
  for (const entry of entries) {
    chunk += `${JSON.stringify(auditEntryJson(entry))}\n`;
    if (chunk.length >= 64 * 1024) {
      yield chunk;
      chunk = '';
    }
  }
  if (chunk) yield chunk;
}

/** An audit entry as the API shows it. */
export function auditEntryJson(e: AuditEntry) {
  return {
    position: e.position,
    event_id: e.eventId,
    type: e.type,
    occurred_at: e.occurredAt,
    actor: { kind: e.actor.kind, id: e.actor.id },
    user_id: e.userId,
    client_id: e.clientId,
    grant_id: e.grantId,
    source_address: e.sourceAddress,
    request_id: e.requestId,
    outcome: e.outcome,
    details: Object.fromEntries(Object.entries(e.details).map(([key, value]) => [snakeCase(key), value])),
  };
}

function snakeCase(name: string): string {
  return name.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);
}
