import { isDeepStrictEqual } from 'node:util';
import type { ClientDocumentRefusal, ClientMetadataDocumentData, DecidedEvent } from '@mcp-auth/contracts';

/** A document fetched and found valid, to be recorded. Times in unix seconds. */
export type RecordFetchedDocument = {
  type: 'RecordFetchedDocument';
  data: {
    clientId: string;
    clientKey: string;
    /** When the fetch began: a document recorded since then by another replica is as new as this one. */
    startedAt: number;
    fetchedAt: number;
    freshUntil: number;
    documentHash: string;
    metadata: ClientMetadataDocumentData;
    verifiedHost: string;
    localhostOnly: boolean;
  };
};

/** A fetch that failed or a document that was not valid: recorded for the audit trail. */
export type RecordRefusedDocument = {
  type: 'RecordRefusedDocument';
  data: { clientId: string; clientKey: string; reason: ClientDocumentRefusal; description: string };
};

export type ClientDocumentCommand = RecordFetchedDocument | RecordRefusedDocument;

/** The document recorded for a client_id, if any. */
export type ClientDocumentState = {
  recorded: { documentHash: string; metadata: ClientMetadataDocumentData; fetchedAt: number; freshUntil: number } | null;
};

export type ClientDocumentEvent = DecidedEvent & { type: 'ClientMetadataDocumentFetched' | 'ClientMetadataDocumentRefreshed' | 'ClientMetadataDocumentRefused' };

/**
 * What a fetch records: the first document, a changed one (naming what changed, so the audit trail shows a client
 * that moved its redirect URIs or keys), or only new freshness for the same bytes. Nothing when another replica
 * recorded a document after this fetch began: theirs is as new, and every replica uses it.
 */
export function decide(command: ClientDocumentCommand, state: ClientDocumentState): ClientDocumentEvent[] {
  if (command.type === 'RecordRefusedDocument') {
    return [{ type: 'ClientMetadataDocumentRefused', data: command.data }];
  }
  const d = command.data;
  const recorded = state.recorded;
  if (recorded && recorded.fetchedAt >= d.startedAt) return [];
  if (recorded && recorded.documentHash === d.documentHash) {
    return [{ type: 'ClientMetadataDocumentRefreshed', data: { clientId: d.clientId, clientKey: d.clientKey, documentHash: d.documentHash, fetchedAt: d.fetchedAt, freshUntil: d.freshUntil } }];
  }
  return [
    {
      type: 'ClientMetadataDocumentFetched',
      data: {
        clientId: d.clientId,
        clientKey: d.clientKey,
        documentHash: d.documentHash,
        metadata: d.metadata,
        verifiedHost: d.verifiedHost,
        localhostOnly: d.localhostOnly,
        fetchedAt: d.fetchedAt,
        freshUntil: d.freshUntil,
        previousDocumentHash: recorded?.documentHash ?? null,
        changed: recorded ? changedMembers(recorded.metadata, d.metadata) : [],
      },
    },
  ];
}

/** Top-level members whose values differ, in a stable order. Pure. */
export function changedMembers(before: Record<string, unknown>, after: Record<string, unknown>): string[] {
  const names = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
  return names.filter((name) => !isDeepStrictEqual(before[name], after[name]));
}

/** Whether a recorded document may still be used without fetching it again. */
export function isFresh(recorded: { freshUntil: number } | null, nowSeconds: number): boolean {
  return recorded !== null && recorded.freshUntil > nowSeconds;
}
