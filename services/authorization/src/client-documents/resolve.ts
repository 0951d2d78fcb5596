import { createHash } from 'node:crypto';
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { clientDocumentKey, subjects } from '@mcp-auth/contracts';
import type { EventStore } from '@mcp-auth/event-store';
import { tooManyRequests, type Logger, type RequestOrigin } from '@mcp-auth/http';
import { checkClientIdUrl, validateClientMetadataDocument } from '@mcp-auth/oauth';
import { fetchDocument, freshSeconds, type OutboundPolicy } from '@mcp-auth/outbound';
import { documentClient, type ClientDocumentsReadModel, type DirectoryClient } from '@mcp-auth/read-models';
import { catchUpWithSubject, executeCommand, type Projector } from '@mcp-auth/event-sourcing';
import type { AuthorizationConfig } from '../config.ts';
import { decide, isFresh, type ClientDocumentCommand, type ClientDocumentState } from './decider.ts';

/** CIMD §8.7 recommends reading at most 5 KB. */
const MAX_DOCUMENT_BYTES = 5_120;
const FETCH_TIMEOUT_MS = 5_000;
const SYSTEM_ACTOR = { kind: 'system' as const, id: 'client-documents' };

export type DocumentResolution =
  | { ok: true; client: DirectoryClient }
  /** Shown on an error page that never redirects (the document's redirect URIs are not trusted). */
  | { ok: false; message: string };

type ResolverDeps = {
  config: AuthorizationConfig;
  store: EventStore;
  projector: Projector;
  logger: Logger;
  clientDocuments: ClientDocumentsReadModel;
};

export type ClientDocumentResolver = {
  /** GET /authorize: the recorded document while fresh, else a new fetch, validated and recorded first. */
  resolve(clientId: string, origin: RequestOrigin): Promise<DocumentResolution>;
  /** The consent POST: what is recorded, fresh or not (it was valid when the consent page was shown). */
  recorded(clientId: string): Promise<DirectoryClient | null>;
};

/**
 * Client ID Metadata Documents at /authorize: the one place that fetches them. A fetch is validated, decided and
 * recorded as an event before the document is used, so every service and replica works from the same copy; a
 * replica fetches a client_id once at a time, and each client address only so often.
 */
export function clientDocumentResolver(deps: ResolverDeps): ClientDocumentResolver {
  const { config, store, projector, logger, clientDocuments } = deps;
  const policy: OutboundPolicy = { allowPrivateTargets: config.CLIENT_METADATA_ALLOW_PRIVATE_TARGETS, timeoutMs: FETCH_TIMEOUT_MS, maxBytes: MAX_DOCUMENT_BYTES };
  const bounds = { minSeconds: config.CLIENT_METADATA_CACHE_MIN_SECONDS, maxSeconds: config.CLIENT_METADATA_CACHE_MAX_SECONDS };
  const limiter = config.CLIENT_METADATA_FETCHES_PER_MINUTE > 0 ? new RateLimiterMemory({ keyPrefix: 'client-documents', points: config.CLIENT_METADATA_FETCHES_PER_MINUTE, duration: 60 }) : null;
  const inFlight = new Map<string, Promise<DocumentResolution>>();

  async function recordedAuthoritatively(clientId: string) {
    await catchUpWithSubject(store, projector, subjects.clientDocument(clientDocumentKey(clientId)));
    return clientDocuments.find(clientId);
  }

  function execute(command: ClientDocumentCommand, origin: RequestOrigin) {
    const subject = subjects.clientDocument(command.data.clientKey);
    const load = (): ClientDocumentState => {
      const recorded = clientDocuments.find(command.data.clientId);
      return { recorded: recorded && { documentHash: recorded.documentHash, metadata: recorded.metadata, fetchedAt: recorded.fetchedAt, freshUntil: recorded.freshUntil } };
    };
    return executeCommand({ store, projector }, { subject, load, decide: (state) => decide(command, state) }, { actor: SYSTEM_ACTOR, ...origin });
  }

  async function refuse(clientId: string, reason: Extract<ClientDocumentCommand, { type: 'RecordRefusedDocument' }>['data']['reason'], description: string, origin: RequestOrigin): Promise<DocumentResolution> {
    logger.warn({ clientId: clientId.slice(0, 200), reason, description }, 'client metadata document refused');
    await execute({ type: 'RecordRefusedDocument', data: { clientId, clientKey: clientDocumentKey(clientId), reason, description: description.slice(0, 300) } }, origin);
    return { ok: false, message: `The application's metadata document could not be used: ${description}` };
  }

  async function fetchAndRecord(clientId: string, origin: RequestOrigin): Promise<DocumentResolution> {
    const startedAt = Math.floor(Date.now() / 1000);
    const fetched = await fetchDocument(clientId, policy);
    if (!fetched.ok) return refuse(clientId, fetched.reason, fetched.description, origin);
    const verdict = validateClientMetadataDocument(clientId, { contentType: fetched.headers['content-type'], body: fetched.body });
    if (!verdict.ok) return refuse(clientId, verdict.reason.startsWith("the document's client_id") ? 'invalid_client_id' : 'invalid_document', verdict.reason, origin);
    const receivedAt = new Date();
    const fetchedAt = Math.floor(receivedAt.getTime() / 1000);
    await execute(
      {
        type: 'RecordFetchedDocument',
        data: {
          clientId,
          clientKey: clientDocumentKey(clientId),
          startedAt,
          fetchedAt,
          freshUntil: fetchedAt + freshSeconds(fetched.headers, receivedAt, bounds),
          documentHash: createHash('sha256').update(fetched.body).digest('base64url'),
          metadata: verdict.document,
          verifiedHost: verdict.facts.verifiedHost,
          localhostOnly: verdict.facts.localhostOnly,
        },
      },
      origin,
    );
    const recorded = clientDocuments.find(clientId);
    return recorded ? { ok: true, client: documentClient(recorded) } : { ok: false, message: 'The application\'s metadata document could not be recorded; try again.' };
  }

  async function admitFetch(clientAddress: string | undefined): Promise<void> {
    if (!limiter) return;
    try {
      await limiter.consume(clientAddress ?? 'unknown');
    } catch (rejection) {
      if (!(rejection instanceof RateLimiterRes)) throw rejection;
      throw tooManyRequests(Math.ceil(rejection.msBeforeNext / 1000), 'Too many applications asked for from this address; retry later.');
    }
  }

  return {
    async resolve(clientId, origin) {
      const url = checkClientIdUrl(clientId, { allowLoopbackHttp: config.CLIENT_METADATA_ALLOW_PRIVATE_TARGETS });
      if (!url.ok) return { ok: false, message: `The client_id is not a usable metadata document URL: ${url.reason}.` };
      const recorded = await recordedAuthoritatively(clientId);
      if (recorded && isFresh(recorded, Math.floor(Date.now() / 1000))) return { ok: true, client: documentClient(recorded) };
      const pending = inFlight.get(clientId);
      if (pending) return pending;
      await admitFetch(origin.sourceAddress);
      // Looked up again after the wait, and set with no wait in between: two requests never both fetch.
      const started = inFlight.get(clientId);
      if (started) return started;
      const fetching = fetchAndRecord(clientId, origin).finally(() => inFlight.delete(clientId));
      inFlight.set(clientId, fetching);
      return fetching;
    },
    async recorded(clientId) {
      if (!checkClientIdUrl(clientId, { allowLoopbackHttp: config.CLIENT_METADATA_ALLOW_PRIVATE_TARGETS }).ok) return null;
      const recorded = await recordedAuthoritatively(clientId);
      return recorded ? documentClient(recorded) : null;
    },
  };
}
