import { z } from 'zod';
import { ActorSchema } from './envelope.ts';
import { isSubjectToken } from './subjects.ts';

/**
 * Commands one service sends another over NATS request/reply, to the service that owns the events they
 * decide: only that service publishes on its context's subjects. The owner serves each subject in a queue
 * group named after itself (one replica answers), runs the same decider and command path as its own HTTP
 * routes, and answers a CommandReply.
 */
export const commandSubjects = {
  /** An admin deletes a client (ClientDeleted). Served by registration. */
  deleteClient: 'commands.registration.delete-client',
  /** The admin service's reaper expires an idle client (ClientExpired). Served by registration. */
  expireClient: 'commands.registration.expire-client',
  /**
   * An admin revokes a grant: the consent it was made under ends (ConsentRevoked, revoked_by_admin), so every grant
   * made under it is dead at once and the next authorization asks the user again; token-policies then records each
   * grant's GrantRevoked. Served by authorization.
   */
  revokeConsent: 'commands.authorization.revoke-consent',
} as const;

/** The queue group each owning service serves its commands in: its own name. */
export const commandQueues = { registration: 'registration', authorization: 'authorization' } as const;

/** Who asked, and from where: recorded in the events the owner decides, as if the request had come to it. */
const CommandContext = z.object({
  actor: ActorSchema,
  requestId: z.string().max(200).optional(),
  sourceAddress: z.string().max(100).optional(),
});

/** An aggregate id: it goes into a subject. */
const Id = z.string().refine(isSubjectToken, 'not an aggregate id');

export const DeleteClientCommand = z.object({ clientId: Id, context: CommandContext });
export type DeleteClientCommand = z.infer<typeof DeleteClientCommand>;

export const ExpireClientCommand = z.object({
  clientId: Id,
  lastUsedAt: z.iso.datetime(),
  idleDays: z.number().positive(),
  /**
   * The client's subject sequence the reaper judged it idle at: a registration, re-registration, update or
   * deletion since then makes the expiry a conflict, and it is dropped.
   */
  expectedVersion: z.number().int().nonnegative(),
  context: CommandContext,
});
export type ExpireClientCommand = z.infer<typeof ExpireClientCommand>;

export const RevokeConsentCommand = z.object({
  consentId: Id,
  /**
   * A stream position at which the sender already knew the consent: the owner's projection reaches it before
   * reading, so a consent given a moment ago is found.
   */
  knownAt: z.number().int().nonnegative(),
  context: CommandContext,
});
export type RevokeConsentCommand = z.infer<typeof RevokeConsentCommand>;

/**
 * The answer: ok with the stream position of the last event recorded (null when nothing needed recording, as
 * for a grant already dead), or an error: not_found (no such client or grant, or a client already gone),
 * conflict (the aggregate changed under the command), invalid (a payload that does not parse), unavailable
 * (the owner could not reach the stream or its projection in time).
 */
export const CommandReply = z.union([
  z.object({ ok: z.literal(true), position: z.number().int().positive().nullable() }),
  z.object({ ok: z.literal(false), error: z.enum(['not_found', 'conflict', 'invalid', 'unavailable']) }),
]);
export type CommandReply = z.infer<typeof CommandReply>;
