import { CommandReply, type EventContext } from '@mcp-auth/contracts';
import { ConcurrencyConflict, EventStoreUnavailable } from '@mcp-auth/event-store';
import { waitForPosition } from '@mcp-auth/event-sourcing';
import type { AdminDeps } from './deps.ts';

/** How long the admin service waits for the owning service's answer before answering 503. */
const COMMAND_TIMEOUT_MS = 5_000;

/** The owning service answered that the client or grant does not exist (or is already gone). */
export class NotFoundByOwner extends Error {
  constructor(readonly subject: string) {
    super(`the owner of ${subject} knows no such aggregate`);
    this.name = 'NotFoundByOwner';
  }
}

/**
 * Sends a command to the service that owns its events (registration, token): the admin service publishes only
 * its own context's events. Answers once this replica's projection has applied what the owner recorded
 * (read-your-writes), with its position, or null when nothing needed recording. not_found is NotFoundByOwner,
 * conflict a ConcurrencyConflict (409), and no answer in time, or any other, EventStoreUnavailable (503).
 */
export async function sendToOwner(
  deps: Pick<AdminDeps, 'store' | 'projector'>,
  subject: string,
  command: Record<string, unknown> & { context?: never },
  context: EventContext,
): Promise<number | null> {
  const { actor, requestId, sourceAddress } = context;
  const payload = { ...command, context: { actor, ...(requestId ? { requestId } : {}), ...(sourceAddress ? { sourceAddress: sourceAddress.slice(0, 100) } : {}) } };
  const answer = CommandReply.safeParse(await deps.store.request(subject, payload, COMMAND_TIMEOUT_MS));
  if (!answer.success) throw new EventStoreUnavailable(`${subject} answered something else than a command reply`);
  const reply = answer.data;
  if (reply.ok) {
    if (reply.position !== null) await waitForPosition(deps.projector, reply.position);
    return reply.position;
  }
  if (reply.error === 'not_found') throw new NotFoundByOwner(subject);
  if (reply.error === 'conflict') throw new ConcurrencyConflict(subject, -1);
  throw new EventStoreUnavailable(`${subject}: the owning service answered ${reply.error}`);
}
