import assert from 'node:assert/strict';
import { test } from 'node:test';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compareVersions, isDurableNatsVersion, supportsSyncInterval } from '@mcp-auth/event-store';
import { REPO_ROOT, freePort, http, launchNatsServer } from '@mcp-auth/testing';
import { USUAL_NATS_SERVERS, chooseNatsServer, natsServerVersionOf, syncAlwaysArgs } from '../scripts/nats-server.mjs';

/** The real nats-servers on this machine: the usual places, and NATS_SERVER_BIN (CI's second pass gives a 2.10). */
const installed = [...new Set([...USUAL_NATS_SERVERS, ...(process.env.NATS_SERVER_BIN ? [process.env.NATS_SERVER_BIN] : [])])]
  .map((binary) => ({ binary, version: natsServerVersionOf(binary) }))
  .filter((s): s is { binary: string; version: string } => s.version !== null);
const durable = installed.find((s) => isDurableNatsVersion(s.version));
const older = installed.find((s) => !isDurableNatsVersion(s.version));
const withSyncInterval = installed.find((s) => supportsSyncInterval(s.version));
const withoutSyncInterval = installed.find((s) => !supportsSyncInterval(s.version));
const needs = (what: string, found: unknown) => (found ? false : `needs ${what} on this machine (installed: ${installed.map((s) => s.version).join(', ') || 'none'}); CI's second pass has one`);

test('versions compare as numbers, and only 2.10.23 and later count as keeping acknowledged writes through a crash', () => {
  assert.ok(compareVersions('2.10.23', '2.9.25') > 0);
  assert.ok(compareVersions('v2.10.3', '2.10.23') < 0);
  assert.ok(compareVersions('2.11.0-RC.1', '2.11.0') < 0);
  assert.deepEqual(['2.9.10', '2.10.22', '2.10.23', '2.10.27', '2.11.4', 'unknown'].map(isDurableNatsVersion), [false, false, true, true, true, false]);
  assert.deepEqual(['2.9.25', '2.10.0', 'unknown'].map(supportsSyncInterval), [false, true, false]);
});

test('npm start takes the newest nats-server that keeps acknowledged writes over an older one found first', { skip: needs('a nats-server older than 2.10.23 and a later one', durable && older) }, () => {
  const chosen = chooseNatsServer({ env: {}, candidates: [older!.binary, durable!.binary] });
  assert.equal(chosen?.binary, durable!.binary);
  assert.equal(chosen?.durable, true);
});

test('with only an older nats-server, npm start takes it (and says so); NATS_SERVER_BIN is taken as given', { skip: needs('a nats-server older than 2.10.23', older) }, () => {
  const only = chooseNatsServer({ env: {}, candidates: ['/nonexistent/nats-server', older!.binary] });
  assert.deepEqual(only, { binary: older!.binary, version: older!.version, durable: false });
  assert.equal(chooseNatsServer({ env: { NATS_SERVER_BIN: older!.binary }, candidates: installed.map((s) => s.binary) })?.binary, older!.binary);
  assert.equal(chooseNatsServer({ env: { NATS_SERVER_BIN: '/nonexistent/nats-server' } }), null);
});

test('NATS_SYNC_ALWAYS: the private nats-server runs with sync_interval always (read back from the running server)', { skip: needs('nats-server 2.10 or later', withSyncInterval) }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sync-always-'));
  const [port, monitor] = [await freePort(), await freePort()];
  const server = await launchNatsServer(withSyncInterval!.binary, [...syncAlwaysArgs(withSyncInterval!, dir), '-js', '-a', '127.0.0.1', '-p', String(port), '-m', String(monitor), '-sd', join(dir, 'store')], port);
  try {
    const jsz = await http(`http://127.0.0.1:${monitor}/jsz?config=true`);
    assert.equal(jsz.json!.config.sync_always, true);
  } finally {
    await server.halt('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
});

test('NATS_SYNC_ALWAYS with a nats-server that has no sync_interval (2.9): npm start refuses, saying why and what to do', { skip: needs('a nats-server older than 2.10', withoutSyncInterval) }, () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'sync-always-old-'));
  try {
    const run = spawnSync(process.execPath, [join(REPO_ROOT, 'scripts', 'start.mjs')], {
      cwd: REPO_ROOT,
      env: { ...process.env, NATS_URL: '', NATS_SERVER_BIN: withoutSyncInterval!.binary, NATS_SYNC_ALWAYS: 'true', DATA_DIR: dataDir },
      encoding: 'utf8',
      timeout: 30_000,
    });
    assert.equal(run.status, 1, run.stdout + run.stderr);
    assert.match(run.stdout, new RegExp(`NATS_SYNC_ALWAYS=true needs nats-server 2\\.10\\.0 or later \\(sync_interval\\); .* is ${withoutSyncInterval!.version.replace(/\./g, '\\.')}`));
    assert.match(run.stdout, /WARNING: nats-server 2\.9\.\d+ .* is older than 2\.10\.23/);
    assert.throws(() => readFileSync(join(dataDir, 'nats.url')), 'no NATS was started');
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});
