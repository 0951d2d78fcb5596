import { createLogger, gauge, listenWhileStarting, loadConfigOrExit, stopOnSignals } from '@mcp-auth/http';
import {
  ClientDirectory,
  ClientDocumentsReadModel,
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
import { startEventSourcedRuntime, startPolicy, untilStored } from '@mcp-auth/event-sourcing';
import { createTokenApp } from './app.ts';
import { ClientKeys } from './client-authentication/client-keys.ts';
import { CodesReadModel, codesProjection } from './codes/projection.ts';
import { tokenConfigSchema } from './config.ts';
import { tokenPolicy } from './grants/policy.ts';
import { parseIntrospectionCredentials } from './introspection/routes.ts';
import { RefreshTokensReadModel, refreshTokensProjection } from './refresh/projection.ts';
import { KeyRing } from './signing/key-ring.ts';

/** A key set is a few keys: a larger answer is not one. A short deadline: a token request waits for it. */
const CLIENT_KEYS_MAX_BYTES = 64 * 1024;
const CLIENT_KEYS_FETCH_TIMEOUT_MS = 5_000;

const config = loadConfigOrExit(tokenConfigSchema);
const logger = createLogger('token', config.LOG_LEVEL);
try {
  parseIntrospectionCredentials(config.INTROSPECTION_CREDENTIALS);
} catch (err) {
  process.stderr.write(`invalid configuration: ${(err as Error).message}\n`);
  process.exit(2);
}

const server = await listenWhileStarting({ port: config.PORT, host: config.HOST });
const { store, projector } = await startEventSourcedRuntime(
  'token',
  config,
  [clientsProjection, clientDocumentsProjection, consentsProjection, grantsProjection, signingKeysProjection, codesProjection, refreshTokensProjection],
  logger,
  { waiting: server.waitingFor },
);
const signingKeys = new SigningKeysReadModel(projector.db);
const clients = new ClientsReadModel(projector.db, projector);
const keyRing = await untilStored(
  'this replica\'s signing key',
  () =>
    KeyRing.start({
      store,
      projector,
      keys: signingKeys,
      logger,
      alg: config.SIGNING_ALG,
      rotationSeconds: Math.round(config.SIGNING_KEY_ROTATION_HOURS * 3600),
      accessTokenTtlSeconds: config.ACCESS_TOKEN_TTL_SECONDS,
    }),
  logger,
  server.waitingFor,
);
gauge('projection_position', "Stream position applied by this replica's projection", () => projector.position);

const deps = {
  config,
  store,
  projector,
  logger,
  clients,
  directory: new ClientDirectory(clients, new ClientDocumentsReadModel(projector.db, projector)),
  consents: new ConsentsReadModel(projector.db),
  codes: new CodesReadModel(projector.db),
  grants: new GrantsReadModel(projector.db),
  refreshTokens: new RefreshTokensReadModel(projector.db),
  signingKeys,
  keyRing,
  clientKeys: new ClientKeys({
    allowPrivateTargets: config.CLIENT_METADATA_ALLOW_PRIVATE_TARGETS,
    timeoutMs: CLIENT_KEYS_FETCH_TIMEOUT_MS,
    maxBytes: CLIENT_KEYS_MAX_BYTES,
    minSeconds: config.CLIENT_KEYS_CACHE_MIN_SECONDS,
    maxSeconds: config.CLIENT_KEYS_CACHE_MAX_SECONDS,
  }),
};
const policy = startPolicy(deps, tokenPolicy(deps));
server.serve(createTokenApp(deps));
logger.info({ url: server.url, kid: keyRing.current().kid }, 'token service listening');
stopOnSignals(logger, [
  () => server.close(),
  () => policy.stop(),
  () => keyRing.stop(),
  () => projector.stop(),
  () => store.close(),
]);
