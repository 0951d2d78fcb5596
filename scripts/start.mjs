#!/usr/bin/env node
// `npm start`: the whole stack on one machine. A private nats-server (unless NATS_URL is set) with its store
// under the data folder, then each service as its own process with its own SQLite file. Ctrl-C stops it all.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { createServer, connect } from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { DURABLE_NATS_VERSION } from '../libs/event-store/src/nats-version.mjs';
import { chooseNatsServer, syncAlwaysArgs, wantsSyncAlways } from './nats-server.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const dataDir = resolve(process.env.DATA_DIR ?? join(root, 'data'));
const logFormat = process.env.LOG_FORMAT ?? (process.stdout.isTTY ? 'pretty' : 'json');

/** The services in start order, with their default ports. Each one's public URL is configuration. */
export const SERVICES = [
  { name: 'registration', port: Number(process.env.REGISTRATION_PORT ?? 3002) },
  { name: 'authorization', port: Number(process.env.AUTHORIZATION_PORT ?? 3001) },
  { name: 'token', port: Number(process.env.TOKEN_PORT ?? 3003) },
  { name: 'mcp-tools', port: Number(process.env.MCP_PORT ?? 3000) },
  { name: 'admin', port: Number(process.env.ADMIN_PORT ?? 3004) },
];

const port = (name) => SERVICES.find((s) => s.name === name).port;
/** Every service is told every public URL; unless configured, they are the local ports. */
const publicUrls = {
  ISSUER: process.env.ISSUER ?? `http://localhost:${port('authorization')}`,
  REGISTRATION_BASE_URL: process.env.REGISTRATION_BASE_URL ?? `http://localhost:${port('registration')}`,
  TOKEN_BASE_URL: process.env.TOKEN_BASE_URL ?? `http://localhost:${port('token')}`,
  MCP_RESOURCE_URL: process.env.MCP_RESOURCE_URL ?? `http://localhost:${port('mcp-tools')}/mcp`,
  ADMIN_BASE_URL: process.env.ADMIN_BASE_URL ?? `http://localhost:${port('admin')}`,
};

/**
 * The admin service's secrets: from the environment, else generated once into the data folder (owner-only),
 * so the console token and the key of stored webhook secrets survive restarts. Only the admin service gets them.
 */
function adminSecrets() {
  const kept = (name, make) => {
    const file = join(dataDir, name);
    if (!existsSync(file)) writeFileSync(file, `${make()}\n`, { mode: 0o600 });
    return { file, value: readFileSync(file, 'utf8').trim() };
  };
  const token = process.env.ADMIN_TOKEN ? { file: null, value: process.env.ADMIN_TOKEN } : kept('admin-token', () => randomBytes(32).toString('base64url'));
  const key = process.env.WEBHOOK_SECRETS_KEY ?? kept('webhook-secrets.key', () => randomBytes(32).toString('base64')).value;
  return { tokenFile: token.file, env: { ADMIN_TOKEN: token.value, WEBHOOK_SECRETS_KEY: key } };
}

const children = new Map();
let stopping = false;

function say(line) {
  process.stdout.write(`${line}\n`);
}

function freePort() {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolvePort(port));
    });
  });
}

function waitForPort(port, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolveWait, reject) => {
    const attempt = () => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolveWait();
      });
      socket.once('error', () => {
        socket.destroy();
        if (Date.now() > deadline) reject(new Error(`nothing listens on port ${port}`));
        else setTimeout(attempt, 50);
      });
    };
    attempt();
  });
}

async function waitForReady(url, child, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error('exited during start-up');
    try {
      if ((await fetch(url)).ok) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`not ready after ${timeoutMs / 1000} s`);
}

const LEVELS = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };

/** Service logs are JSON lines; on a terminal they are shown as one readable line each. */
function relay(name, stream) {
  const rl = createInterface({ input: stream });
  rl.on('line', (line) => {
    if (logFormat === 'json') return say(line);
    try {
      const { level, time, msg, service, pid, name: _n, hostname: _h, requestId, ...rest } = JSON.parse(line);
      const fields = Object.entries(rest)
        .map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : v}`)
        .join(' ');
      const clock = new Date(time).toTimeString().slice(0, 8);
      say(`${clock} ${name.padEnd(13)} ${(LEVELS[level] ?? level).padEnd(5)} ${msg}${fields ? `  ${fields}` : ''}`);
    } catch {
      say(`${name.padEnd(13)} ${line}`);
    }
  });
}

function launch(name, command, args, env) {
  const child = spawn(command, args, { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.set(name, child);
  relay(name, child.stdout);
  relay(name, child.stderr);
  child.on('exit', (code, signal) => {
    children.delete(name);
    if (!stopping) {
      say(`${name} stopped unexpectedly (${signal ?? `exit code ${code}`}); stopping the stack.`);
      void stopAll(1);
    }
  });
  return child;
}

async function stopAll(exitCode) {
  if (stopping) return;
  stopping = true;
  // Services first (they finish in-flight requests), NATS last.
  const order = [...children.keys()].filter((n) => n !== 'nats').reverse();
  for (const name of order) await stopChild(name);
  await stopChild('nats');
  process.exit(exitCode);
}

function stopChild(name) {
  const child = children.get(name);
  if (!child || child.exitCode !== null) return Promise.resolve();
  return new Promise((resolveStop) => {
    const force = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', () => {
      clearTimeout(force);
      resolveStop();
    });
    child.kill('SIGTERM');
  });
}

process.on('SIGINT', () => void stopAll(0));
process.on('SIGTERM', () => void stopAll(0));

async function main() {
  mkdirSync(dataDir, { recursive: true });
  let natsUrl = process.env.NATS_URL;
  let natsNote = '';
  if (natsUrl && wantsSyncAlways()) say('NATS_SYNC_ALWAYS applies to the private nats-server only: with NATS_URL, set sync_interval: always in that server\'s configuration.');
  if (!natsUrl) {
    const nats = chooseNatsServer();
    if (!nats) {
      say('nats-server was not found, and NATS_URL is not set. Install NATS (2.10.23 or later), or point NATS_URL at a server started with -js:');
      say('  Debian/Ubuntu:  sudo apt-get install -y nats-server   (if apt-cache policy nats-server shows 2.10.23 or later, as on Debian 13;');
      say('                  otherwise the .deb of a NATS release: sudo apt install ./nats-server-v2.10.*-amd64.deb)');
      say('  macOS:          brew install nats-server');
      say('  Docker:         docker run -d -p 4222:4222 nats:2.10.27 -js   (then NATS_URL=nats://127.0.0.1:4222 npm start)');
      process.exit(1);
    }
    if (!nats.durable) {
      say(`WARNING: nats-server ${nats.version} (${nats.binary}) is older than ${DURABLE_NATS_VERSION}: if its process crashes it can lose writes it has`);
      say('already acknowledged (tokens issued, revocations). Install a newer one: README, "Failure and recovery".');
    }
    const port = Number(process.env.NATS_PORT ?? (await freePort()));
    const store = join(dataDir, 'nats');
    mkdirSync(store, { recursive: true });
    let sync = [];
    try {
      if (wantsSyncAlways()) sync = syncAlwaysArgs(nats, dataDir);
    } catch (err) {
      say(err.message);
      process.exit(1);
    }
    natsNote = `nats-server ${nats.version}${sync.length > 0 ? ', sync_interval: always' : ''}, `;
    // NATS logs to a file in its store; its console banner would drown the services' lines.
    launch('nats', nats.binary, [...sync, '-js', '-a', '127.0.0.1', '-p', String(port), '-sd', store, '-l', join(store, 'nats-server.log')], {});
    await waitForPort(port, 15_000);
    natsUrl = `nats://127.0.0.1:${port}`;
  }
  // `npm run users -- add <name>` finds the stack's NATS here.
  writeFileSync(join(dataDir, 'nats.url'), `${natsUrl}\n`);

  const common = { NATS_URL: natsUrl, DATA_DIR: dataDir, HOST: process.env.HOST ?? '127.0.0.1', ...publicUrls };
  const admin = adminSecrets();
  for (const service of SERVICES) {
    const child = launch(service.name, process.execPath, ['--enable-source-maps', join('dist', `${service.name}.mjs`)], {
      ...common,
      ...(service.name === 'admin' ? admin.env : {}),
      PORT: String(service.port),
    });
    try {
      await waitForReady(`http://127.0.0.1:${service.port}/readyz`, child, 60_000);
    } catch (err) {
      say(`${service.name} did not start: ${err.message}`);
      return stopAll(1);
    }
  }

  const { REGISTRATION_BASE_URL: registration, ISSUER: issuer, MCP_RESOURCE_URL: mcp } = publicUrls;
  const seeded = (process.env.SEED_USERS ?? '').split(',').map((e) => e.split(':')[0].trim()).filter(Boolean);
  say('');
  say('The stack is up.');
  say(`  MCP server:    ${mcp}        <- point your agent here`);
  say(`  Issuer:        ${issuer}   (metadata: ${issuer}/.well-known/oauth-authorization-server)`);
  say(`  Registration:  ${registration}/register`);
  say(`  Admin console: ${publicUrls.ADMIN_BASE_URL}/admin   (token: ${admin.tokenFile ? `cat ${admin.tokenFile}` : 'ADMIN_TOKEN'})`);
  say(`  NATS:          ${natsUrl}${process.env.NATS_URL ? '' : `  (private ${natsNote}data in ${join(dataDir, 'nats')})`}`);
  say('');
  if (seeded.length > 0) say(`Sign in as ${seeded.join(' or ')} (from SEED_USERS). Connected apps: ${issuer}/account`);
  else say('No users were seeded. Add one:  npm run users -- add alice   (or start with SEED_USERS="alice:a-long-password")');
  say('');
  say('Connect an agent, for example:');
  say(`  claude mcp add --transport http notes ${mcp}`);
  say(`  npx @modelcontextprotocol/inspector   (then connect to ${mcp})`);
  say('');
  say(`Ctrl-C stops everything; the data stays in ${dataDir}`);
}

main().catch((err) => {
  say(`start failed: ${err.stack ?? err}`);
  void stopAll(1);
});
