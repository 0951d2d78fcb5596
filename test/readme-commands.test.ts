// The README's commands, verbatim, against the stack `npm start` started on free ports: every shell block marked
// `<!-- readme-test: stack -->` runs in a folder laid out as the project folder (its `data` is the stack's data
// folder), and must succeed.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { REPO_ROOT, startUserStack, type UserStack } from '@mcp-auth/testing';

const README = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
const MARKED = [...README.matchAll(/<!-- readme-test: stack -->\n```sh\n([\s\S]*?)```/g)].map((m) => m[1]!);

describe('README commands against a stack started by npm start', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'readme-data-'));
  const project = mkdtempSync(join(tmpdir(), 'readme-project-'));
  let stack: UserStack;

  before(async () => {
    // The project folder as a user has it, with the data folder of this test's stack.
    for (const entry of ['package.json', 'node_modules', 'services', 'libs', 'dist', 'scripts', 'tsconfig.json']) symlinkSync(join(REPO_ROOT, entry), join(project, entry));
    symlinkSync(dataDir, join(project, 'data'));
    stack = await startUserStack({ dataDir, env: { SEED_USERS: 'alice:correct-horse-battery' } });
  });
  after(async () => {
    await stack?.stop();
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(project, { recursive: true, force: true });
  });

  test('the README marks commands to run', () => {
    assert.ok(MARKED.length >= 2, `${MARKED.length} marked blocks`);
  });

  for (const [i, block] of MARKED.entries()) {
    test(`block ${i + 1}: ${block.split('\n')[0]}`, () => {
      const run = spawnSync('bash', ['-e', '-o', 'pipefail', '-c', block], {
        cwd: project,
        encoding: 'utf8',
        timeout: 60_000,
        // Nothing of the test's own environment tells the commands where the stack is.
        env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? project },
      });
      assert.equal(run.status, 0, `exit ${run.status}\n${block}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`);
      if (block.includes('registration_endpoint')) assert.equal(run.stdout.trim().split('\n').at(-1), `${stack.urls.registration}/register`);
    });
  }
});
