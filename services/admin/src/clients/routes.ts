import Router from '@koa/router';
import { z } from 'zod';
import { isSubjectToken } from '@mcp-auth/contracts';
import { HttpError, eventContextOf } from '@mcp-auth/http';
import { isDocumentClientId } from '@mcp-auth/read-models';
import { notFound, nowSeconds, page, parseQuery, searchText } from '../api/query.ts';
import { clientJson, grantJson } from '../api/presenters.ts';
import type { AdminDeps } from '../deps.ts';
import { ClientNotFound, DOCUMENT_CLIENT_READ_ONLY, deleteClient } from './client-commands.ts';

const ListClients = z.object({ q: searchText, status: z.enum(['active', 'deleted', 'any']).default('active'), ...page });

/**
 * GET /clients, GET /clients/:id (with its grants), DELETE /clients/:id (its consents and grants end with it).
 * Document clients (client_id = the URL of their metadata document) are listed with registrations, read-only.
 */
export function clientRoutes(deps: AdminDeps): Router {
  const router = new Router();

  router.get('/clients', (ctx) => {
    const { q, status, limit, offset } = parseQuery(ctx, ListClients);
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { clients: deps.clientUsage.search({ query: q, status, limit, offset, nowSeconds: nowSeconds() }).map(clientJson) };
  });

  router.get('/clients/:clientId', (ctx) => {
    const { clientId } = ctx.params as { clientId: string };
    const now = nowSeconds();
    const client = isSubjectToken(clientId) || isDocumentClientId(clientId) ? deps.clientUsage.find(clientId, now) : null;
    if (!client) throw notFound('client');
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { ...clientJson(client), grants: deps.grantList.list({ clientId, nowSeconds: now, limit: 500 }).map(grantJson) };
  });

  router.delete('/clients/:clientId', async (ctx) => {
    const { clientId } = ctx.params as { clientId: string };
    if (isDocumentClientId(clientId)) throw documentClientIsReadOnly(deps, clientId);
    if (!isSubjectToken(clientId)) throw notFound('client');
    try {
      await deleteClient(deps, clientId, eventContextOf(ctx, ctx.state.actor));
    } catch (err) {
      if (err instanceof ClientNotFound) throw notFound('client');
      throw err;
    }
    ctx.status = 204;
  });

  return router;
}

function documentClientIsReadOnly(deps: AdminDeps, clientId: string): HttpError {
  if (!deps.clientUsage.find(clientId, nowSeconds())) return notFound('client');
  return new HttpError(409, { error: 'client_not_deletable', error_description: DOCUMENT_CLIENT_READ_ONLY });
}
