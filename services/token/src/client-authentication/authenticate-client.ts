import type { Context } from 'koa';
import { isSubjectToken, subjects } from '@mcp-auth/contracts';
import type { EventStore } from '@mcp-auth/event-store';
import { InvalidClient, InvalidRequest, looksLikeClientIdUrl, secretMatchesHash } from '@mcp-auth/oauth';
import type { ClientDirectory, ClientsReadModel, RegisteredClient } from '@mcp-auth/projections';
import { catchUpWithSubject, type Projector } from '@mcp-auth/projector';
import { recordedDocumentClient } from './document-clients.ts';

export type ClientCredentials = {
  method: 'none' | 'client_secret_post' | 'client_secret_basic';
  clientId: string;
  secret: string | null;
};

/**
 * Reads how the client authenticates (RFC 6749 §2.3): HTTP Basic, or client_id (+ client_secret) in the
 * form. Using two methods at once is an error (§2.3).
 */
export function presentedCredentials(authorization: string, form: Record<string, string>): ClientCredentials {
  const basic = /^Basic ([A-Za-z0-9+/=]+)$/i.exec(authorization);
  if (authorization && !basic) throw new InvalidClient('Unsupported Authorization header; use HTTP Basic or client_secret_post.', { basic: true });
  if (basic) {
    if (form.client_secret !== undefined) throw new InvalidRequest('Use one client authentication method, not two.');
    const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) throw new InvalidClient('Malformed HTTP Basic credentials.', { basic: true });
    let clientId: string;
    let secret: string;
    try {
      // RFC 6749 §2.3.1: both parts are form-urlencoded before Base64.
      clientId = decodeURIComponent(decoded.slice(0, colon).replace(/\+/g, ' '));
      secret = decodeURIComponent(decoded.slice(colon + 1).replace(/\+/g, ' '));
    } catch {
      throw new InvalidClient('Malformed HTTP Basic credentials.', { basic: true });
    }
    if (form.client_id !== undefined && form.client_id !== clientId) throw new InvalidRequest('client_id differs from the authenticated client.');
    return { method: 'client_secret_basic', clientId, secret };
  }
  if (!form.client_id) throw new InvalidClient('Client authentication failed: no client_id.');
  if (form.client_secret !== undefined) return { method: 'client_secret_post', clientId: form.client_id, secret: form.client_secret };
  return { method: 'none', clientId: form.client_id, secret: null };
}

/**
 * Authenticates the client per its registered method; secrets are checked in constant time against their
 * hash. Every failure is the same invalid_client (401), with a Basic challenge when Basic was tried.
 */
export async function authenticateClient(
  ctx: Context,
  form: Record<string, string>,
  { clients, directory, store, projector }: { clients: ClientsReadModel; directory: ClientDirectory; store: EventStore; projector: Projector },
): Promise<RegisteredClient> {
  const presented = presentedCredentials(ctx.get('Authorization'), form);
  const fail = () => new InvalidClient('Client authentication failed.', { basic: presented.method === 'client_secret_basic' });
  const isDocument = looksLikeClientIdUrl(presented.clientId);
  if (!isDocument && !isSubjectToken(presented.clientId)) throw fail();
  let client = isDocument ? await recordedDocumentClient(presented.clientId, { directory, store, projector }) : clients.active(presented.clientId);
  if (!client && !isDocument) {
    // A client registered a moment ago on another replica: read its subject from the stream before refusing.
    await catchUpWithSubject(store, projector, subjects.client(presented.clientId));
    client = clients.active(presented.clientId);
  }
  if (!client || client.metadata.token_endpoint_auth_method !== presented.method) throw fail();
  if (presented.method !== 'none') {
    if (!client.clientSecretHash || !presented.secret || !secretMatchesHash(presented.secret, client.clientSecretHash)) throw fail();
  }
  return client;
}
