import type { JSONWebKeySet } from 'jose';
import { publicJwksProblem } from '@mcp-auth/oauth';
import { fetchDocument, freshSeconds, type OutboundPolicy } from '@mcp-auth/outbound';

/**
 * What key lookup needs of a client, whichever way it is known: a registration (RFC 7591) or a Client ID
 * Metadata Document. Both carry these members of RFC 7591 §2 metadata.
 */
export type ClientKeySource = {
  jwks?: { keys: Array<Record<string, unknown>> };
  jwks_uri?: string;
  token_endpoint_auth_signing_alg?: string;
};

export type ClientKeysPolicy = OutboundPolicy & {
  /** A fetched key set is kept at least this long (also the least time between two fetches of one URL). */
  minSeconds: number;
  /** ... and at most this long, whatever its caching headers say. */
  maxSeconds: number;
};

export type KeysAnswer = { ok: true; jwks: JSONWebKeySet } | { ok: false; description: string };

type Cached = { jwks: JSONWebKeySet; fetchedAt: number; freshUntil: number };

/**
 * The public keys of private_key_jwt clients. Inline keys are the client's metadata; a jwks_uri is fetched under
 * the SSRF guard and kept in memory per replica for as long as its caching headers say, within bounds (the key
 * set is not a decision, so each replica fetches on its own and nothing is recorded). A client that rotated its
 * keys is met by one early refetch when an assertion names a key not in the cached set, at most once per
 * minSeconds per URL, so that unknown key ids cannot make the server fetch on every request.
 */
export class ClientKeys {
  readonly #cache = new Map<string, Cached>();
  readonly #inFlight = new Map<string, Promise<KeysAnswer>>();

  constructor(
    private readonly policy: ClientKeysPolicy,
    private readonly now: () => number = Date.now,
  ) {}

  /** The client's keys; `afterUnknownKey` asks for a fresher set than the cached one, if one may be fetched yet. */
  async keysOf(client: ClientKeySource, { afterUnknownKey = false }: { afterUnknownKey?: boolean } = {}): Promise<KeysAnswer> {
    if (client.jwks) return { ok: true, jwks: client.jwks as JSONWebKeySet };
    if (!client.jwks_uri) return { ok: false, description: 'the client has no keys' };
    const uri = client.jwks_uri;
    const cached = this.#cache.get(uri);
    const now = this.now();
    if (cached) {
      const fresh = now < cached.freshUntil;
      const refetchAllowed = now - cached.fetchedAt >= this.policy.minSeconds * 1000;
      if (fresh && !(afterUnknownKey && refetchAllowed)) return { ok: true, jwks: cached.jwks };
    }
    return this.#fetchOnce(uri);
  }

  /** One fetch per URL at a time on this replica: concurrent requests share it. */
  #fetchOnce(uri: string): Promise<KeysAnswer> {
    const running = this.#inFlight.get(uri);
    if (running) return running;
    const fetching = this.#fetch(uri).finally(() => this.#inFlight.delete(uri));
    this.#inFlight.set(uri, fetching);
    return fetching;
  }

  async #fetch(uri: string): Promise<KeysAnswer> {
    const outcome = await fetchDocument(uri, this.policy, 'application/jwk-set+json, application/json');
    if (!outcome.ok) return { ok: false, description: `jwks_uri: ${outcome.description}` };
    const jwks = parseKeySet(outcome.body);
    if (!jwks) return { ok: false, description: 'jwks_uri: not a JWK Set of public keys' };
    const receivedAt = new Date(this.now());
    const seconds = freshSeconds(outcome.headers, receivedAt, { minSeconds: this.policy.minSeconds, maxSeconds: this.policy.maxSeconds });
    this.#cache.set(uri, { jwks, fetchedAt: receivedAt.getTime(), freshUntil: receivedAt.getTime() + seconds * 1000 });
    return { ok: true, jwks };
  }
}

/** A JWK Set whose keys are all public: a set with private or symmetric material is refused whole. */
function parseKeySet(body: Buffer): JSONWebKeySet | null {
  try {
    const parsed: unknown = JSON.parse(body.toString('utf8'));
    return publicJwksProblem(parsed) === null ? (parsed as JSONWebKeySet) : null;
  } catch {
    return null;
  }
}
