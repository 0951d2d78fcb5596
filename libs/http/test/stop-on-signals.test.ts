import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';

const FIXTURE = fileURLToPath(new URL('./fixtures/stopping-process.ts', import.meta.url));

/** Starts the fixture, sends SIGTERM once it is ready, and returns its exit code, output and how long it took to stop. */
async function stopFixture(mode: 'clean' | 'hang'): Promise<{ code: number | null; output: string; ms: number }> {
  const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE, mode], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = once(child, 'exit');
  while (!output.includes('ready')) await new Promise((r) => setTimeout(r, 20));
  const started = Date.now();
  child.kill('SIGTERM');
  const [code] = (await exited) as [number | null];
  return { code, output, ms: Date.now() - started };
}

describe('stopping on a signal (a real process)', () => {
  test('steps that finish: exit 0, "stopped" logged', async () => {
    const { code, output } = await stopFixture('clean');
    assert.equal(code, 0, output);
    assert.match(output, /"msg":"stopped"/);
  });

  test('a step that never finishes: the process exits with 1 at the deadline and says which step hung', async () => {
    const { code, output, ms } = await stopFixture('hang');
    assert.equal(code, 1, output);
    assert.ok(ms >= 250 && ms < 5_000, `stopped after ${ms} ms`);
    const line = output.split('\n').find((l) => l.includes('did not finish in time'));
    assert.ok(line, output);
    assert.equal(JSON.parse(line).step, 2);
    assert.doesNotMatch(output, /"msg":"stopped"/);
  });
});
