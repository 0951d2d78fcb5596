import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { startNats, startService, startStack, type NatsHandle } from '@mcp-auth/testing';

describe('the test harness stops a service process', () => {
  let nats: NatsHandle;
  before(async () => {
    nats = await startNats({ restartable: true });
  });
  after(async () => nats?.stop());

  test('gracefully: SIGTERM, and the exit code of its own clean stop', async () => {
    const service = await startService('registration', { env: { NATS_URL: nats.url } });
    assert.equal(await service.stop(), 0);
  });

  test('a process that does not exit in time is killed, and the stop fails naming it', { timeout: 30_000 }, async () => {
    const service = await startService('registration', { env: { NATS_URL: nats.url } });
    // Frozen, as a service whose event loop never comes back would be: SIGTERM stays pending.
    process.kill(service.child.pid!, 'SIGSTOP');
    const started = Date.now();
    await assert.rejects(service.stop('SIGTERM', { deadlineMs: 1_000 }), /registration did not stop within 1000 ms of SIGTERM, and was killed/);
    assert.ok(Date.now() - started < 5_000, 'gave up at the deadline, not at the test timeout');
    assert.equal(service.child.signalCode, 'SIGKILL');
  });

  test('a stack with one frozen service still stops the others and its NATS, then fails naming that one', { timeout: 60_000 }, async () => {
    const stack = await startStack({ mcpReplicas: 1 });
    process.kill(stack.authorization.child.pid!, 'SIGSTOP');
    await assert.rejects(stack.stop({ deadlineMs: 1_000 }), /authorization did not stop within 1000 ms/);
    for (const service of [stack.registration, stack.authorization, ...stack.tokens, ...stack.mcp]) {
      assert.ok(service.child.exitCode !== null || service.child.signalCode !== null, `${service.name} exited`);
    }
    await assert.rejects(fetch(`${stack.urls.registration}/healthz`), 'nothing answers any more');
    if (stack.nats.kind === 'process') {
      const { port } = new URL(stack.nats.url);
      const refused = await new Promise<boolean>((resolve) => connect(Number(port), '127.0.0.1').once('connect', () => resolve(false)).once('error', () => resolve(true)));
      assert.ok(refused, 'its nats-server was stopped too');
    }
  });
});
