import type { EventStore } from '@mcp-auth/event-store';
import type { Logger } from '@mcp-auth/http';
import type { ClientDirectory, ClientsReadModel, ConsentsReadModel, GrantsReadModel, SigningKeysReadModel } from '@mcp-auth/read-models';
import type { Projector } from '@mcp-auth/event-sourcing';
import type { ClientKeys } from './client-authentication/client-keys.ts';
import type { CodesReadModel } from './codes/projection.ts';
import type { TokenConfig } from './config.ts';
import type { RefreshTokensReadModel } from './refresh/projection.ts';
import type { KeyRing } from './signing/key-ring.ts';

/** What every route of the token service works with. */
export type TokenDeps = {
  config: TokenConfig;
  store: EventStore;
  projector: Projector;
  logger: Logger;
  clients: ClientsReadModel;
  /** Registered clients and metadata documents' clients alike. */
  directory: ClientDirectory;
  consents: ConsentsReadModel;
  codes: CodesReadModel;
  grants: GrantsReadModel;
  refreshTokens: RefreshTokensReadModel;
  signingKeys: SigningKeysReadModel;
  keyRing: KeyRing;
  /** The public keys of private_key_jwt clients, jwks_uri sets cached per replica. */
  clientKeys: ClientKeys;
};
