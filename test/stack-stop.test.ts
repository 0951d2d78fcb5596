// Stopping `npm start` the ways it is stopped: a supervisor's SIGTERM to npm, Ctrl-C at a terminal (SIGINT to
// the whole foreground process group), SIGHUP, and the death of whatever started it. Each time every process of
// the stack ends, the services before nats-server. And the start-up summary after a restart says what is there.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { REPO_ROOT, startUserStack, type UserStack } from '@mcp-auth/testing';

type Running = { child: ChildProcess; output(): string; ports: UserStack['ports'] };

/** Starts the stack with `command`, in a process group of its own as a shell starts a job, and waits for the summary. */
function startStack(command: string, args: string[], dataDir: string, env: Record<string, string> = {}): Promise<Running> {
  return startUserStack({ dataDir, env, command: [command, ...args], detached: true });
}

/** Whether a process is still running (a zombie, exited but not yet reaped, counts as gone). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** Every process below `pid`, with its command line. */
function descendants(pid: number): Array<{ pid: number; command: string }> {
  const found: Array<{ pid: number; command: string }> = [];
  const visit = (parent: number) => {
    for (const task of existsSync(`/proc/${parent}/task`) ? readdirSync(`/proc/${parent}/task`) : []) {
      for (const id of readFileSync(`/proc/${parent}/task/${task}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number)) {
        found.push({ pid: id, command: readFileSync(`/proc/${id}/cmdline`, 'utf8').split('\0').join(' ') });
        visit(id);
      }
    }
  };
  visit(pid);
  return found;
}

/** The stack's processes at and under `pid`: start.mjs, nats-server and the five services, each found once. */
function stackProcesses(pid: number) {
  const all = [{ pid, command: readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ') }, ...descendants(pid)];
  const one = (what: string, match: (command: string) => boolean) => {
    const found = all.filter((p) => match(p.command));
    assert.equal(found.length, 1, `one ${what} among ${JSON.stringify(all)}`);
    return found[0]!.pid;
  };
  const services = ['registration', 'authorization', 'token', 'mcp-tools', 'admin'].map((name) => ({ name, pid: one(name, (c) => c.includes(`dist/${name}.mjs`)) }));
  return { start: one('start.mjs', (c) => /^\S*node\s.*scripts\/start\.mjs/.test(c)), nats: one('nats-server', (c) => /nats-server\s/.test(c)), services };
}

/** Watches the processes until all are gone, and returns the order they went in. */
async function orderOfEnding(processes: Array<{ name: string; pid: number }>, timeoutMs = 30_000): Promise<string[]> {
  const gone: string[] = [];
  const deadline = Date.now() + timeoutMs;
  while (gone.length < processes.length) {
    for (const p of processes) if (!gone.includes(p.name) && !alive(p.pid)) gone.push(p.name);
    if (Date.now() > deadline) assert.fail(`still running after ${timeoutMs} ms: ${processes.filter((p) => !gone.includes(p.name)).map((p) => p.name).join(', ')}`);
    await new Promise((r) => setTimeout(r, 5));
  }
  return gone;
}

/** Asserts everything ended, nats-server after every service. */
async function assertStopsInOrder(stack: ReturnType<typeof stackProcesses>, extra: Array<{ name: string; pid: number }> = []): Promise<void> {
  const order = await orderOfEnding([...stack.services, { name: 'nats-server', pid: stack.nats }, { name: 'start.mjs', pid: stack.start }, ...extra]);
  const natsAt = order.indexOf('nats-server');
  for (const service of stack.services) assert.ok(order.indexOf(service.name) < natsAt, `${service.name} ended before nats-server: ${order.join(' < ')}`);
}

const dataDirs: string[] = [];
const freshDataDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'stack-stop-'));
  dataDirs.push(dir);
  return dir;
};
after(() => {
  for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true });
});

describe('npm start stops whole, services first and NATS last', () => {
  test('SIGTERM to the npm process (what a supervisor sends)', async () => {
    const stack = await startStack('npm', ['start'], freshDataDir(), { SEED_USERS: 'alice:correct-horse-battery' });
    const processes = stackProcesses(stack.child.pid!);
    const npmExited = new Promise<void>((resolve) => stack.child.once('exit', () => resolve()));
    process.kill(stack.child.pid!, 'SIGTERM');
    await assertStopsInOrder(processes);
    await npmExited;
    assert.match(stack.output(), /SIGTERM: stopping the stack\./);
  });

  test('Ctrl-C: SIGINT to the whole foreground process group reaches NATS only after the services', async () => {
    const stack = await startStack(process.execPath, [join(REPO_ROOT, 'scripts', 'start.mjs')], freshDataDir());
    const processes = stackProcesses(stack.child.pid!);
    // The terminal signals the group the shell made for the job: npm start and everything that stayed in it.
    process.kill(-stack.child.pid!, 'SIGINT');
    await assertStopsInOrder(processes);
    assert.match(stack.output(), /SIGINT: stopping the stack\./);
  });

  test('an orphaned start.mjs (the process that started it killed outright) notices and stops the stack', async () => {
    // A shell that waits for start.mjs, as npm's does; SIGKILL leaves start.mjs without its parent and without a signal.
    const stack = await startStack('sh', ['-c', `"${process.execPath}" scripts/start.mjs; echo after`], freshDataDir());
    const processes = stackProcesses(stack.child.pid!);
    process.kill(stack.child.pid!, 'SIGKILL');
    await assertStopsInOrder(processes);
    assert.match(stack.output(), /the process that started this one \(pid \d+\) is gone: stopping the stack\./);
  });
});

describe('the start-up summary after a restart', () => {
  test('lists the users there are, says which SEED_USERS entry was left unchanged, and names the token endpoint; SIGHUP stops it', async () => {
    const dataDir = freshDataDir();
    const first = await startStack(process.execPath, [join(REPO_ROOT, 'scripts', 'start.mjs')], dataDir, { SEED_USERS: 'alice:correct-horse-battery,bob:bobs-first-password' });
    assert.match(first.output(), /Users: alice, bob\s+\(created now from SEED_USERS: alice, bob\)/);
    assert.match(first.output(), new RegExp(`  Token:\\s+http://localhost:${first.ports.token}/token\\n`));
    const firstProcesses = stackProcesses(first.child.pid!);
    process.kill(firstProcesses.start, 'SIGHUP');
    await assertStopsInOrder(firstProcesses);

    // Restarted without SEED_USERS: the users are still there.
    const second = await startStack(process.execPath, [join(REPO_ROOT, 'scripts', 'start.mjs')], dataDir);
    assert.match(second.output(), /Users: alice, bob\n/);
    assert.doesNotMatch(second.output(), /No users/);
    const secondProcesses = stackProcesses(second.child.pid!);
    process.kill(secondProcesses.start, 'SIGTERM');
    await assertStopsInOrder(secondProcesses);

    // Restarted with bob given another password: bob keeps his, and the summary says so.
    const third = await startStack(process.execPath, [join(REPO_ROOT, 'scripts', 'start.mjs')], dataDir, { SEED_USERS: 'alice:correct-horse-battery,bob:another-password' });
    assert.match(third.output(), /SEED_USERS: bob exists with another password; left unchanged/);
    assert.doesNotMatch(third.output(), /SEED_USERS: alice exists/);
    assert.doesNotMatch(third.output(), /created now/);
    const thirdProcesses = stackProcesses(third.child.pid!);
    process.kill(thirdProcesses.start, 'SIGTERM');
    await assertStopsInOrder(thirdProcesses);
  });
});
