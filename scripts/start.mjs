#!/usr/bin/env node
// `npm start`: the whole stack on one machine. A private nats-server (unless NATS_URL is set) with its store
// under the data folder, then each service as its own process with its own SQLite file. Ctrl-C, SIGTERM or SIGHUP
// stops it all, services first and NATS last; so does the end of the process that started this one.
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { createServer, connect } from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { DURABLE_NATS_VERSION } from '../libs/event-store/src/nats-version.mjs';
import { chooseNatsServer, syncAlwaysConfig, wantsSyncAlways } from './nats-server.mjs';

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
  // Given as a variable or as a file (ADMIN_TOKEN_FILE, read by the admin service itself), it is not generated.
  const given = (name) => Boolean(process.env[name] || process.env[`${name}_FILE`]);
  const token = given('ADMIN_TOKEN') ? { file: process.env.ADMIN_TOKEN_FILE || null, value: process.env.ADMIN_TOKEN } : kept('admin-token', () => randomBytes(32).toString('base64url'));
  const key = given('WEBHOOK_SECRETS_KEY') ? process.env.WEBHOOK_SECRETS_KEY : kept('webhook-secrets.key', () => randomBytes(32).toString('base64')).value;
  const readable = () => token.value ?? (existsSync(token.file) ? readFileSync(token.file, 'utf8').replace(/\r?\n$/, '') : undefined);
  return { tokenFile: token.file, token: readable, env: { ADMIN_TOKEN: token.value, WEBHOOK_SECRETS_KEY: key } };
}

/**
 * data/stack.json: this stack's public URLs, its NATS and the settings every service must be given alike, in
 * one place, for the processes that belong to it without being started here: `mcp-tools --stdio` reads it
 * from its DATA_DIR (its own environment wins), so that one command works whatever the ports.
 */
function writeStackFile(natsUrl, access) {
  // The mcp-tools credential: a stdio process serves the same tools as that service, as that identity.
  const credential = access.credentialOf('mcp-tools');
  const stack = { ...publicUrls, NATS_URL: natsUrl, ...(credential ? { NATS_CREDENTIALS_FILE: credential } : {}), ...natsTlsEnvironment() };
  for (const key of ['SCOPES', 'DEFAULT_SCOPES', 'RESOURCE_NAME']) if (process.env[key]) stack[key] = process.env[key];
  // The services run in the project folder, where relative tool paths are resolved; a reader may run anywhere.
  if (process.env.TOOL_MODULES) stack.TOOL_MODULES = process.env.TOOL_MODULES.split(',').map((p) => p.trim()).filter(Boolean).map((p) => resolve(root, p)).join(',');
  const file = join(dataDir, 'stack.json');
  writeFileSync(`${file}.tmp`, `${JSON.stringify(stack, null, 2)}\n`, { mode: 0o600 });
  renameSync(`${file}.tmp`, file);
}

/**
 * The private nats-server's access, in the data folder: a credential per identity, made once (nats-credentials/,
 * folder 0700, files 0600), and the server's authorization configuration, written again at every start from the
 * permission matrix of this version (dist/nats-setup.mjs makes both).
 */
function privateNatsAccess() {
  const credentialsDir = join(dataDir, 'nats-credentials');
  const configFile = join(dataDir, 'nats', 'nats-server.conf');
  const made = spawnSync(process.execPath, [join(root, 'dist', 'nats-setup.mjs'), 'server-config', credentialsDir, configFile], { encoding: 'utf8', env: {} });
  if (made.status !== 0) throw new Error(`the NATS configuration could not be written: ${made.stderr.trim()}`);
  return { configFile, credentialOf: (identity) => join(credentialsDir, `${identity}.nk`) };
}

/**
 * Someone else's NATS (NATS_URL): each identity's credential, if there is one, from NATS_CREDENTIALS_DIR
 * (`<identity>.nk`, an nkey seed, or `<identity>.creds`); none on a NATS without authorization.
 */
function externalNatsAccess() {
  const dir = process.env.NATS_CREDENTIALS_DIR;
  return {
    configFile: null,
    credentialOf: (identity) => (dir ? [`${identity}.nk`, `${identity}.creds`].map((name) => resolve(dir, name)).find((file) => existsSync(file)) : undefined),
  };
}

/** The NATS TLS settings of every process here (the services read them from their own configuration too). */
function natsTlsEnvironment() {
  return Object.fromEntries(['NATS_TLS_CA', 'NATS_TLS_CERT', 'NATS_TLS_KEY'].filter((key) => process.env[key]).map((key) => [key, process.env[key]]));
}

/**
 * The operator's setup step: creates the streams (or checks them) before any service starts, since no service may.
 * Skipped on someone else's NATS for which no operator credential was given (the services create the stream
 * there as on any NATS without authorization).
 */
function setUpStreams(natsUrl, access) {
  const operator = access.credentialOf('operator');
  if (!operator) return;
  const run = spawnSync(process.execPath, [join(root, 'dist', 'nats-setup.mjs'), 'streams'], {
    encoding: 'utf8',
    env: { NATS_URL: natsUrl, NATS_CREDENTIALS_FILE: operator, NATS_STREAM_REPLICAS: process.env.NATS_STREAM_REPLICAS ?? '1', ...natsTlsEnvironment() },
  });
  if (run.status !== 0) throw new Error(`the NATS setup step failed: ${run.stderr.trim()}`);
}

/** What Node itself reads, which every process keeps. */
const NODE_VARIABLES = ['NODE_OPTIONS', 'NODE_EXTRA_CA_CERTS', 'TZ'];
/** Operator tools (TOOL_MODULES) run inside mcp-tools and read their own settings: those named TOOL_… go to it. */
const TOOL_SETTINGS = /^TOOL_[A-Z0-9_]+$/;

/**
 * The environment of one service: exactly the variables its configuration schema reads (dist/service-env.json,
 * written by the build), taken from this environment and from `values`, and its own NATS credential. Nothing
 * else: no other service's secrets (SEED_USERS, ADMIN_TOKEN, another identity's credential).
 */
function serviceEnvironment(name, values) {
  const reads = new Set(JSON.parse(readFileSync(join(root, 'dist', 'service-env.json'), 'utf8'))[name] ?? []);
  const env = {};
  for (const key of NODE_VARIABLES) if (process.env[key] !== undefined) env[key] = process.env[key];
  // The credential is never taken from this environment: each service gets its own, or none.
  const { NATS_CREDENTIALS_FILE: _ignored, ...inherited } = process.env;
  for (const [key, value] of Object.entries({ ...inherited, ...values })) {
    // A setting the service reads may come from a file instead (<NAME>_FILE, read by the service's configuration).
    const read = reads.has(key) || (key.endsWith('_FILE') && reads.has(key.slice(0, -'_FILE'.length)));
    if ((read || (name === 'mcp-tools' && TOOL_SETTINGS.test(key))) && value !== undefined) env[key] = value;
  }
  return env;
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

/** What the authorization service did with each SEED_USERS entry (its "seed user" log lines), for the summary. */
const seedOutcomes = new Map();

function noteSeedOutcome(name, line) {
  if (name !== 'authorization' || !line.includes('seed user')) return;
  try {
    const { msg, username, outcome } = JSON.parse(line);
    if (typeof username === 'string' && /^seed user/.test(msg)) seedOutcomes.set(username, outcome ?? 'not-created');
  } catch {}
}

/** The users there are, as the admin API lists them (up to `limit`), or null if it does not answer. */
async function existingUsers(token, limit) {
  try {
    const response = await fetch(`http://127.0.0.1:${port('admin')}/admin/api/users?limit=${limit}`, { headers: { authorization: `Bearer ${token}` } });
    if (!response.ok) return null;
    return (await response.json()).users.map((u) => u.username);
  } catch {
    return null;
  }
}

/** The summary's lines about users: who is there, and what became of each SEED_USERS entry. */
function usersSummary(users) {
  const lines = [];
  const kept = [...seedOutcomes].filter(([, outcome]) => outcome === 'exists-with-another-password').map(([name]) => name);
  const refused = [...seedOutcomes].filter(([, outcome]) => outcome === 'not-created').map(([name]) => name);
  if (users === null) lines.push('Users: the admin API did not answer; see the console.');
  else if (users.length === 0) lines.push('No users yet. Add one:  npm run users -- add alice   (or start with SEED_USERS="alice:a-long-password")');
  else {
    const shown = users.slice(0, 5).join(', ');
    const created = [...seedOutcomes].filter(([, outcome]) => outcome === 'created').map(([name]) => name);
    lines.push(`Users: ${shown}${users.length > 5 ? ', and more (Users page of the console)' : ''}${created.length > 0 ? `   (created now from SEED_USERS: ${created.join(', ')})` : ''}`);
    const names = users.length <= 5 ? users.slice(0, -1).join(', ') + (users.length > 1 ? ' or ' : '') + users.at(-1) : 'any of them';
    lines.push(`Sign in as ${names}. Connected apps: ${publicUrls.ISSUER}/account   (another user: npm run users -- add <name>)`);
  }
  for (const name of kept) lines.push(`SEED_USERS: ${name} exists with another password; left unchanged (SEED_USERS only creates users).`);
  for (const name of refused) lines.push(`SEED_USERS: ${name} was not created; the authorization log above says why.`);
  return lines;
}

/** Service logs are JSON lines; on a terminal they are shown as one readable line each. */
function relay(name, stream) {
  const rl = createInterface({ input: stream });
  rl.on('line', (line) => {
    if (logFormat === 'json') {
      noteSeedOutcome(name, line);
      return say(line);
    }
    noteSeedOutcome(name, line);
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

/**
 * Starts a child with exactly the environment given, in a process group of its own: Ctrl-C at a terminal
 * signals the whole foreground group, and NATS must not get it at the same time as the services. This
 * process alone decides the order in which they stop.
 */
function launch(name, command, args, env) {
  if (stopping) throw new Error(`not starting ${name}: the stack is stopping`);
  const child = spawn(command, args, { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
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

async function stopAll(exitCode, reason) {
  if (stopping) return;
  stopping = true;
  if (reason) say(`${reason}: stopping the stack.`);
  // Services first, together (each finishes its in-flight requests and its writes to NATS), NATS last.
  await Promise.all([...children.keys()].filter((n) => n !== 'nats').map(stopChild));
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

for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => void stopAll(0, signal));

/**
 * An orphan stops too: when the process that started this one (npm, a shell, a supervisor) is gone without a
 * signal reaching us, nobody is left to stop the stack, and its ports and data folder would stay taken.
 */
const startedBy = process.ppid;
setInterval(() => {
  if (process.ppid !== startedBy) void stopAll(0, `the process that started this one (pid ${startedBy}) is gone`);
}, 500).unref();
// Whoever read our output may be gone (a closed terminal, a dead parent's pipe): stopping must not fail on it.
process.stdout.on('error', () => {});
process.stderr.on('error', () => {});

async function main() {
  mkdirSync(dataDir, { recursive: true });
  let natsUrl = process.env.NATS_URL;
  let access = externalNatsAccess();
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
    mkdirSync(store, { recursive: true, mode: 0o700 });
    chmodSync(store, 0o700);
    access = privateNatsAccess();
    const syncAlways = wantsSyncAlways();
    try {
      // The configuration is written anew at every start, so the block is added to this start's only.
      if (syncAlways) appendFileSync(access.configFile, syncAlwaysConfig(nats));
    } catch (err) {
      say(err.message);
      process.exit(1);
    }
    natsNote = `nats-server ${nats.version}${syncAlways ? ', sync_interval: always' : ''}, `;
    // NATS logs to a file in its store; its console banner would drown the services' lines. Of the environment it
    // gets PATH (to be found by name) and none of our variables.
    if (stopping) return;
    launch('nats', nats.binary, ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', store, '-l', join(store, 'nats-server.log'), '-c', access.configFile], { PATH: process.env.PATH ?? '' });
    await waitForPort(port, 15_000);
    natsUrl = `nats://127.0.0.1:${port}`;
  }
  setUpStreams(natsUrl, access);
  // `npm run users -- add <name>` finds the stack's NATS here.
  writeFileSync(join(dataDir, 'nats.url'), `${natsUrl}\n`);
  writeStackFile(natsUrl, access);

  const common = { NATS_URL: natsUrl, DATA_DIR: dataDir, HOST: process.env.HOST ?? '127.0.0.1', ...publicUrls };
  const admin = adminSecrets();
  for (const service of SERVICES) {
    if (stopping) return;
    const child = launch(
      service.name,
      process.execPath,
      ['--enable-source-maps', join('dist', `${service.name}.mjs`)],
      serviceEnvironment(service.name, { ...common, ...admin.env, PORT: String(service.port), NATS_CREDENTIALS_FILE: access.credentialOf(service.name) }),
    );
    try {
      await waitForReady(`http://127.0.0.1:${service.port}/readyz`, child, 60_000);
    } catch (err) {
      if (stopping) return;
      say(`${service.name} did not start: ${err.message}`);
      return stopAll(1);
    }
  }

  const { REGISTRATION_BASE_URL: registration, ISSUER: issuer, MCP_RESOURCE_URL: mcp, TOKEN_BASE_URL: token } = publicUrls;
  say('');
  say('The stack is up.');
  say(`  MCP server:    ${mcp}        <- point your agent here`);
  say(`  Issuer:        ${issuer}   (metadata: ${issuer}/.well-known/oauth-authorization-server)`);
  say(`  Registration:  ${registration}/register`);
  say(`  Token:         ${token}/token`);
  say(`  Admin console: ${publicUrls.ADMIN_BASE_URL}/admin   (token: ${admin.tokenFile ? `cat ${admin.tokenFile}` : 'ADMIN_TOKEN'})`);
  say(`  NATS:          ${natsUrl}${process.env.NATS_URL ? '' : `  (private ${natsNote}data in ${join(dataDir, 'nats')})`}`);
  say('');
  for (const line of usersSummary(await existingUsers(admin.token(), 6))) say(line);
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
