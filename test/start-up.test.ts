import assert from 'node:assert/strict';
import { test } from 'node:test';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { isDurableNatsVersion } from '@mcp-auth/event-store';
import { REPO_ROOT, freePort, http, natsServerVersion, startNats, startService, startedTogether, waitUntilAnswers, type ServiceProcess } from '@mcp-auth/testing';

test('services started before NATS listen at once, say on /readyz what they wait for, answer 503 meanwhile, and start once NATS is there', async () => {
  const natsPort = await freePort();
  const natsUrl = `nats://127.0.0.1:${natsPort}`;
  const [registrationPort, authorizationPort, tokenPort] = await Promise.all([freePort(), freePort(), freePort()]);
  const env = {
    NATS_URL: natsUrl,
    ISSUER: `http://127.0.0.1:${authorizationPort}`,
    REGISTRATION_BASE_URL: `http://127.0.0.1:${registrationPort}`,
    TOKEN_BASE_URL: `http://127.0.0.1:${tokenPort}`,
    // The writes they make at start (users, a signing key) wait for NATS too.
    SEED_USERS: 'alice:password123',
  };
  const services = await startedTogether(
    startService('authorization', { env, port: authorizationPort, waitFor: 'healthy' }),
    startService('token', { env, port: tokenPort, waitFor: 'healthy' }),
  );
  let nats: Awaited<ReturnType<typeof startNats>> | null = null;
  try {
    for (const service of services) {
      const ready = await http(`${service.url}/readyz`);
      assert.equal(ready.status, 503);
      assert.equal(ready.json!.status, 'starting');
      assert.match(ready.json!.waitingFor, /^NATS at nats:\/\/127\.0\.0\.1:\d+$/);
    }
    const token = await http(`http://127.0.0.1:${tokenPort}/token`, { method: 'POST', form: { grant_type: 'refresh_token', refresh_token: 'x' } });
    assert.equal(token.status, 503);
    assert.equal(token.json!.error, 'temporarily_unavailable', 'an OAuth error an agent retries');
    assert.equal(token.headers.get('retry-after'), '2');
    await eventually(() => services.every((s) => s.output().includes('waiting for NATS: no server and stream reached yet')), 10_000);

    nats = await startNats({ port: natsPort });
    for (const service of services) await waitUntilAnswers(`${service.url}/readyz`, 20_000, () => service.child.exitCode !== null);
    const authorization = services[0].output();
    assert.match(authorization, /"username":"alice","outcome":"created"/);
    assert.match(services[1].output(), /signing key published/);
    // A NATS that can lose acknowledged writes in a crash is named at start, loudly; a safe one is not.
    const version = natsServerVersion();
    for (const service of services) {
      const warned = /"level":40,.*"msg":"UNSAFE NATS: nats-server [^ ]+ is older than 2\.10\.23; a crash of the NATS process can lose writes it has already acknowledged/.test(service.output());
      assert.equal(warned, !isDurableNatsVersion(version), `${service.name} on nats-server ${version}: warned ${warned}`);
    }
    for (const service of services) {
      assert.equal(service.child.exitCode, null, `${service.name} is still running`);
      assert.doesNotMatch(service.output(), /\n\s+at /, `${service.name} printed no stack trace`);
    }
  } finally {
    await Promise.all(services.map((s: ServiceProcess) => s.stop()));
    await nats?.stop();
  }
});

test('a stream configured otherwise ends the service at once, with one line and exit code 2, instead of a wait', async () => {
  const nats = await startNats({ restartable: true });
  const dataDir = mkdtempSync(join(tmpdir(), 'misconfigured-'));
  try {
    const nc = await connect({ servers: nats.url });
    await (await jetstreamManager(nc)).streams.add({ name: 'EVENTS', subjects: ['elsewhere.>'] });
    await nc.close();
    const child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'services', 'registration', 'src', 'main.ts')], {
      cwd: REPO_ROOT,
      env: { ...process.env, NATS_URL: nats.url, PORT: String(await freePort()), HOST: '127.0.0.1', DATA_DIR: dataDir, LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      child.once('exit', (exitCode) => {
        clearTimeout(timer);
        resolve(exitCode);
      });
    });
    assert.equal(code, 2);
    assert.equal(stderr.trim().split('\n').length, 1, stderr);
    assert.match(stderr, /^registration: stream EVENTS exists but does not capture events\.>/);
  } finally {
    await nats.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

async function eventually(check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`not true within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
