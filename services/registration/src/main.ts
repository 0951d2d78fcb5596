import { hostname } from 'node:os';
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { EventStore } from '@mcp-auth/event-store';
import { createLogger, gauge, listen, loadConfigOrExit, stopOnSignals } from '@mcp-auth/http';
import { clientsProjection, ClientsReadModel } from '@mcp-auth/projections';
import { Projector } from '@mcp-auth/projector';
import { createRegistrationApp } from './app.ts';
import { registrationConfigSchema } from './config.ts';

const config = loadConfigOrExit(registrationConfigSchema);
const logger = createLogger('registration', config.LOG_LEVEL);

mkdirSync(config.DATA_DIR, { recursive: true });
const store = await EventStore.connect({ servers: config.NATS_URL, replicas: config.NATS_STREAM_REPLICAS, connectionName: `registration@${hostname()}:${process.pid}`, logger });
const projector = new Projector({
  store,
  file: config.PROJECTION_FILE ?? join(config.DATA_DIR, 'registration.sqlite'),
  projections: [clientsProjection],
  logger,
});
projector.start();
const clients = new ClientsReadModel(projector.db);
gauge('registered_clients', 'Active registered clients in this replica\'s projection', () => clients.countActive());
gauge('projection_position', 'Stream position applied by this replica\'s projection', () => projector.position);

const server = await listen(createRegistrationApp({ config, store, projector, logger }), { port: config.PORT, host: config.HOST });
logger.info({ url: server.url }, 'registration service listening');
stopOnSignals(logger, [() => server.close(), () => projector.stop(), () => store.close()]);
