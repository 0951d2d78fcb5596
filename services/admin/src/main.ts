import { createLogger, listenWhileStarting, loadConfigOrExit, stopOnSignals } from '@mcp-auth/http';
import {
  ClientsReadModel,
  ConsentsReadModel,
  GrantsReadModel,
  SigningKeysReadModel,
  clientDocumentsProjection,
  clientsProjection,
  consentsProjection,
  grantsProjection,
  signingKeysProjection,
} from '@mcp-auth/read-models';
import { startEventSourcedRuntime } from '@mcp-auth/event-sourcing';
import { AdminCredential } from './access/admin-credential.ts';
import { createAdminApp } from './app.ts';
import { AuditReadModel } from './audit/read-model.ts';
import { auditProjection } from './audit/projection.ts';
import { ClientUsageReadModel, clientUsageProjection } from './clients/usage-projection.ts';
import { endedSessionsProjection } from './console/ended-sessions.ts';
import { adminConfigSchema } from './config.ts';
import { GrantListReadModel } from './grants/grant-list.ts';
import type { AdminDeps } from './deps.ts';
import { startClientReaper } from './reaping/reaper.ts';
import { UsersReadModel, usersProjection } from './users/projection.ts';
import { WebhooksReadModel, webhooksProjection } from './webhooks/projection.ts';
import { startWebhookWorkers } from './webhooks/workers.ts';

const config = loadConfigOrExit(adminConfigSchema);
const logger = createLogger('admin', config.LOG_LEVEL);

const server = await listenWhileStarting({ port: config.PORT, host: config.HOST });
const { store, projector } = await startEventSourcedRuntime(
  'admin',
  config,
  [
    clientsProjection,
    clientDocumentsProjection,
    consentsProjection,
    grantsProjection,
    signingKeysProjection,
    usersProjection,
    clientUsageProjection,
    auditProjection,
    webhooksProjection,
    endedSessionsProjection,
  ],
  logger,
  { waiting: server.waitingFor },
);
const db = projector.db;
const deps: AdminDeps = {
  config,
  store,
  projector,
  logger,
  credential: config.ADMIN_TOKEN ? new AdminCredential(config.ADMIN_TOKEN) : null,
  clients: new ClientsReadModel(db, projector),
  consents: new ConsentsReadModel(db),
  grants: new GrantsReadModel(db),
  signingKeys: new SigningKeysReadModel(db),
  users: new UsersReadModel(db),
  clientUsage: new ClientUsageReadModel(db),
  grantList: new GrantListReadModel(db),
  audit: new AuditReadModel(db),
  webhooks: new WebhooksReadModel(db, projector),
};

const webhookWorkers = await startWebhookWorkers(deps);
const reaper = startClientReaper(deps);
server.serve(createAdminApp(deps));
logger.info({ url: server.url, console: `${config.ADMIN_BASE_URL}/admin` }, 'admin service listening');
if (!deps.credential) logger.warn({}, 'ADMIN_TOKEN is not set: the admin API and console are off');
stopOnSignals(logger, [() => server.close(), () => reaper.stop(), () => webhookWorkers.stop(), () => projector.stop(), () => store.close()]);
