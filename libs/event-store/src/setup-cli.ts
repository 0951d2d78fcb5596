// `node dist/nats-setup.mjs <command>`: the NATS side of a deployment, made from the permission matrix
// (libs/contracts/src/nats-permissions.ts). npm start, the compose init services and the benchmarks run it.
//
//   credentials <dir> [--per-identity] [--owner uid:gid]
//       makes a seed for every identity that has none yet (files 0600, folders 0700)
//   server-config <credentials-dir> <config-file> [--tls-cert f --tls-key f [--tls-ca f --tls-verify]]
//       the same, then writes the server's authorization configuration (at every start: a new matrix applies)
//   compose <credentials-dir> <config-dir> [--owner uid:gid]
//       compose's layout: a folder (volume) per identity, nats.conf for the single node, nats-1..3.conf for the
//       cluster with authenticated routes
//   rotate <identity> <credentials-dir> [--per-identity] [--owner uid:gid]
//       a new seed for one identity; then write the configuration again and reload or restart NATS and that process
//   streams
//       as the operator (NATS_URL, NATS_CREDENTIALS_FILE, NATS_TLS_*): creates the EVENTS and WEBHOOK_DELIVERIES
//       streams if missing (NATS_STREAM_REPLICAS replicas) and checks them if present
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { AuthorizationError, connect } from '@nats-io/transport-node';
import { isNatsIdentity } from '@mcp-auth/contracts';
import { CredentialFileError, NatsAccessRefused, natsClientOptions } from './nats-access.ts';
import { ensureIdentityCredentials, ensureRoutePassword, rotateIdentityCredential, serverConfigText, writeServerConfig, type CredentialsLayout } from './server-config.ts';
import { setUpStreams } from './streams.ts';

/** The compose cluster's nodes (docker-compose.yml, --profile cluster). */
const COMPOSE_NODES = ['nats-1', 'nats-2', 'nats-3'];
/** How long the stream setup keeps trying while NATS (a cluster electing its JetStream leader) is not ready. */
const SETUP_PATIENCE_MS = 60_000;

const [command, ...rest] = process.argv.slice(2);
const flags = new Map<string, string>();
const args: string[] = [];
for (let i = 0; i < rest.length; i++) {
  const arg = rest[i]!;
  if (arg === '--per-identity' || arg === '--tls-verify') flags.set(arg, 'true');
  else if (arg.startsWith('--')) flags.set(arg, rest[++i] ?? '');
  else args.push(arg);
}
const layout: CredentialsLayout = flags.has('--per-identity') ? 'per-identity' : 'flat';
const owner = flags.has('--owner') ? parseOwner(flags.get('--owner')!) : undefined;

function parseOwner(value: string): { uid: number; gid: number } {
  const [uid, gid] = value.split(':').map(Number);
  if (!Number.isInteger(uid) || !Number.isInteger(gid)) fail(`--owner ${value}: expected uid:gid`);
  return { uid: uid!, gid: gid! };
}

function fail(message: string, code = 2): never {
  process.stderr.write(`nats-setup: ${message}\n`);
  process.exit(code);
}

function need(index: number, what: string): string {
  return args[index] ?? fail(`${command}: missing ${what}`);
}

async function streams(): Promise<void> {
  const servers = (process.env.NATS_URL ?? 'nats://127.0.0.1:4222').split(',').map((s) => s.trim());
  const replicas = Number(process.env.NATS_STREAM_REPLICAS ?? 1);
  const access = natsClientOptions({
    identity: 'operator',
    credentialsFile: process.env.NATS_CREDENTIALS_FILE || undefined,
    tls: { ca: process.env.NATS_TLS_CA || undefined, cert: process.env.NATS_TLS_CERT || undefined, key: process.env.NATS_TLS_KEY || undefined },
  });
  const deadline = Date.now() + SETUP_PATIENCE_MS;
  for (;;) {
    try {
      const nc = await connect({ servers, name: 'nats-setup', ...access });
      try {
        const result = await setUpStreams(await jetstreamManager(nc), replicas);
        process.stdout.write(`${Object.entries(result).map(([stream, outcome]) => `${stream}: ${outcome}`).join(', ')} on ${servers.join(',')}\n`);
        return;
      } finally {
        await nc.close();
      }
    } catch (err) {
      if (err instanceof AuthorizationError) fail(new NatsAccessRefused(process.env.NATS_CREDENTIALS_FILE || undefined).hint('NATS_CREDENTIALS_FILE', 'the operator credential'));
      if (Date.now() > deadline) fail(`the streams could not be set up on ${servers.join(',')}: ${(err as Error).message}`, 1);
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
  }
}

try {
  switch (command) {
    case 'credentials':
      ensureIdentityCredentials(need(0, 'the credentials folder'), { layout, ...(owner ? { owner } : {}) });
      break;
    case 'server-config': {
      const keys = ensureIdentityCredentials(need(0, 'the credentials folder'), { layout, ...(owner ? { owner } : {}) });
      const cert = flags.get('--tls-cert');
      const key = flags.get('--tls-key');
      const ca = flags.get('--tls-ca');
      writeServerConfig(need(1, 'the configuration file'), serverConfigText({ keys, ...(cert && key ? { tls: { cert, key, ...(ca ? { ca } : {}), verify: flags.has('--tls-verify') } } : {}) }));
      break;
    }
    case 'compose': {
      const keys = ensureIdentityCredentials(need(0, 'the credentials folder'), { layout: 'per-identity', ...(owner ? { owner } : {}) });
      const configDir = need(1, 'the configuration folder');
      const authorization = ensureRoutePassword(configDir);
      writeServerConfig(join(configDir, 'nats.conf'), serverConfigText({ keys }));
      for (const node of COMPOSE_NODES) {
        const routes = COMPOSE_NODES.filter((other) => other !== node).map((other) => `nats-route://${other}:6222`);
        writeServerConfig(join(configDir, `${node}.conf`), serverConfigText({ keys, cluster: { name: 'mcp-auth', listen: '0.0.0.0:6222', routes, authorization } }));
      }
      process.stdout.write(`NATS credentials in ${args[0]}/<identity>/, server configuration in ${configDir}\n`);
      break;
    }
    case 'rotate': {
      const identity = need(0, 'the identity');
      if (!isNatsIdentity(identity)) fail(`rotate: ${identity} is not an identity`);
      rotateIdentityCredential(need(1, 'the credentials folder'), identity, { layout, ...(owner ? { owner } : {}) });
      process.stdout.write(`new credential for ${identity}; now write the server configuration again and reload NATS, then restart what runs as ${identity}\n`);
      break;
    }
    case 'streams':
      await streams();
      break;
    default:
      fail('usage: nats-setup credentials|server-config|compose|rotate|streams … (see libs/event-store/src/setup-cli.ts)');
  }
} catch (err) {
  if (err instanceof CredentialFileError) fail(err.message);
  throw err;
}
