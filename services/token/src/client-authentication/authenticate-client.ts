import type { Context } from 'koa';
import { decodeProtectedHeader } from 'jose';
import { isSubjectToken, subjects } from '@mcp-auth/contracts';
import { ConcurrencyConflict, type EventStore } from '@mcp-auth/event-store';
import { eventContextOf, type Logger } from '@mcp-auth/http';
import {
  AssertionReplayed,
  CLIENT_ASSERTION_TYPE,
  InvalidClient,
  InvalidRequest,
  assertionClientId,
  assertionUse,
  looksLikeClientIdUrl,
  secretMatchesHash,
  verifyClientAssertion,
  type AssertionUseState,
} from '@mcp-auth/oauth';
import type { ClientDirectory, ClientsReadModel, RegisteredClient } from '@mcp-auth/read-models';
import { catchUpWithSubject, executeCommand, type AggregateCommand, type Projector } from '@mcp-auth/event-sourcing';
import type { ClientKeySource, ClientKeys } from './client-keys.ts';
import { recordedDocumentClient } from './document-clients.ts';

export type ClientCredentials = {
  method: 'none' | 'client_secret_post' | 'client_secret_basic' | 'private_key_jwt';
  clientId: string;
  secret: string | null;
  /** The client assertion (private_key_jwt), unverified. */
  assertion?: string;
};

/**
 * Reads how the client authenticates (RFC 6749 §2.3): HTTP Basic, or client_id (+ client_secret) in the
 * form. Using two methods at once is an error (§2.3).
 */
export function presentedCredentials(authorization: string, form: Record<string, string>): ClientCredentials {
  if (form.client_assertion !== undefined || form.client_assertion_type !== undefined) return presentedAssertion(authorization, form);
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
 * RFC 7523 §2.2, RFC 7521 §4.2: a client assertion, with an optional client_id that must name the assertion's
 * subject. Never together with HTTP Basic or a client_secret (RFC 6749 §2.3: one method per request).
 */
function presentedAssertion(authorization: string, form: Record<string, string>): ClientCredentials {
  if (authorization || form.client_secret !== undefined) throw new InvalidRequest('Use one client authentication method, not two.');
  if (form.client_assertion_type !== CLIENT_ASSERTION_TYPE) throw new InvalidClient(`client_assertion_type must be ${CLIENT_ASSERTION_TYPE}.`);
  if (!form.client_assertion) throw new InvalidClient('client_assertion is required with client_assertion_type.');
  const clientId = assertionClientId(form.client_assertion);
  if (!clientId || (form.client_id !== undefined && form.client_id !== clientId)) throw new InvalidClient('Client authentication failed.');
  return { method: 'private_key_jwt', clientId, secret: null, assertion: form.client_assertion };
}

/** Where the client's keys come from, and what an assertion must name as its audience. */
export type AssertionDeps = {
  clientKeys: ClientKeys;
  /** This server's identifiers an assertion's aud may name (RFC 7523 §3 item 3): the issuer, the token endpoint, the endpoint called. */
  audiences: readonly string[];
  logger: Logger;
};

/**
 * What an assertion sent to `path` may name as its audience: the issuer identifier (draft-ietf-oauth-rfc7523bis
 * moves clients to it), the token endpoint URL (RFC 7523 §3 item 3), and the endpoint it is sent to.
 */
export function assertionAudiences(config: { ISSUER: string; TOKEN_BASE_URL: string }, path: string): string[] {
  return [...new Set([config.ISSUER, `${config.TOKEN_BASE_URL}/token`, `${config.TOKEN_BASE_URL}${path}`])];
}

/**
 * Authenticates the client per its registered method; secrets are checked in constant time against their
 * hash. Every failure is the same invalid_client (401), with a Basic challenge when Basic was tried.
 */
export async function authenticateClient(
  ctx: Context,
  form: Record<string, string>,
  { clients, directory, store, projector, ...assertions }: { clients: ClientsReadModel; directory: ClientDirectory; store: EventStore; projector: Projector } & AssertionDeps,
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
  if (presented.method === 'private_key_jwt') {
    await verifyAssertion(ctx, presented.assertion!, client.clientId, client.metadata, { store, projector, ...assertions }, fail);
  } else if (presented.method !== 'none') {
    if (!client.clientSecretHash || !presented.secret || !secretMatchesHash(presented.secret, client.clientSecretHash)) throw fail();
  }
  return client;
}

/**
 * RFC 7523 §3: the assertion verified with the client's keys (fetched again once if it names a key the cached set
 * lacks), then its single use recorded: ClientAssertionUsed appended on its replay key's subject, which must be
 * new, so a replay on any replica is refused (RFC 7523 §3 item 7). Every failure is invalid_client (§3.2), the
 * reason only in the log.
 */
export async function verifyAssertion(
  ctx: Context,
  assertion: string,
  clientId: string,
  keySource: ClientKeySource,
  { clientKeys, audiences, logger, store, projector }: AssertionDeps & { store: EventStore; projector: Projector },
  fail: () => Error,
): Promise<void> {
  const refuse = (reason: string) => {
    logger.info({ clientId, reason }, 'client assertion refused');
    return fail();
  };
  if (keySource.token_endpoint_auth_signing_alg !== undefined && headerAlg(assertion) !== keySource.token_endpoint_auth_signing_alg) {
    throw refuse(`the client signs with ${keySource.token_endpoint_auth_signing_alg} only`);
  }
  const verify = async (afterUnknownKey: boolean) => {
    const keys = await clientKeys.keysOf(keySource, { afterUnknownKey });
    if (!keys.ok) return { ok: false as const, reason: 'unknown_key' as const, description: keys.description };
    return verifyClientAssertion(assertion, { clientId, jwks: keys.jwks, audiences, now: new Date() });
  };
  let verdict = await verify(false);
  if (!verdict.ok && verdict.reason === 'unknown_key' && keySource.jwks_uri) verdict = await verify(true);
  if (!verdict.ok) throw refuse(verdict.description);

  const use = { replayKey: verdict.replayKey, clientId, expiresAt: verdict.expiresAt };
  const command: AggregateCommand<AssertionUseState> = {
    subject: subjects.clientAssertion(verdict.replayKey),
    load: () => assertionUse.initialState(),
    decide: (state) => assertionUse.decide(use, state),
  };
  try {
    await executeCommand({ store, projector }, command, eventContextOf(ctx, { kind: 'client' as const, id: clientId }), { expectedVersion: 0, answerWhen: 'recorded' });
  } catch (err) {
    if (err instanceof ConcurrencyConflict || err instanceof AssertionReplayed) throw refuse('the assertion was already used');
    throw err;
  }
}

function headerAlg(assertion: string): string | undefined {
  try {
    return String(decodeProtectedHeader(assertion).alg);
  } catch {
    return undefined;
  }
}
