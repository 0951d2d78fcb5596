import { clientDocumentKey, subjects } from '@mcp-auth/contracts';
import type { EventStore } from '@mcp-auth/event-store';
import type { ClientDirectory, DirectoryClient } from '@mcp-auth/read-models';
import { catchUpWithSubject, type Projector } from '@mcp-auth/event-sourcing';

/**
 * A client whose client_id is its metadata document's URL, as the authorization service recorded the document.
 * The token service never fetches documents: a code cannot exist before its client's document was recorded, so a
 * client this replica does not know yet is read from its document's subject on the stream, and otherwise unknown.
 * The document's authentication method and keys (`document`) are what a client assertion would be checked against.
 */
export async function recordedDocumentClient(clientId: string, { directory, store, projector }: { directory: ClientDirectory; store: EventStore; projector: Projector }): Promise<DirectoryClient | null> {
  const known = directory.active(clientId);
  if (known) return known;
  await catchUpWithSubject(store, projector, subjects.clientDocument(clientDocumentKey(clientId)));
  return directory.active(clientId);
}
