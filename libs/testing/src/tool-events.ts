import { decodeEvent } from '@mcp-auth/contracts';
import { EventStore } from '@mcp-auth/event-store';
import { natsAccessOf } from './nats.ts';
import type { Json } from './oauth-flow.ts';
import type { TestStack } from './stack.ts';

/**
 * The ToolInvoked and ToolDenied events of the stack's stream (each with its raw bytes), read as the read-only
 * reader identity, once `enough` says so or after 5 s.
 */
export async function toolEvents(stack: Pick<TestStack, 'nats'>, enough: (events: Json[]) => boolean): Promise<Json[]> {
  const store = await EventStore.connect({ servers: stack.nats.url, connectionName: 'audit-reader', ...natsAccessOf(stack.nats, 'reader') });
  const seen: Json[] = [];
  const deadline = Date.now() + 5_000;
  try {
    while (Date.now() < deadline && !enough(seen)) {
      seen.length = 0;
      const messages = await store.consumeFrom(1);
      const { lastSequence } = await store.streamState();
      for await (const m of messages) {
        const outcome = decodeEvent(m.data);
        if (outcome.kind === 'event' && (outcome.event.type === 'ToolInvoked' || outcome.event.type === 'ToolDenied')) seen.push({ ...outcome.event, raw: new TextDecoder().decode(m.data) });
        if (m.seq >= lastSequence) break;
      }
      messages.stop();
    }
  } finally {
    await store.close();
  }
  return seen;
}
