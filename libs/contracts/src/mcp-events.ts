import { z } from 'zod';
import { defineEvent, type EventOf } from './envelope.ts';

export const ToolInvoked = defineEvent(
  'ToolInvoked',
  1,
  z.object({
    invocationId: z.string(),
    tool: z.string(),
    userId: z.string().nullable(),
    clientId: z.string().nullable(),
    grantId: z.string().nullable(),
    outcome: z.enum(['success', 'error']),
    durationMs: z.number(),
  }),
);

export const ToolDenied = defineEvent(
  'ToolDenied',
  1,
  z.object({
    invocationId: z.string(),
    tool: z.string(),
    userId: z.string().nullable(),
    clientId: z.string().nullable(),
    grantId: z.string().nullable(),
    reason: z.enum(['insufficient_scope', 'quota_exceeded']),
    requiredScopes: z.array(z.string()),
  }),
);

export const NoteCreated = defineEvent(
  'NoteCreated',
  1,
  z.object({ noteId: z.string(), userId: z.string(), title: z.string(), text: z.string() }),
);

export const NoteDeleted = defineEvent('NoteDeleted', 1, z.object({ noteId: z.string(), userId: z.string() }));

export type ToolInvoked = EventOf<typeof ToolInvoked>;
export type ToolDenied = EventOf<typeof ToolDenied>;
export type NoteCreated = EventOf<typeof NoteCreated>;
export type NoteDeleted = EventOf<typeof NoteDeleted>;
