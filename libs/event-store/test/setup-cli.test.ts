// nats-setup's credential commands, as npm start and an operator run them (the streams command is run by every
// secured test stack and by npm start).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { NATS_IDENTITIES } from '@mcp-auth/contracts';
import { publicKeyOfSeedFile } from '../src/index.ts';

const CLI = new URL('../src/setup-cli.ts', import.meta.url).pathname;
const setup = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', CLI, ...args], { encoding: 'utf8' });

test('rotate: one identity gets a new key, the next configuration names it instead of the old one, the others keep theirs', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nats-setup-'));
  try {
    const credentials = join(dir, 'credentials');
    const config = join(dir, 'nats.conf');
    assert.equal(setup('server-config', credentials, config).status, 0);
    const before = Object.fromEntries(NATS_IDENTITIES.map((i) => [i, publicKeyOfSeedFile(join(credentials, `${i}.nk`))]));
    const rotated = setup('rotate', 'token', credentials);
    assert.equal(rotated.status, 0, rotated.stderr);
    assert.equal(statSync(join(credentials, 'token.nk')).mode & 0o777, 0o600);
    assert.equal(setup('server-config', credentials, config).status, 0);
    const text = readFileSync(config, 'utf8');
    const token = publicKeyOfSeedFile(join(credentials, 'token.nk'));
    assert.notEqual(token, before.token);
    assert.ok(text.includes(token) && !text.includes(before.token!), 'the configuration names the new key only');
    for (const identity of NATS_IDENTITIES.filter((i) => i !== 'token')) assert.equal(publicKeyOfSeedFile(join(credentials, `${identity}.nk`)), before[identity], identity);
    const unknown = setup('rotate', 'nobody', credentials);
    assert.equal(unknown.status, 2);
    assert.match(unknown.stderr, /nobody is not an identity/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
