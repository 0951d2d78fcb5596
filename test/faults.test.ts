import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { DURABLE_NATS_VERSION, isDurableNatsVersion } from '@mcp-auth/event-store';
import { natsServerVersion, startNats, startNatsCluster, startStack, waitUntilAnswers, type NatsClusterHandle, type NatsHandle, type TestStack } from '@mcp-auth/testing';
import { checkAfterRecovery, startAgents, summarize, untilAllServedAfter, untilProjectionsReach, type Agent, type Verdict } from './fault-load.ts';

/**
 * The failures of a real deployment, on real processes: the five services each a process of its own on one
 * private nats-server, agents refreshing and calling a tool in a loop, and kill -9 of token, mcp-tools,
 * authorization and then nats-server, each started again 2 s later. Then the same with one node of a
 * three-node JetStream cluster (the stream at R3). After recovery, every agent's last acknowledged refresh
 * token must work (on a NATS that keeps acknowledged writes through a crash), no agent may be left with
 * 503s, and a revocation must reach /mcp within 2 s.
 */

const AGENTS = 12;
const DOWNTIME_MS = 2_000;
const RECOVERY_TIMEOUT_MS = 30_000;
const version = natsServerVersion();
const durable = isDurableNatsVersion(version);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The stack the fault tests run: a long refresh grace, as an agent retries a refresh whose answer a crash swallowed. */
const stackOptions = { admin: true, startTimeoutMs: 60_000, env: { REFRESH_GRACE_SECONDS: '60', TOOL_CALLS_PER_MINUTE_PER_GRANT: '0', TOOL_CALLS_PER_MINUTE_PER_USER: '0' } };

type Run = { verdict: Verdict; agents: Agent[]; recoveredMs: number; readyMs: number; rotations: number; seconds: number };

async function underLoad(stack: TestStack, faults: (mark: (what: string) => void) => Promise<number>): Promise<Run> {
  const started = Date.now();
  const agents = await startAgents(() => stack, AGENTS);
  let stopped = false;
  const loops = agents.map((a) => a.run(() => stopped));
  try {
    await sleep(2_000);
    const recoveringFrom = await faults(() => {});
    const services = [stack.registration, stack.authorization, ...stack.tokens, ...stack.mcp, stack.admin!];
    await Promise.all(services.map((s) => waitUntilAnswers(`${s.url}/readyz`, RECOVERY_TIMEOUT_MS)));
    const readyMs = Date.now() - recoveringFrom;
    await untilAllServedAfter(agents, recoveringFrom, RECOVERY_TIMEOUT_MS);
    // Recovered once every MCP replica's projection has applied the rotations written since: what the
    // revocations below are measured from.
    await untilProjectionsReach(stack.mcp, Math.max(...agents.map((a) => a.position)), RECOVERY_TIMEOUT_MS);
    const recoveredMs = Date.now() - recoveringFrom;
    await sleep(500);
    stopped = true;
    await Promise.all(loops);
    const rotations = agents.reduce((n, a) => n + a.rotations, 0);
    const verdict = await checkAfterRecovery(stack, agents);
    return { verdict, agents, recoveredMs, readyMs, rotations, seconds: Math.round((Date.now() - started) / 1000) };
  } finally {
    stopped = true;
    await Promise.allSettled(loops);
  }
}

function report(t: { diagnostic(message: string): void }, run: Run): void {
  const lostInLoad = run.agents.reduce((n, a) => n + a.lost.length, 0) - run.verdict.lostAtEnd;
  const sorted = [...run.verdict.revocationMs].sort((a, b) => a - b);
  t.diagnostic(
    `nats-server ${version}: ${run.agents.length} agents, ${run.rotations} acknowledged rotations, lost ${run.verdict.lostAtEnd} at the end and ${lostInLoad} during the load; ` +
      `services ready ${run.readyMs} ms, and every agent served and every MCP replica caught up ${run.recoveredMs} ms, after the last fault; revocation refused at /mcp after ${sorted[0]}–${sorted.at(-1)} ms; ${run.seconds} s in all`,
  );
  t.diagnostic(summarize(run.agents));
}

describe(`kill -9 of token, mcp-tools, authorization and nats-server under load, on one nats-server (${version})`, () => {
  let nats: NatsHandle;
  let stack: TestStack;
  let run: Run;

  before(async () => {
    nats = await startNats({ restartable: true });
    stack = await startStack({ ...stackOptions, nats });
    run = await underLoad(stack, async () => {
      for (const service of [stack.tokens[0]!, stack.mcp[0]!, stack.authorization]) {
        await stack.crash(service, { downtimeMs: DOWNTIME_MS });
        await sleep(1_500);
      }
      await nats.restart({ kill: true, downtimeMs: DOWNTIME_MS });
      return Date.now();
    });
  });
  after(async () => {
    await stack?.stop();
    await nats?.stop();
  });

  test('no agent is stuck on 503 after recovery: its last acknowledged refresh token works, or (lost) is invalid_grant', (t) => {
    report(t, run);
    assert.deepEqual(run.verdict.stuck, []);
    assert.equal(run.verdict.kept + run.verdict.lostAtEnd, AGENTS);
    assert.ok(run.rotations > AGENTS, `the agents rotated under load (${run.rotations})`);
  });

  test(
    'no acknowledged rotation is lost',
    { skip: durable ? false : `nats-server ${version} is older than ${DURABLE_NATS_VERSION}: a crash of its process can lose acknowledged writes, so lost rotations are allowed here and each must be answered invalid_grant (the test above)` },
    () => {
      assert.equal(run.verdict.lostAtEnd, 0, 'every last acknowledged refresh token worked after recovery');
      assert.deepEqual(run.agents.flatMap((a) => a.lost), [], 'no acknowledged refresh token was refused during the load');
    },
  );

  test('every revocation after the faults is honoured at /mcp within 2 s', () => {
    assert.deepEqual(run.verdict.unhonoured, []);
    assert.equal(run.verdict.revocationMs.length, AGENTS * stack.mcp.length);
  });
});

describe(`kill -9 of one node of a three-node JetStream cluster (the stream at R3) under load (${version})`, () => {
  let cluster: NatsClusterHandle;
  let stack: TestStack;
  let run: Run;
  let leader = '';

  before(async () => {
    // The services start with the cluster, while it has not elected its JetStream leader yet: they wait for it.
    cluster = await startNatsCluster({ size: 3 });
    stack = await startStack({ ...stackOptions, nats: cluster, env: { ...stackOptions.env, NATS_STREAM_REPLICAS: '3' } }).catch((err: Error) => {
      throw new Error(`${err.message}\n${cluster.logs()}`);
    });
    run = await underLoad(stack, async () => {
      leader = await streamLeader(cluster.url);
      const node = cluster.nodes.find((n) => n.name === leader)!;
      await node.crash({ downtimeMs: DOWNTIME_MS });
      return Date.now();
    });
  });
  after(async () => {
    await stack?.stop();
    await cluster?.stop();
  });

  test('started with a fresh cluster, every service waited for it and none exited', () => {
    for (const service of [stack.registration, stack.authorization, ...stack.tokens, ...stack.mcp, stack.admin!]) {
      assert.doesNotMatch(service.output(), /\n\s+at /, `${service.name} printed no stack trace`);
    }
  });

  test('with the stream leader killed, no acknowledged rotation is lost and no agent is stuck', (t) => {
    report(t, run);
    t.diagnostic(`killed the stream leader ${leader}`);
    assert.deepEqual(run.verdict.stuck, []);
    assert.equal(run.verdict.kept, AGENTS, 'every last acknowledged refresh token worked after recovery');
    assert.deepEqual(run.agents.flatMap((a) => a.lost), [], 'no acknowledged refresh token was refused during the load');
  });

  test('every revocation after the fault is honoured at /mcp within 2 s', () => {
    assert.deepEqual(run.verdict.unhonoured, [], `mcp-tools said:\n${projectorLines(stack.mcp[0]!.output())}`);
    assert.equal(run.verdict.revocationMs.length, AGENTS * stack.mcp.length);
  });
});

/** The server name of the EVENTS stream's leader. */
async function streamLeader(servers: string): Promise<string> {
  const nc = await connect({ servers: servers.split(',') });
  try {
    const info = await (await jetstreamManager(nc)).streams.info('EVENTS');
    if (!info.cluster?.leader) throw new Error('the stream has no leader');
    return info.cluster.leader;
  } finally {
    await nc.close();
  }
}

/** What a service logged about its connection and its projection (not the retries of its appends), for a failure. */
function projectorLines(output: string): string {
  return output
    .split('\n')
    .filter((line) => !line.includes('append not acknowledged'))
    .slice(-40)
    .join('\n');
}
