import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CookieKeepingHttp, parseForms, startNats, startService, type NatsHandle, type ServiceProcess } from '@mcp-auth/testing';

const modeOf = (path: string) => statSync(path).mode & 0o777;
const octal = (mode: number) => `0${mode.toString(8)}`;

/**
 * The authorization service's projection holds password hashes and session hashes: its folder and files are
 * the service user's alone, whatever the umask, and a file left readable by an older release is closed up.
 */
describe('data folder and projection files are private, on a real service', () => {
  let nats: NatsHandle;
  let parent: string;
  let fresh: ServiceProcess;
  let upgraded: ServiceProcess;
  const previousUmask = process.umask(0o022);

  before(async () => {
    nats = await startNats();
    parent = mkdtempSync(join(tmpdir(), 'data-at-rest-'));
    const env = { NATS_URL: nats.url, SEED_USERS: 'alice:password123', SIGNIN_RATE_LIMIT: '0' };
    // A file an older release created world-readable, with its WAL.
    const oldDir = join(parent, 'old');
    mkdirSync(oldDir, { mode: 0o755 });
    for (const suffix of ['', '-wal']) {
      writeFileSync(join(oldDir, `authorization.sqlite${suffix}`), '');
      chmodSync(join(oldDir, `authorization.sqlite${suffix}`), 0o644);
    }
    [fresh, upgraded] = await Promise.all([
      startService('authorization', { env, dataDir: join(parent, 'new', 'data') }),
      startService('authorization', { env, dataDir: oldDir }),
    ]);
  });

  after(async () => {
    process.umask(previousUmask);
    await Promise.all([fresh?.stop(), upgraded?.stop()]);
    await nats?.stop();
    if (parent) rmSync(parent, { recursive: true, force: true });
  });

  test('a data folder the service creates is 0700; the projection file and its -wal and -shm are 0600', async () => {
    // A sign-in writes a session hash into the projection (and so into the WAL).
    const browser = new CookieKeepingHttp();
    const page = await browser.request(`${fresh.url}/account`);
    const form = parseForms(page.text).find((f) => f.action === '/signin')!;
    const signedIn = await browser.request(`${fresh.url}/signin`, { method: 'POST', headers: { Origin: 'http://localhost:3001' }, form: { ...form.fields, username: 'alice', password: 'password123' } });
    assert.equal(signedIn.status, 303);

    const dir = join(parent, 'new', 'data');
    assert.equal(octal(modeOf(dir)), '0700', 'the data folder');
    const file = join(dir, 'authorization.sqlite');
    for (const path of [file, `${file}-wal`, `${file}-shm`]) {
      assert.ok(existsSync(path), `${path} exists`);
      assert.equal(octal(modeOf(path)), '0600', path);
    }
  });

  test('an existing projection file and WAL left readable by others are made 0600 at start (an existing folder is the operator\'s)', () => {
    const file = join(upgraded.dataDir, 'authorization.sqlite');
    for (const path of [file, `${file}-wal`, `${file}-shm`]) assert.equal(octal(modeOf(path)), '0600', path);
  });
});
