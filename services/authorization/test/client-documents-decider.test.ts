import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ClientMetadataDocumentData } from '@mcp-auth/contracts';
import { deciderSpec } from '@mcp-auth/testing';
import { changedMembers, decide, isFresh, type ClientDocumentState, type RecordFetchedDocument } from '../src/client-documents/decider.ts';
import { consentFingerprint, redirectUrisFingerprint } from '../src/authorize/decider.ts';
import { documentClient, type RecordedDocument } from '@mcp-auth/read-models';

const CLIENT_ID = 'https://app.example.com/oauth/client.json';
const KEY = 'k3y';
const spec = deciderSpec({ decide });

const document: ClientMetadataDocumentData = {
  client_id: CLIENT_ID,
  redirect_uris: ['https://app.example.com/callback'],
  token_endpoint_auth_method: 'none',
  grant_types: ['authorization_code'],
  response_types: ['code'],
  application_type: 'web',
  client_name: 'Example App',
};

function fetched(overrides: Partial<RecordFetchedDocument['data']> = {}): RecordFetchedDocument {
  return {
    type: 'RecordFetchedDocument',
    data: { clientId: CLIENT_ID, clientKey: KEY, startedAt: 1000, fetchedAt: 1001, freshUntil: 1301, documentHash: 'h1', metadata: document, verifiedHost: 'app.example.com', localhostOnly: false, ...overrides },
  };
}

/** The state the client_documents projection gives for a document recorded at fetchedAt. */
function recorded(documentHash: string, metadata: ClientMetadataDocumentData, fetchedAt: number): ClientDocumentState {
  return { recorded: { documentHash, metadata, fetchedAt, freshUntil: fetchedAt + 300 } };
}

describe('client metadata documents: what a fetch records', () => {
  test('the first document is recorded as fetched, with nothing before it and nothing changed', () => {
    spec.given({ recorded: null }).when(fetched()).then([
      {
        type: 'ClientMetadataDocumentFetched',
        data: { clientId: CLIENT_ID, clientKey: KEY, documentHash: 'h1', metadata: document, verifiedHost: 'app.example.com', localhostOnly: false, fetchedAt: 1001, freshUntil: 1301, previousDocumentHash: null, changed: [] },
      },
    ]);
  });

  test('the same bytes fetched again only move the freshness', () => {
    spec.given(recorded('h1', document, 500)).when(fetched({ startedAt: 900, fetchedAt: 901, freshUntil: 1201 })).then([
      { type: 'ClientMetadataDocumentRefreshed', data: { clientId: CLIENT_ID, clientKey: KEY, documentHash: 'h1', fetchedAt: 901, freshUntil: 1201 } },
    ]);
  });

  test('a changed document names the members that changed and the document it replaces', () => {
    const moved = { ...document, redirect_uris: ['https://evil.example.net/cb'], client_name: 'Example App 2' };
    spec.given(recorded('h1', document, 500)).when(fetched({ documentHash: 'h2', metadata: moved })).then([
      {
        type: 'ClientMetadataDocumentFetched',
        data: {
          clientId: CLIENT_ID, clientKey: KEY, documentHash: 'h2', metadata: moved, verifiedHost: 'app.example.com', localhostOnly: false, fetchedAt: 1001, freshUntil: 1301,
          previousDocumentHash: 'h1', changed: ['client_name', 'redirect_uris'],
        },
      },
    ]);
  });

  test('a document another replica recorded after this fetch began stands: nothing is recorded', () => {
    spec.given(recorded('h2', document, 1000)).when(fetched({ startedAt: 1000 })).then([]);
  });

  test('a refusal is recorded for the audit trail and leaves the recorded document in place', () => {
    const refusal = { type: 'RecordRefusedDocument' as const, data: { clientId: CLIENT_ID, clientKey: KEY, reason: 'redirect' as const, description: 'HTTP 302: redirects are not followed' } };
    spec.given(recorded('h1', document, 500)).when(refusal).then([{ type: 'ClientMetadataDocumentRefused', data: refusal.data }]);
  });


  test('changedMembers compares values deeply, members added and removed included', () => {
    assert.deepEqual(changedMembers({ a: [1, 2], b: { c: 1 }, d: 'x' }, { a: [1, 2], b: { c: 2 }, e: 'y' }), ['b', 'd', 'e']);
    assert.deepEqual(changedMembers(document, { ...document }), []);
  });

  test('a document is fresh until its freshUntil, and no document is never fresh', () => {
    assert.equal(isFresh({ freshUntil: 100 }, 99), true);
    assert.equal(isFresh({ freshUntil: 100 }, 100), false);
    assert.equal(isFresh(null, 0), false);
  });
});

describe('consent to a document client', () => {
  const recorded = (metadata: Partial<ClientMetadataDocumentData>): RecordedDocument => ({
    clientId: CLIENT_ID,
    metadata: { ...document, ...metadata },
    verifiedHost: 'app.example.com',
    localhostOnly: false,
    documentHash: JSON.stringify(metadata),
    fetchedAt: 1,
    freshUntil: 2,
    firstRecordedAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:00.000Z',
    version: 7,
  });
  const fingerprint = (metadata: Partial<ClientMetadataDocumentData>) => consentFingerprint(documentClient(recorded(metadata)));

  test('is asked again when the redirect URIs, the name or the authentication method change, not for anything else', () => {
    const base = fingerprint({});
    assert.notEqual(fingerprint({ redirect_uris: ['https://app.example.com/other'] }), base);
    assert.notEqual(fingerprint({ client_name: 'Example App (new)' }), base);
    assert.notEqual(fingerprint({ token_endpoint_auth_method: 'private_key_jwt', jwks_uri: 'https://app.example.com/jwks.json' }), base);
    assert.equal(fingerprint({ logo_uri: 'https://app.example.com/logo.png', client_uri: 'https://app.example.com/' }), base);
    assert.equal(fingerprint({ redirect_uris: [...document.redirect_uris].reverse() }), base);
  });

  test('a registered client keeps the fingerprint of its redirect URIs, so consents given before stay remembered', () => {
    const client = { ...documentClient(recorded({})), document: null, source: 'registration' as const };
    assert.equal(consentFingerprint(client), redirectUrisFingerprint(document.redirect_uris));
  });

  test('the directory shapes a document client as a public client, keeping what only the document says', () => {
    const client = documentClient(recorded({ token_endpoint_auth_method: 'private_key_jwt', token_endpoint_auth_signing_alg: 'RS256', jwks_uri: 'https://app.example.com/jwks.json' }));
    assert.equal(client.clientId, CLIENT_ID);
    assert.equal(client.status, 'active');
    assert.equal(client.clientSecretHash, null);
    assert.equal(client.metadata.redirect_uris[0], 'https://app.example.com/callback');
    assert.equal(client.metadata.jwks_uri, 'https://app.example.com/jwks.json', "the document's keys are what a client assertion is checked against");
    assert.deepEqual(
      { method: client.document?.tokenEndpointAuthMethod, alg: client.document?.tokenEndpointAuthSigningAlg, jwksUri: client.document?.jwksUri, host: client.document?.verifiedHost },
      { method: 'private_key_jwt', alg: 'RS256', jwksUri: 'https://app.example.com/jwks.json', host: 'app.example.com' },
    );
  });
});
