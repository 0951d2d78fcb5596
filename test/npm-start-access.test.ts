// npm start's private NATS as a trust boundary: credentials made once into the data folder, each process given
// only its own credential and the variables it reads, the data of the version before authorization still read,
// and `npm run users` writing only to the stack it belongs to.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { connect } from '@nats-io/transport-node';
import { NATS_IDENTITIES, SERVICE_IDENTITIES } from '@mcp-auth/contracts';
import { EventStore, publicKeyOfSeedFile } from '@mcp-auth/event-store';
import { BrowserlessUser, REPO_ROOT, freePort, obtainTokens, registerPublicClient, startNats, startUserStack, waitForPort, type UserStack } from '@mcp-auth/testing';
import { createUser } from '../services/authorization/src/users/create-user.ts';

const CLI = join(REPO_ROOT, 'services', 'authorization', 'src', 'users', 'cli.ts');

/** `npm run users -- add <name>`, with the password on stdin and only the given environment. */
function usersAdd(name: string, password: string, env: Record<string, string>) {
  const run = spawnSync(process.execPath, ['--import', 'tsx', CLI, 'add', name], {
    cwd: REPO_ROOT,
    input: `${password}\n`,
    env: { PATH: process.env.PATH ?? '', ...env },
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

/** A process's environment variables, from /proc. */
function environmentOf(pid: number): Record<string, string> {
  const entries = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter(Boolean);
  return Object.fromEntries(entries.map((entry) => [entry.slice(0, entry.indexOf('=')), entry.slice(entry.indexOf('=') + 1)]));
}

/** The child processes of a process (Linux), each with its command line. */
function childrenOf(pid: number): Array<{ pid: number; command: string }> {
  const ids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  return ids.map((id) => ({ pid: id, command: readFileSync(`/proc/${id}/cmdline`, 'utf8').split('\0').join(' ') }));
}

/**
 * The data folder as the version before authorization left it: a nats-server without any, the stream made by a
 * service, a user in it.
 */
async function dataOfThePreviousVersion(dataDir: string, user: { username: string; password: string }): Promise<void> {
  const port = await freePort();
  const binary = process.env.NATS_SERVER_BIN || 'nats-server';
  const nats = spawn(binary, ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', join(dataDir, 'nats')], { stdio: 'ignore' });
  try {
    await waitForPort(port, 10_000);
    const store = await EventStore.connect({ servers: `nats://127.0.0.1:${port}`, connectionName: 'previous-version' });
    assert.equal(await createUser(store, user.username, user.password, { kind: 'system', id: 'seed' }), 'created');
    await store.close();
  } finally {
    const exited = new Promise((resolve) => nats.once('exit', resolve));
    nats.kill('SIGTERM');
    await exited;
  }
}

describe('npm start: a private NATS with a credential per identity', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'start-access-'));
  const old = { username: 'olduser', password: 'from-the-previous-version' };
  let stack: UserStack;

  before(async () => {
    await dataOfThePreviousVersion(dataDir, old);
    stack = await startUserStack({ dataDir, env: { SEED_USERS: 'alice:correct-horse-battery', ADMIN_TOKEN: 'admin-token-of-this-test-0123456789abcdef', TOOL_DICE_SIDES: '20' } });
  });
  after(async () => {
    await stack?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('each service gets only the variables it reads and its own credential; nats-server gets none of ours', () => {
    const reads = JSON.parse(readFileSync(join(REPO_ROOT, 'dist', 'service-env.json'), 'utf8')) as Record<string, string[]>;
    const children = childrenOf(stack.child.pid!);
    for (const service of SERVICE_IDENTITIES) {
      const child = children.find((c) => c.command.includes(`dist/${service}.mjs`));
      assert.ok(child, `${service} runs as a child of npm start`);
      const env = environmentOf(child.pid);
      const extra = Object.keys(env).filter((key) => !reads[service]!.includes(key) && !['NODE_OPTIONS', 'NODE_EXTRA_CA_CERTS', 'TZ'].includes(key) && !(service === 'mcp-tools' && key === 'TOOL_DICE_SIDES'));
      assert.deepEqual(extra, [], `${service} gets only what its configuration reads`);
      assert.equal('TOOL_DICE_SIDES' in env, service === 'mcp-tools', `${service}: an operator tool's setting goes to mcp-tools only`);
      assert.equal(env.NATS_CREDENTIALS_FILE, stack.credentialOf(service), `${service} gets its own credential`);
      assert.equal('SEED_USERS' in env, service === 'authorization', `${service}: SEED_USERS`);
      assert.equal('ADMIN_TOKEN' in env, service === 'admin', `${service}: ADMIN_TOKEN`);
      assert.equal('WEBHOOK_SECRETS_KEY' in env, service === 'admin', `${service}: WEBHOOK_SECRETS_KEY`);
    }
    const nats = children.find((c) => c.command.includes('nats-server'));
    assert.ok(nats, 'nats-server runs as a child of npm start');
    assert.deepEqual(Object.keys(environmentOf(nats.pid)), ['PATH']);
  });

  test('the credentials and the server configuration are private files in the data folder; the configuration names every identity', () => {
    const dir = join(dataDir, 'nats-credentials');
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    assert.deepEqual(readdirSync(dir).sort(), NATS_IDENTITIES.map((i) => `${i}.nk`).sort());
    const config = join(dataDir, 'nats', 'nats-server.conf');
    for (const file of [...NATS_IDENTITIES.map((i) => stack.credentialOf(i)), config]) assert.equal(statSync(file).mode & 0o777, 0o600, file);
    const text = readFileSync(config, 'utf8');
    for (const identity of NATS_IDENTITIES) assert.ok(text.includes(publicKeyOfSeedFile(stack.credentialOf(identity))), `${identity}'s key is in the configuration`);
    assert.ok(!/SU[A-Z2-7]{56}/.test(text), 'no seed in the configuration');
    assert.ok(!stack.output().includes(readFileSync(stack.credentialOf('operator'), 'utf8').trim()), 'no seed in the output');
  });

  test('the data of the version before authorization is read as before: its user signs in', async () => {
    const tokens = await obtainTokens(stack.urls, new BrowserlessUser(stack.urls.issuer, old.username, old.password), await registerPublicClient(stack.urls));
    assert.ok(tokens.access_token);
  });

  test('npm run users -- add: writes to this stack as the users identity, says where, and the user signs in', async () => {
    const added = usersAdd('bob', 'bobs-long-password', { DATA_DIR: dataDir });
    assert.equal(added.code, 0, added.stderr);
    assert.equal(added.stdout, `created user bob on NATS ${stack.natsUrl} (the stack in ${dataDir})\n`);
    const tokens = await obtainTokens(stack.urls, new BrowserlessUser(stack.urls.issuer, 'bob', 'bobs-long-password'), await registerPublicClient(stack.urls));
    assert.ok(tokens.access_token);
    const again = usersAdd('olduser', 'whatever-password', { DATA_DIR: dataDir });
    assert.equal(again.stdout, `user olduser already exists on NATS ${stack.natsUrl} (the stack in ${dataDir}); nothing changed\n`);
  });
});

describe("npm start on someone else's secured NATS (NATS_URL), with NATS_CREDENTIALS_DIR", () => {
  test('each service connects with its credential from the folder, after the operator set the streams up', async () => {
    const nats = await startNats({ secured: true });
    const dataDir = mkdtempSync(join(tmpdir(), 'start-external-'));
    const credentialsDir = join(nats.credentials!.operator, '..');
    let stack: UserStack | undefined;
    try {
      stack = await startUserStack({ dataDir, env: { NATS_URL: nats.url, NATS_CREDENTIALS_DIR: credentialsDir } });
      assert.match(stack.output(), new RegExp(`NATS: +${nats.url.replace(/[.]/g, '\\.')}\n`), 'the summary names that NATS, not a private one');
      const children = childrenOf(stack.child.pid!);
      assert.ok(!children.some((c) => c.command.includes('nats-server')), 'no private nats-server');
      for (const service of SERVICE_IDENTITIES) {
        const child = children.find((c) => c.command.includes(`dist/${service}.mjs`))!;
        assert.equal(environmentOf(child.pid).NATS_CREDENTIALS_FILE, join(credentialsDir, `${service}.nk`), service);
      }
    } finally {
      await stack?.stop();
      await nats.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('npm run users: only the stack it belongs to', () => {
  test('with no stack in DATA_DIR and no NATS_URL: one line saying so, and no NATS is tried', () => {
    const empty = mkdtempSync(join(tmpdir(), 'no-stack-'));
    try {
      const run = usersAdd('carol', 'carols-long-password', { DATA_DIR: empty });
      assert.equal(run.code, 1);
      assert.equal(run.stdout, '');
      assert.equal(run.stderr, `no stack found in ${empty} (no nats.url): start it with \`npm start\` (or point DATA_DIR at its data folder), or set NATS_URL and NATS_CREDENTIALS_FILE\n`);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  test('NATS_URL of a NATS without the EVENTS stream: refused, and the stream is not created', async () => {
    const nats = await startNats({ restartable: true });
    try {
      const run = usersAdd('carol', 'carols-long-password', { NATS_URL: nats.url });
      assert.equal(run.code, 1);
      assert.equal(run.stderr, `NATS at ${nats.url} (NATS_URL) has no EVENTS stream: it is not this platform's NATS (this command never creates the stream)\n`);
      const nc = await connect({ servers: nats.url });
      const names = JSON.parse(new TextDecoder().decode((await nc.request('$JS.API.STREAM.NAMES', '{}')).data)) as { total: number };
      await nc.close();
      assert.equal(names.total, 0, 'no stream was created');
    } finally {
      await nats.stop();
    }
  });

  test('NATS_URL of a secured NATS without NATS_CREDENTIALS_FILE: one line naming the variable; with the users credential it writes', async () => {
    const nats = await startNats({ secured: true });
    try {
      const refused = usersAdd('carol', 'carols-long-password', { NATS_URL: nats.url });
      assert.equal(refused.code, 1);
      assert.equal(refused.stderr, "NATS refused the connection (authorization violation): set NATS_CREDENTIALS_FILE to the platform's users credential\n");
      const added = usersAdd('carol', 'carols-long-password', { NATS_URL: nats.url, NATS_CREDENTIALS_FILE: nats.credentials!.users });
      assert.equal(added.stdout, `created user carol on NATS ${nats.url} (NATS_URL)\n`, added.stderr);
    } finally {
      await nats.stop();
    }
  });
});
