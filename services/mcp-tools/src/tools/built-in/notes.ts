import { randomUUID } from 'node:crypto';
import type { EventStore } from '@mcp-auth/event-store';
import { waitForPosition, type Projector } from '@mcp-auth/event-sourcing';
import type { NotesReadModel } from '../notes-projection.ts';
import { ToolError, type ToolDefinition } from '../tool.ts';

/** A per-user notes store: notes are events, the list is a projection, and nobody sees anyone else's. */
export function notesTools({ store, projector, notes }: { store: EventStore; projector: Projector; notes: NotesReadModel }): ToolDefinition[] {
  return [
    {
      name: 'notes_list',
      title: 'List notes',
      description: 'Lists your notes, oldest first.',
      inputSchema: { type: 'object', properties: {}, additionalProperties: false },
      requiredScopes: ['notes:read'],
      handler: (_args, { identity }) => ({ notes: notes.list(identity.userId) }),
    },
    {
      name: 'notes_create',
      title: 'Create a note',
      description: 'Creates a note with a title and a text.',
      inputSchema: {
        type: 'object',
        properties: { title: { type: 'string', minLength: 1, maxLength: 200 }, text: { type: 'string', maxLength: 20_000 } },
        required: ['title'],
        additionalProperties: false,
      },
      requiredScopes: ['notes:write'],
      async handler(args, { identity }) {
        const noteId = randomUUID();
        const position = await store.appendDecided(
          [{ type: 'NoteCreated', data: { noteId, userId: identity.userId, title: String(args.title), text: String(args.text ?? '') } }],
          { actor: { kind: 'user', id: identity.userId } },
        );
        if (position !== null) await waitForPosition(projector, position);
        return { noteId, title: args.title, created: true };
      },
    },
    {
      name: 'notes_delete',
      title: 'Delete a note',
      description: 'Deletes one of your notes by its id.',
      inputSchema: { type: 'object', properties: { noteId: { type: 'string', maxLength: 100 } }, required: ['noteId'], additionalProperties: false },
      requiredScopes: ['notes:write'],
      async handler(args, { identity }) {
        const noteId = String(args.noteId);
        if (!notes.owns(identity.userId, noteId)) throw new ToolError(`You have no note ${noteId}.`);
        const position = await store.appendDecided([{ type: 'NoteDeleted', data: { noteId, userId: identity.userId } }], { actor: { kind: 'user', id: identity.userId } });
        if (position !== null) await waitForPosition(projector, position);
        return { noteId, deleted: true };
      },
    },
  ];
}
