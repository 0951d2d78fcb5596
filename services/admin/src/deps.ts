import type { EventStore } from '@mcp-auth/event-store';
import type { Logger } from '@mcp-auth/http';
import type { ClientsReadModel, ConsentsReadModel, GrantsReadModel, SigningKeysReadModel } from '@mcp-auth/read-models';
import type { Projector } from '@mcp-auth/event-sourcing';
import type { AdminCredential } from './access/admin-credential.ts';
import type { AuditReadModel } from './audit/read-model.ts';
import type { ClientUsageReadModel } from './clients/usage-projection.ts';
import type { AdminConfig } from './config.ts';
import type { GrantListReadModel } from './grants/grant-list.ts';
import type { UsersReadModel } from './users/projection.ts';
import type { WebhooksReadModel } from './webhooks/projection.ts';

/** What every route and worker of the admin service works with. */
export type AdminDeps = {
  config: AdminConfig;
  store: EventStore;
  projector: Projector;
  logger: Logger;
  /** null while no ADMIN_TOKEN is configured: the API and console are off. */
  credential: AdminCredential | null;
  clients: ClientsReadModel;
  consents: ConsentsReadModel;
  grants: GrantsReadModel;
  signingKeys: SigningKeysReadModel;
  users: UsersReadModel;
  clientUsage: ClientUsageReadModel;
  grantList: GrantListReadModel;
  audit: AuditReadModel;
  webhooks: WebhooksReadModel;
};
