import { randomUUID } from 'node:crypto';
import { z } from 'zod';

export const ActorSchema = z.object({
  kind: z.enum(['user', 'client', 'admin', 'system', 'service']),
  id: z.string().min(1).max(200),
});
export type Actor = z.infer<typeof ActorSchema>;

export const EventMetadataSchema = z.object({
  eventId: z.string().min(1).max(100),
  occurredAt: z.iso.datetime(),
  actor: ActorSchema,
  requestId: z.string().max(200).optional(),
  /** The network address the request that caused the event came from (as the service saw it, behind a trusted proxy its X-Forwarded-For). */
  sourceAddress: z.string().max(100).optional(),
  schemaVersion: z.number().int().positive(),
});
export type EventMetadata = z.infer<typeof EventMetadataSchema>;

/** What a writer hands to the event store: the envelope before the stream gives it a position. */
export type EventEnvelope<Type extends string = string, Data = unknown> = {
  type: Type;
  data: Data;
  metadata: EventMetadata;
};

/** An event as read back from the stream: the stream sequence is its global position. */
export type RecordedEvent<E extends EventEnvelope = EventEnvelope> = E & {
  position: number;
  subject: string;
};

export type EventDefinition<Type extends string, Schema extends z.ZodType> = {
  type: Type;
  version: number;
  schema: Schema;
};

export function defineEvent<Type extends string, Schema extends z.ZodType>(
  type: Type,
  version: number,
  schema: Schema,
): EventDefinition<Type, Schema> {
  return { type, version, schema };
}

export type EventOf<D> = D extends EventDefinition<infer T, infer S> ? EventEnvelope<T, z.infer<S>> : never;

export type EventContext = {
  actor: Actor;
  requestId?: string;
  sourceAddress?: string;
  /** Injected in tests; defaults to now. */
  now?: Date;
};

/** Builds a new event with fresh metadata. Deciders return these; the event store publishes them. */
export function newEvent<Type extends string, Schema extends z.ZodType>(
  definition: EventDefinition<Type, Schema>,
  data: z.infer<Schema>,
  context: EventContext,
): EventEnvelope<Type, z.infer<Schema>> {
  return {
    type: definition.type,
    data,
    metadata: {
      eventId: randomUUID(),
      occurredAt: (context.now ?? new Date()).toISOString(),
      actor: context.actor,
      ...(context.requestId ? { requestId: context.requestId } : {}),
      ...(context.sourceAddress ? { sourceAddress: context.sourceAddress.slice(0, 100) } : {}),
      schemaVersion: definition.version,
    },
  };
}
