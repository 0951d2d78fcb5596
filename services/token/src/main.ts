import { mkdirSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { EventStore } from '@mcp-auth/event-store';
import { createLogger, gauge, listen, loadConfigOrExit, stopOnSignals } from '@mcp-auth/http';
import {
  ClientsReadModel,
  ConsentsReadModel,
  GrantsReadModel,
  SigningKeysReadModel,
  clientsProjection,
  consentsProjection,
  grantsProjection,
  signingKeysProjection,
} from '@mcp-auth/projections';
import { Projector } from '@mcp-auth/projector';
import { createTokenApp } from './app.ts';
import { CodesReadModel, codesProjection } from './codes/projection.ts';
import { tokenConfigSchema } from './config.ts';
import { parseIntrospectionCredentials } from './introspection/routes.ts';
import { RefreshTokensReadModel, refreshTokensProjection } from './refresh/projection.ts';
import { KeyRing } from './signing/key-ring.ts';

const config = loadConfigOrExit(tokenConfigSchema);
const logger = createLogger('token', config.LOG_LEVEL);
try {
  parseIntrospectionCredentials(config.INTROSPECTION_CREDENTIALS);
} catch (err) {
  process.stderr.write(`invalid configuration: ${(err as Error).message}\n`);
  process.exit(2);
}

mkdirSync(config.DATA_DIR, { recursive: true });
const store = await EventStore.connect({ servers: config.NATS_URL, replicas: config.NATS_STREAM_REPLICAS, connectionName: `token@${hostname()}:${process.pid}`, logger });
const projector = new Projector({
  store,
  file: config.PROJECTION_FILE ?? join(config.DATA_DIR, 'token.sqlite'),
  projections: [clientsProjection, consentsProjection, grantsProjection, signingKeysProjection, codesProjection, refreshTokensProjection],
  logger,
});
projector.start();
const signingKeys = new SigningKeysReadModel(projector.db);
const keyRing = await KeyRing.start({
  store,
  projector,
  keys: signingKeys,
  logger,
  alg: config.SIGNING_ALG,
  rotationSeconds: Math.round(config.SIGNING_KEY_ROTATION_HOURS * 3600),
  accessTokenTtlSeconds: config.ACCESS_TOKEN_TTL_SECONDS,
});
gauge('projection_position', "Stream position applied by this replica's projection", () => projector.position);

const app = createTokenApp({
  config,
  store,
  projector,
  logger,
  clients: new ClientsReadModel(projector.db),
  consents: new ConsentsReadModel(projector.db),
  codes: new CodesReadModel(projector.db),
  grants: new GrantsReadModel(projector.db),
  refreshTokens: new RefreshTokensReadModel(projector.db),
  signingKeys,
  keyRing,
});
const server = await listen(app, { port: config.PORT, host: config.HOST });
logger.info({ url: server.url, kid: keyRing.current().kid }, 'token service listening');
stopOnSignals(logger, [() => server.close(), () => keyRing.stop(), () => projector.stop(), () => store.close()]);
