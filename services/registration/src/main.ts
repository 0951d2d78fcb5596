import { createLogger, gauge, listenWhileStarting, loadConfigOrExit, stopOnSignals } from '@mcp-auth/http';
import { clientsProjection, ClientsReadModel } from '@mcp-auth/read-models';
import { startEventSourcedRuntime } from '@mcp-auth/event-sourcing';
import { serveClientCommands } from './clients/client-commands.ts';
import { RegistrationTokensReadModel, registrationTokensProjection } from './clients/registration-tokens.ts';
import { createRegistrationApp } from './app.ts';
import { registrationConfigSchema } from './config.ts';

const config = loadConfigOrExit(registrationConfigSchema);
const logger = createLogger('registration', config.LOG_LEVEL);

const server = await listenWhileStarting({ port: config.PORT, host: config.HOST });
const { store, projector } = await startEventSourcedRuntime('registration', config, [clientsProjection, registrationTokensProjection], logger, { waiting: server.waitingFor });
const clients = new ClientsReadModel(projector.db, projector);
gauge('registered_clients', 'Active registered clients in this replica\'s projection', () => clients.countActive());
gauge('projection_position', 'Stream position applied by this replica\'s projection', () => projector.position);

const commands = serveClientCommands({ store, projector, logger, clients, registrationTokens: new RegistrationTokensReadModel(projector.db, projector) });
server.serve(createRegistrationApp({ config, store, projector, logger }));
logger.info({ url: server.url }, 'registration service listening');
stopOnSignals(logger, [() => server.close(), async () => void (await Promise.all(commands.map((c) => c.stop()))), () => projector.stop(), () => store.close()]);
