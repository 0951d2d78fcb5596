import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect as connectNats } from '@nats-io/transport-node';
import type { StartedTestContainer } from 'testcontainers';
import { NATS_IDENTITIES, type NatsIdentity } from '@mcp-auth/contracts';
import { credentialFileOf, ensureIdentityCredentials, natsClientOptions, serverConfigText, setUpStreams, writeServerConfig, type NatsTlsFiles } from '@mcp-auth/event-store';
import { launchNatsServer, type NatsProcess } from './nats-process.ts';
import { freePort } from './ports.ts';

export { waitForPort } from './nats-process.ts';

export type NatsHandle = {
  url: string;
  /** Where it came from: NATS_URL, a nats-server process of our own, or a container. */
  kind: 'external' | 'process' | 'container';
  /** Stops and starts the server on the same port and store. `kill` simulates a crash. */
  restart(options?: { kill?: boolean; downtimeMs?: number }): Promise<void>;
  /** Stops the server cleanly, copies its store, and starts it again; the copy is for restoreStore. */
  copyStore(): Promise<string>;
  /**
   * Stops the server, puts back a copy of its store made earlier, and starts it: the stream ends where it
   * ended then, as after a crash that lost its tail, and hands the later positions out again.
   */
  restoreStore(copy: string): Promise<void>;
  stop(): Promise<void>;
  /**
   * On a secured server (the permission matrix of npm start, from the same generator): each identity's credential
   * file, to be given as NATS_CREDENTIALS_FILE. Null on an open server.
   */
  credentials: Record<NatsIdentity, string> | null;
  /** On a server that requires TLS: the client's files (the CA that signed the server, a client certificate and key). */
  tls: Required<NatsTlsFiles> | null;
};

export type NatsOptions = {
  /** The test restarts the server, so NATS_URL (someone else's) cannot be used. */
  restartable?: boolean;
  /** Authorization from the permission matrix, a credential per identity, the streams made by the operator's setup step. */
  secured?: boolean;
  /** TLS with a CA made for the test; clients must present a certificate it signed. */
  tls?: boolean;
  /** The port to listen on (a test that starts the server again on the same address); a free one otherwise. */
  port?: number;
};

export const INSTALL_HINT = [
  'No NATS server is available for the tests. Any one of these works:',
  '  - Debian/Ubuntu: sudo apt-get install -y nats-server',
  '  - macOS:         brew install nats-server',
  '  - Docker:        start Docker, and the tests start nats:2.10 with testcontainers',
  '  - or point NATS_URL at a nats-server started with -js (JetStream enabled)',
].join('\n');

/**
 * A real NATS with JetStream for a test: NATS_URL if set (unless the test must restart the server),
 * else a private nats-server from the PATH on a free port with a temporary store, else a container
 * when Docker is reachable. Never a mock.
 */
export async function startNats({ restartable = false, secured = false, tls = false, port }: NatsOptions = {}): Promise<NatsHandle> {
  const external = process.env.NATS_URL;
  // Someone else's NATS cannot be given our configuration: a secured or TLS server is always one of our own.
  if (external && !restartable && !secured && !tls && port === undefined) {
    return {
      url: external,
      kind: 'external',
      restart: async () => {
        throw new Error('cannot restart the NATS server given by NATS_URL');
      },
      copyStore: async () => {
        throw new Error('cannot copy the store of the NATS server given by NATS_URL');
      },
      restoreStore: async () => {
        throw new Error('cannot restore the store of the NATS server given by NATS_URL');
      },
      stop: async () => {},
      credentials: null,
      tls: null,
    };
  }
  const binary = findNatsServer();
  if (binary) return startNatsProcess(binary, port ?? (await freePort()), { secured, tls });
  if (dockerReachable()) return startNatsContainer({ secured, tls });
  throw new Error(INSTALL_HINT);
}

/** The nats-server the tests run: NATS_SERVER_BIN, else the first on the PATH or in the usual places. */
export function findNatsServer(): string | null {
  for (const candidate of [process.env.NATS_SERVER_BIN, 'nats-server', '/usr/sbin/nats-server', '/usr/local/bin/nats-server']) {
    if (!candidate) continue;
    const found = spawnSync(candidate, ['--version'], { encoding: 'utf8' });
    if (found.status === 0) return candidate;
  }
  return null;
}

function dockerReachable(): boolean {
  if (process.env.DOCKER_HOST) return true;
  return existsSync('/var/run/docker.sock') && spawnSync('docker', ['info'], { stdio: 'ignore', timeout: 5_000 }).status === 0;
}

async function startNatsProcess(binary: string, port: number, { secured, tls }: { secured: boolean; tls: boolean }): Promise<NatsHandle> {
  const storeDir = mkdtempSync(join(tmpdir(), 'nats-test-'));
  const accessDir = secured || tls ? mkdtempSync(join(tmpdir(), 'nats-access-')) : null;
  const access = prepareAccess(accessDir ?? storeDir, { secured, tls });
  let child: NatsProcess | null = null;

  const launch = async () => {
    child = await launchNatsServer(binary, ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', storeDir, ...(access.configFile ? ['-c', access.configFile] : [])], port);
  };
  const halt = async (signal: NodeJS.Signals) => {
    const proc = child;
    child = null;
    await proc?.halt(signal);
  };

  await launch();
  const url = `nats://127.0.0.1:${port}`;
  const copies: string[] = [];
  try {
    if (access.credentials) await runOperatorSetup(url, access.credentials.operator, access.tls);
  } catch (err) {
    await halt('SIGKILL');
    for (const dir of [storeDir, accessDir]) if (dir) rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    url,
    kind: 'process',
    credentials: access.credentials,
    tls: access.tls,
    async restart({ kill = false, downtimeMs = 0 } = {}) {
      await halt(kill ? 'SIGKILL' : 'SIGTERM');
      if (downtimeMs > 0) await new Promise((r) => setTimeout(r, downtimeMs));
      await launch();
    },
    async copyStore() {
      await halt('SIGTERM');
      const copy = mkdtempSync(join(tmpdir(), 'nats-store-copy-'));
      copies.push(copy);
      cpSync(storeDir, copy, { recursive: true });
      await launch();
      return copy;
    },
    async restoreStore(copy) {
      await halt('SIGTERM');
      rmSync(storeDir, { recursive: true, force: true });
      cpSync(copy, storeDir, { recursive: true });
      await launch();
    },
    async stop() {
      await halt('SIGTERM');
      for (const dir of [storeDir, accessDir, ...copies]) if (dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function startNatsContainer({ secured, tls }: { secured: boolean; tls: boolean }): Promise<NatsHandle> {
  if (!secured && !tls) return startOpenNatsContainer();
  const { GenericContainer, Wait } = await import('testcontainers');
  const dir = mkdtempSync(join(tmpdir(), 'nats-test-'));
  // Inside the container the configuration refers to its own copies of the files.
  const access = prepareAccess(dir, { secured, tls }, '/etc/nats-test');
  const container = await new GenericContainer('nats:2.10.27-alpine')
    .withExposedPorts(4222)
    .withWaitStrategy(Wait.forLogMessage(/Server is ready/))
    .withCopyDirectoriesToContainer([{ source: dir, target: '/etc/nats-test' }])
    .withCommand(['-js', '-c', '/etc/nats-test/nats.conf'])
    .start();
  const handle = containerHandle(container, access, () => rmSync(dir, { recursive: true, force: true }));
  if (access.credentials) await runOperatorSetup(handle.url, access.credentials.operator, access.tls);
  return handle;
}

async function startOpenNatsContainer(): Promise<NatsHandle> {
  const { NatsContainer } = await import('@testcontainers/nats');
  const container = await new NatsContainer('nats:2.10.27-alpine').withJetStream().start();
  return containerHandle(container, { credentials: null, tls: null });
}

/** A started container as a NatsHandle: its mapped port is read afresh, as a restart may change it. */
function containerHandle(container: StartedTestContainer, access: Pick<PreparedAccess, 'credentials' | 'tls'>, removeFiles = () => {}): NatsHandle {
  return {
    get url() {
      return `nats://${container.getHost()}:${container.getMappedPort(4222)}`;
    },
    kind: 'container',
    credentials: access.credentials,
    tls: access.tls,
    async restart() {
      await container.restart();
    },
    async copyStore() {
      throw new Error('copying the store of a NATS container is not supported; install nats-server');
    },
    async restoreStore() {
      throw new Error('restoring the store of a NATS container is not supported; install nats-server');
    },
    async stop() {
      await container.stop();
      removeFiles();
    },
  } as NatsHandle;
}

type PreparedAccess = { configFile: string | null; credentials: Record<NatsIdentity, string> | null; tls: Required<NatsTlsFiles> | null };

/**
 * A secured server's files, in its temporary folder: a seed per identity and the configuration npm start writes
 * (from the same generator); a TLS server's certificates, made with the openssl CLI. `serverDir` is where the
 * server sees the folder (a container has its own path for it).
 */
function prepareAccess(dir: string, { secured, tls }: { secured: boolean; tls: boolean }, serverDir = dir): PreparedAccess {
  if (!secured && !tls) return { configFile: null, credentials: null, tls: null };
  const credentialsDir = join(dir, 'credentials');
  const keys = ensureIdentityCredentials(credentialsDir);
  const credentials = Object.fromEntries(NATS_IDENTITIES.map((identity) => [identity, credentialFileOf(credentialsDir, identity)])) as Record<NatsIdentity, string>;
  const certificates = tls ? makeTestCertificates(join(dir, 'tls')) : null;
  const inServer = (file: string) => join(serverDir, file.slice(dir.length));
  let text = secured ? serverConfigText({ keys }) : '';
  if (certificates) {
    text += `tls: ${JSON.stringify({ cert_file: inServer(certificates.serverCert), key_file: inServer(certificates.serverKey), ca_file: inServer(certificates.ca), verify: true })}\n`;
  }
  const configFile = join(dir, 'nats.conf');
  writeServerConfig(configFile, text);
  return {
    configFile: inServer(configFile),
    credentials: secured ? credentials : null,
    tls: certificates ? { ca: certificates.ca, cert: certificates.clientCert, key: certificates.clientKey } : null,
  };
}

/** What npm start and compose do before the services start: the operator creates the streams. */
async function runOperatorSetup(url: string, operatorCredential: string, tls: NatsTlsFiles | null): Promise<void> {
  const nc = await connectNats({ servers: url, ...natsClientOptions({ identity: 'operator', credentialsFile: operatorCredential, tls: tls ?? undefined }) });
  try {
    await setUpStreams(await jetstreamManager(nc), 1);
  } finally {
    await nc.close();
  }
}

export type TestCertificates = { ca: string; serverCert: string; serverKey: string; clientCert: string; clientKey: string };

/** A CA, a server certificate for 127.0.0.1 and localhost, and a client certificate, all signed by it (openssl CLI). */
export function makeTestCertificates(dir: string): TestCertificates {
  const f = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => {
    const run = spawnSync('openssl', args, { encoding: 'utf8' });
    if (run.status !== 0) throw new Error(`openssl ${args[0]} failed: ${run.stderr || run.error}`);
  };
  mkdirSync(dir, { recursive: true });
  openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', f('ca.key'), '-out', f('ca.pem'), '-days', '2', '-subj', '/CN=mcp-auth test CA');
  for (const [name, extension] of [
    ['server', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n'],
    ['client', 'extendedKeyUsage=clientAuth\n'],
  ] as const) {
    openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', f(`${name}.key`), '-out', f(`${name}.csr`), '-subj', `/CN=${name}`);
    writeFileSync(f(`${name}.ext`), extension);
    openssl('x509', '-req', '-in', f(`${name}.csr`), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f(`${name}.pem`), '-days', '2', '-extfile', f(`${name}.ext`));
  }
  return { ca: f('ca.pem'), serverCert: f('server.pem'), serverKey: f('server.key'), clientCert: f('client.pem'), clientKey: f('client.key') };
}

/** What a client of the handle's server passes to EventStore.connect (or NATS_* variables) to be the given identity. */
export function natsAccessOf(nats: NatsHandle, identity: NatsIdentity): { identity: NatsIdentity; credentialsFile?: string; tls?: NatsTlsFiles } {
  return { identity, ...(nats.credentials ? { credentialsFile: nats.credentials[identity] } : {}), ...(nats.tls ? { tls: nats.tls } : {}) };
}

/** The NATS_* variables of a process running as the given identity on the handle's server. */
export function natsEnvOf(nats: NatsHandle, identity: NatsIdentity): Record<string, string> {
  return {
    NATS_URL: nats.url,
    ...(nats.credentials ? { NATS_CREDENTIALS_FILE: nats.credentials[identity] } : {}),
    ...(nats.tls ? { NATS_TLS_CA: nats.tls.ca, NATS_TLS_CERT: nats.tls.cert, NATS_TLS_KEY: nats.tls.key } : {}),
  };
}

/** The version of the nats-server the tests start ("2.10.27"), or 'unknown' (none found, or a container). */
export function natsServerVersion(): string {
  const binary = findNatsServer();
  if (!binary) return 'unknown';
  const printed = spawnSync(binary, ['--version'], { encoding: 'utf8' }).stdout ?? '';
  return /v?(\d+\.\d+\.\d+\S*)/.exec(printed)?.[1] ?? 'unknown';
}
