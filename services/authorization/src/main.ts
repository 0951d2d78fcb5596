import { createLogger, gauge, listenWhileStarting, loadConfigOrExit, stopOnSignals } from '@mcp-auth/http';
import { ClientDirectory, ClientDocumentsReadModel, ClientsReadModel, ConsentsReadModel, clientDocumentsProjection, clientsProjection, consentsProjection } from '@mcp-auth/read-models';
import { catchUpWithSubject, startEventSourcedRuntime, startPolicy, untilStored } from '@mcp-auth/event-sourcing';
import { subjects } from '@mcp-auth/contracts';
import { createAuthorizationApp } from './app.ts';
import { authorizationConfigSchema } from './config.ts';
import { clientDocumentResolver } from './client-documents/resolve.ts';
import { authorizationPolicy } from './connected-apps/policy.ts';
import { serveConsentCommands } from './connected-apps/revoke-consent.ts';
import { InvalidUser, createUser, parseSeedUsers } from './users/create-user.ts';
import { verifyPassword } from './users/passwords.ts';
import { UsersReadModel, usersProjection } from './users/projection.ts';
import { userIdFor } from './users/usernames.ts';
import { cookieNames } from './web/cookies.ts';
import { csrfGuard } from '@mcp-auth/web';

const config = loadConfigOrExit(authorizationConfigSchema);
const logger = createLogger('authorization', config.LOG_LEVEL);
let seedUsers: ReturnType<typeof parseSeedUsers>;
try {
  seedUsers = parseSeedUsers(config.SEED_USERS);
} catch (err) {
  process.stderr.write(`invalid configuration: ${(err as Error).message}\n`);
  process.exit(2);
}

const server = await listenWhileStarting({ port: config.PORT, host: config.HOST });
const { store, projector } = await startEventSourcedRuntime('authorization', config, [clientsProjection, clientDocumentsProjection, consentsProjection, usersProjection], logger, { waiting: server.waitingFor });

const seededUsers = new UsersReadModel(projector.db);
for (const { username, password } of seedUsers) {
  try {
    const outcome = await untilStored(`the seed user ${username}`, () => createUser(store, username, password, { kind: 'system', id: 'seed' }), logger, server.waitingFor);
    if (outcome === 'exists' && !(await seedPasswordHolds(username, password))) {
      // SEED_USERS creates accounts, never changes them: a password changed since (or a typo) is not applied.
      logger.warn({ username, outcome: 'exists-with-another-password' }, 'seed user exists with another password; left unchanged');
    } else logger.info({ username, outcome }, 'seed user');
  } catch (err) {
    if (!(err instanceof InvalidUser)) throw err;
    logger.error({ username }, `seed user not created: ${err.message}`);
  }
}

/** Whether an existing seed user's password is the one SEED_USERS gives (read once the projection has the user). */
async function seedPasswordHolds(username: string, password: string): Promise<boolean> {
  const userId = userIdFor(username);
  await catchUpWithSubject(store, projector, subjects.user(userId), 30_000);
  const user = seededUsers.user(userId);
  return user !== null && (await verifyPassword(password, user.passwordHash));
}

const secure = config.ISSUER.startsWith('https:');
const names = cookieNames(secure);
const clients = new ClientsReadModel(projector.db, projector);
const clientDocuments = new ClientDocumentsReadModel(projector.db, projector);
const deps = {
  config,
  store,
  projector,
  logger,
  clients,
  directory: new ClientDirectory(clients, clientDocuments),
  clientDocuments: clientDocumentResolver({ config, store, projector, logger, clientDocuments }),
  consents: new ConsentsReadModel(projector.db),
  users: new UsersReadModel(projector.db),
  csrf: csrfGuard({ cookieName: names.csrf, secure, origin: new URL(config.ISSUER).origin }),
  cookies: { secure, ...names },
};
gauge('projection_position', "Stream position applied by this replica's projection", () => projector.position);

const commands = serveConsentCommands(deps);
const policy = startPolicy(deps, authorizationPolicy(deps));
server.serve(createAuthorizationApp(deps));
logger.info({ url: server.url, issuer: config.ISSUER }, 'authorization service listening');
stopOnSignals(logger, [() => server.close(), async () => void (await Promise.all([...commands.map((c) => c.stop()), policy.stop()])), () => projector.stop(), () => store.close()]);
