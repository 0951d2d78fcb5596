import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CredentialStore } from '../src/stdio/credential-store.ts';

const WRITER = fileURLToPath(new URL('./fixtures/credential-writer.ts', import.meta.url));
const RESOURCE = 'http://127.0.0.1:9/mcp';

describe('the stored credential of mcp-tools --stdio', () => {
  test('processes sharing it take turns: three writers of 15 rounds each lose no update', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'credential-store-')), 'credentials');
    try {
      const writers = Array.from({ length: 3 }, () => spawn(process.execPath, ['--import', 'tsx', WRITER, dir, '15'], { stdio: ['ignore', 'ignore', 'inherit'] }));
      const codes = await Promise.all(writers.map((w) => new Promise((resolve) => w.once('exit', resolve))));
      assert.deepEqual(codes, [0, 0, 0]);
      const store = CredentialStore.open(dir, RESOURCE);
      assert.equal(store.read().grant?.refreshToken, '45');
      assert.equal(statSync(dir).mode & 0o777, 0o700);
      assert.equal(statSync(store.file).mode & 0o777, 0o600);
      assert.deepEqual(readdirSync(dir), [store.file.slice(dir.length + 1)], 'no lock or temporary file left');
    } finally {
      rmSync(join(dir, '..'), { recursive: true, force: true });
    }
  });

  test('a lock left by a process that died is taken over at once', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'credential-store-')), 'credentials');
    try {
      const store = CredentialStore.open(dir, RESOURCE);
      const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout;
      writeFileSync(store.file.replace(/\.json$/, '.lock'), dead);
      const started = Date.now();
      assert.equal(await store.locked(async () => 'taken'), 'taken');
      assert.ok(Date.now() - started < 1_000);
    } finally {
      rmSync(join(dir, '..'), { recursive: true, force: true });
    }
  });
});
