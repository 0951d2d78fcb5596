import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { subjectOf, toEnvelope, type DecidedEvent } from '@mcp-auth/contracts';
import { EventStore } from '@mcp-auth/event-store';
import { Projector } from '@mcp-auth/event-sourcing';
import { startNats, type NatsHandle } from '@mcp-auth/testing';
import { clientUsageProjection } from '../src/clients/usage-projection.ts';

const actor = { kind: 'client', id: 'usage-test' } as const;

function toolCall(clientId: string | null): DecidedEvent {
  return { type: 'ToolInvoked', data: { invocationId: randomUUID(), tool: 'echo', userId: 'usr_u', clientId, grantId: 'g', outcome: 'success', durationMs: 1 } };
}

describe('client usage on a real nats-server and a real SQLite file', () => {
  let nats: NatsHandle;
  let store: EventStore;
  const dir = mkdtempSync(join(tmpdir(), 'client-usage-'));

  before(async () => {
    nats = await startNats();
    store = await EventStore.connect({ servers: nats.url, connectionName: 'client-usage-test' });
  });
  after(async () => {
    await store?.close();
    await nats?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Appends in one turn, so that the events arrive together; `at` is each event's time. */
  async function append(events: Array<{ event: DecidedEvent; at: string }>): Promise<number> {
    const appended = await Promise.all(events.map(({ event, at }) => store.append(subjectOf(event), toEnvelope(event, { actor, now: new Date(at) }))));
    return Math.max(...appended.map((a) => a.position));
  }

  test('each client keeps its latest use, whatever order its events of one group or of later ones come in', async () => {
    const [a, b, idle] = ['client-a', 'client-b', 'client-idle'];
    const projector = new Projector({ store, file: join(dir, 'usage.sqlite'), projections: [clientUsageProjection] });
    const lastUsed = () =>
      Object.fromEntries((projector.db.prepare('SELECT client_id, last_used_at FROM client_usage ORDER BY client_id').all() as Array<{ client_id: string; last_used_at: string }>).map((r) => [r.client_id, r.last_used_at]));
    try {
      // A backlog of 150 of a's calls (several groups) with its latest in the middle, then b's.
      const calls = Array.from({ length: 150 }, (_, i) => ({ event: toolCall(a), at: new Date(Date.UTC(2026, 0, 1, 0, 0, i === 70 ? 59 : i % 50)).toISOString() }));
      calls.push({ event: toolCall(b), at: '2026-01-02T00:00:00.000Z' });
      calls.push({ event: toolCall(null), at: '2026-01-03T00:00:00.000Z' }); // an open tool, called without a token
      const backlog = await append(calls);
      projector.start();
      assert.ok(await projector.waitFor(backlog, 5_000));
      assert.deepEqual(lastUsed(), { [a]: '2026-01-01T00:00:59.000Z', [b]: '2026-01-02T00:00:00.000Z' }, 'a call naming no client changes nothing');

      // Live: an older use (a replica's late event) does not move a back; a newer one moves b.
      const live = await append([
        { event: toolCall(a), at: '2025-12-31T00:00:00.000Z' },
        { event: toolCall(b), at: '2026-02-01T00:00:00.000Z' },
        { event: toolCall(b), at: '2026-01-15T00:00:00.000Z' },
        { event: { type: 'ClientReregistered', data: { clientId: idle, registrationTokenHash: 'h' } }, at: '2026-01-10T00:00:00.000Z' },
      ]);
      assert.ok(await projector.waitFor(live, 5_000));
      assert.deepEqual(lastUsed(), { [a]: '2026-01-01T00:00:59.000Z', [b]: '2026-02-01T00:00:00.000Z', [idle]: '2026-01-10T00:00:00.000Z' });
    } finally {
      await projector.stop();
    }
  });
});
