import type { EventStore } from '@mcp-auth/event-store';
import type { Logger } from '@mcp-auth/http';
import type { ClientDirectory, ClientsReadModel, ConsentsReadModel } from '@mcp-auth/read-models';
import type { ClientDocumentResolver } from '../client-documents/resolve.ts';
import type { Projector } from '@mcp-auth/event-sourcing';
import type { AuthorizationConfig } from '../config.ts';
import type { UsersReadModel } from '../users/projection.ts';
import type { CsrfGuard } from '@mcp-auth/web';

/** What every route of the authorization service works with. */
export type AuthorizationDeps = {
  config: AuthorizationConfig;
  store: EventStore;
  projector: Projector;
  logger: Logger;
  clients: ClientsReadModel;
  /** Registered clients and metadata documents' clients alike. */
  directory: ClientDirectory;
  /** Fetches and records client metadata documents (GET /authorize only). */
  clientDocuments: ClientDocumentResolver;
  consents: ConsentsReadModel;
  users: UsersReadModel;
  csrf: CsrfGuard;
  /** Cookie settings derived from the issuer: Secure and __Host- names over https. */
  cookies: { secure: boolean; session: string; csrf: string };
};
