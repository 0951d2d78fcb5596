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
  /** The newest version: its schema reads every older one too (a version only ever adds). */
  version: number;
  schema: Schema;
  /**
   * The version an event is written with: the oldest that can carry it, so that a reader one version behind
   * (a replica not yet upgraded) still applies every event it can understand. Without it, the newest.
   */
  writtenVersion?: (data: z.infer<Schema>) => number;
};

/**
 * An event type. Its version rises when its data gains something an older reader would refuse or misread (a
 * new value of an enum); an added optional field does not raise it, since readers drop fields they do not
 * know. A reader skips, never fails on, a version newer than its own (decodeEvent).
 */
export function defineEvent<Type extends string, Schema extends z.ZodType>(
  type: Type,
  version: number,
  schema: Schema,
  options: { writtenVersion?: (data: z.infer<Schema>) => number } = {},
): EventDefinition<Type, Schema> {
  return { type, version, schema, ...options };
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
      schemaVersion: definition.writtenVersion?.(data) ?? definition.version,
    },
  };
}
