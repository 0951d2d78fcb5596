import type { CommandReply } from '@mcp-auth/contracts';
import { ConcurrencyConflict, EventStoreUnavailable, type EventStore, type Logger, type Served } from '@mcp-auth/event-store';

/** A command's payload schema (zod's safeParse). */
type PayloadSchema<T> = { safeParse(payload: unknown): { success: true; data: T } | { success: false } };

export type CommandService<T> = {
  subject: string;
  /** The owning service's name: its replicas share the requests. */
  queue: string;
  schema: PayloadSchema<T>;
  /** Runs the command through the owner's command path; returns the position of what it recorded (null: nothing). */
  execute(command: T): Promise<number | null>;
  /** The decider's refusals that mean "no such aggregate" (answered not_found). */
  isNotFound(err: unknown): boolean;
};

/**
 * Serves one command subject for the service that owns its events: the payload is checked against its schema,
 * the command runs, and its outcome is answered as a CommandReply, so the sender can tell a client or grant that
 * does not exist (not_found) from one that changed meanwhile (conflict) and from a stream out of reach.
 */
export function serveCommand<T>(store: EventStore, logger: Logger, service: CommandService<T>): Served {
  return store.serve(service.subject, service.queue, async (payload): Promise<CommandReply> => {
    const parsed = service.schema.safeParse(payload);
    if (!parsed.success) return { ok: false, error: 'invalid' };
    try {
      return { ok: true, position: await service.execute(parsed.data) };
    } catch (err) {
      if (service.isNotFound(err)) return { ok: false, error: 'not_found' };
      if (err instanceof ConcurrencyConflict) return { ok: false, error: 'conflict' };
      if (!(err instanceof EventStoreUnavailable)) logger.error({ err: String(err), subject: service.subject }, 'command failed');
      return { ok: false, error: 'unavailable' };
    }
  });
}
