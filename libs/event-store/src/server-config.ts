import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { nkeys } from '@nats-io/transport-node';
import { NATS_IDENTITIES, natsPermissions, type NatsIdentity } from '@mcp-auth/contracts';

/**
 * Where each identity's credential lives: `<dir>/<identity>.nk` (npm start, the test harness), or
 * `<dir>/<identity>/<identity>.nk` (compose, where each folder is the volume of one service).
 */
export type CredentialsLayout = 'flat' | 'per-identity';

export function credentialFileOf(dir: string, identity: NatsIdentity, layout: CredentialsLayout = 'flat'): string {
  return layout === 'flat' ? join(dir, `${identity}.nk`) : join(dir, identity, `${identity}.nk`);
}

/** An identity's public key: what the server configuration names it by. */
export type IdentityKeys = Record<NatsIdentity, string>;

/**
 * Makes the seed of every identity that has none yet (an nkey user seed, alone in its file: the format of the nats
 * CLI's --nkey), in folders of mode 0700 and files of mode 0600, optionally handed to the user the services run as;
 * keeps those that exist. Returns every identity's public key.
 */
export function ensureIdentityCredentials(dir: string, { layout = 'flat', owner }: { layout?: CredentialsLayout; owner?: { uid: number; gid: number } } = {}): IdentityKeys {
  makePrivateDir(dir, owner);
  const keys = {} as IdentityKeys;
  for (const identity of NATS_IDENTITIES) {
    const file = credentialFileOf(dir, identity, layout);
    if (layout === 'per-identity') makePrivateDir(dirname(file), owner);
    if (!existsSync(file)) writePrivateFile(file, `${new TextDecoder().decode(nkeys.createUser().getSeed())}\n`, owner);
    keys[identity] = publicKeyOfSeedFile(file);
  }
  return keys;
}

/** Replaces one identity's seed with a new one (rotation): the server must then be given the new configuration. */
export function rotateIdentityCredential(dir: string, identity: NatsIdentity, { layout = 'flat', owner }: { layout?: CredentialsLayout; owner?: { uid: number; gid: number } } = {}): void {
  writePrivateFile(credentialFileOf(dir, identity, layout), `${new TextDecoder().decode(nkeys.createUser().getSeed())}\n`, owner);
}

export function publicKeyOfSeedFile(file: string): string {
  return nkeys.fromSeed(new TextEncoder().encode(readFileSync(file, 'utf8').trim())).getPublicKey();
}

/** The server's `authorization` block: one user per identity, named by its public key, with its permissions from the matrix. */
export function authorizationBlock(keys: IdentityKeys): { users: object[] } {
  return {
    users: NATS_IDENTITIES.map((identity) => {
      const { publish, subscribe, allowResponses } = natsPermissions(identity);
      return {
        nkey: keys[identity],
        permissions: {
          publish: withoutEmpty(publish),
          subscribe: withoutEmpty(subscribe),
          ...(allowResponses ? { allow_responses: true } : {}),
        },
      };
    }),
  };
}

export type RouteAuthorization = { user: string; password: string };

export type ServerConfigOptions = {
  keys: IdentityKeys;
  /** A cluster node: its name, its route port, the other nodes' route addresses, and the routes' own user (routes are authenticated too). */
  cluster?: { name: string; listen: string; routes: string[]; authorization: RouteAuthorization };
  /** TLS for clients: the server's certificate and key, and with `ca` and `verify` the clients must present one signed by it. */
  tls?: { cert: string; key: string; ca?: string; verify?: boolean };
};

/**
 * The server configuration made from the permission matrix. The rest (port, store, JetStream) is given on the
 * command line, as before authorization existed. Written at every start, so a new version's matrix applies.
 */
export function serverConfigText({ keys, cluster, tls }: ServerConfigOptions): string {
  const lines = [
    '# Made by nats-setup from libs/contracts/src/nats-permissions.ts at every start: edit that, not this file.',
    `authorization: ${JSON.stringify(authorizationBlock(keys), null, 2)}`,
  ];
  if (tls) {
    lines.push(`tls: ${JSON.stringify({ cert_file: tls.cert, key_file: tls.key, ...(tls.ca ? { ca_file: tls.ca } : {}), ...(tls.verify ? { verify: true } : {}) }, null, 2)}`);
  }
  if (cluster) {
    const { user, password } = cluster.authorization;
    lines.push(
      `cluster: ${JSON.stringify(
        {
          name: cluster.name,
          listen: cluster.listen,
          authorization: { user, password },
          // Each route names the user and password the other node checks.
          routes: cluster.routes.map((route) => route.replace(/^(nats(?:-route)?:\/\/)/, `$1${encodeURIComponent(user)}:${encodeURIComponent(password)}@`)),
        },
        null,
        2,
      )}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

/** The routes' password, made once into the folder of the server configuration. */
export function ensureRoutePassword(dir: string): RouteAuthorization {
  const file = join(dir, 'route-password');
  makePrivateDir(dir);
  if (!existsSync(file)) writePrivateFile(file, `${randomBytes(24).toString('base64url')}\n`);
  return { user: 'route', password: readFileSync(file, 'utf8').trim() };
}

export function writeServerConfig(file: string, text: string): void {
  makePrivateDir(dirname(file));
  writePrivateFile(file, text);
}

function withoutEmpty(rules: { allow: string[]; deny: string[] }): { allow?: string[]; deny?: string[] } {
  return { ...(rules.allow.length > 0 ? { allow: rules.allow } : {}), ...(rules.deny.length > 0 ? { deny: rules.deny } : {}) };
}

function makePrivateDir(dir: string, owner?: { uid: number; gid: number }): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  if (owner) chownSync(dir, owner.uid, owner.gid);
}

function writePrivateFile(file: string, content: string, owner?: { uid: number; gid: number }): void {
  writeFileSync(file, content, { mode: 0o600 });
  // An existing file keeps its mode through writeFileSync.
  chmodSync(file, 0o600);
  if (owner) chownSync(file, owner.uid, owner.gid);
}
