import { verifyAccessToken, type AccessTokenClaims, type VerifyFailure } from '@mcp-auth/oauth';
import { clientDisplayName, clientsProjection, consentsProjection, grantsProjection, type ClientDirectory, type GrantsReadModel, type SigningKeysReadModel } from '@mcp-auth/read-models';
import { waitForCredentialPosition, type Projector } from '@mcp-auth/event-sourcing';
import type { EventStore } from '@mcp-auth/event-store';
import type { NotesReadModel } from '../tools/notes-projection.ts';
import type { ToolIdentity } from '../tools/tool.ts';

/** Why a token is refused: `revoked` means its grant (or the token itself) was revoked; `expired` that a fresh token would do. */
export type TokenRefusal = VerifyFailure | 'unknown_grant' | 'revoked';

export type TokenCheck = { ok: true; identity: ToolIdentity; claims: AccessTokenClaims } | { ok: false; reason: TokenRefusal; description: string };

const DESCRIPTIONS: Record<TokenRefusal, string> = {
  malformed: 'The access token is malformed.',
  unknown_key: 'The access token is not signed by a key of this deployment.',
  bad_signature: 'The access token signature is invalid.',
  wrong_type: 'The token is not an access token (typ at+jwt).',
  wrong_issuer: 'The access token was issued by another authorization server.',
  wrong_audience: 'The access token is not meant for this resource.',
  expired: 'The access token has expired.',
  not_yet_valid: 'The access token is not valid yet.',
  bad_claims: 'The access token lacks required claims.',
  unknown_grant: 'The access token belongs to no known grant.',
  revoked: 'The access token was revoked.',
};

/** The projections whose rows grantIsActive reads: the grant, its consent and its client. */
const HONOUR_PROJECTIONS = [grantsProjection.name, consentsProjection.name, clientsProjection.name];

/** Verified signatures are kept for this many distinct tokens; revocation is still checked on every call. */
const CACHE_SIZE = 10_000;

type VerifiedToken = {
  token: string;
  claims: AccessTokenClaims;
  identity: ToolIdentity | null;
  /** The last yes of the grants projection: as of which change stamp, and until when (the grant's expiry). */
  honouredAt: { stamp: number; until: number } | null;
};

/**
 * The hot path: verifies an access token with no network call. The signature (with a key learned from
 * the SigningKeyPublished events) is verified once per token and cached until it expires; the grant and
 * the jti are looked up in this replica's projection again whenever it has changed since the last call, so
 * a revocation applies as soon as its event is applied here.
 * A token issued a moment ago carries the stream position of its event: if this projection has not got
 * there yet, the check waits for it (bounded) instead of refusing a good token.
 */
export class TokenVerifier {
  readonly #verified = new Map<string, VerifiedToken>();

  constructor(
    private readonly deps: {
      issuer: string;
      audience: string;
      store: EventStore;
      projector: Projector;
      keys: SigningKeysReadModel;
      grants: GrantsReadModel;
      /** Both kinds of client, registered and document ones, for the name a tool sees. */
      directory: ClientDirectory;
      notes: NotesReadModel;
      catchUpMs: number;
    },
  ) {}

  async check(token: string): Promise<TokenCheck> {
    const now = Math.floor(Date.now() / 1000);
    // Keyed by the signature, the token compared in full: a Map hashes a new key string at every lookup,
    // and each request brings the token as a new 600-character string.
    const key = token.slice(token.lastIndexOf('.') + 1);
    let verified = this.#verified.get(key);
    if (verified && verified.token !== token) verified = undefined;
    if (verified && verified.claims.exp + 5 < now) {
      this.#verified.delete(key);
      return refused('expired');
    }
    if (!verified) {
      const outcome = await verifyAccessToken(token, {
        issuer: this.deps.issuer,
        audience: this.deps.audience,
        key: (kid) => this.#key(kid, token),
      });
      if (!outcome.ok) return refused(outcome.reason);
      verified = { token, claims: outcome.claims, identity: null, honouredAt: null };
      if (this.#verified.size >= CACHE_SIZE) this.#verified.delete(this.#verified.keys().next().value!);
      this.#verified.set(key, verified);
    }
    const { claims } = verified;

    // Whether the grant honours the token changes only when a projection grantIsActive reads does (a
    // revocation, a client's deletion) or when the grant expires: until then, the last answer is still the answer.
    const stamp = this.deps.projector.changes(...HONOUR_PROJECTIONS);
    const known = verified.honouredAt;
    if (!(known && known.stamp === stamp && now < known.until)) {
      const honours = () => this.deps.grants.honours(claims.grant_id, claims.jti, claims.sub, claims.client_id, now);
      let verdict = honours();
      if (verdict === null && (await waitForCredentialPosition(this.deps.store, this.deps.projector, claims.stream_position, this.deps.catchUpMs))) verdict = honours();
      if (verdict === null) return refused('unknown_grant');
      if (!verdict.honoured) return refused('revoked');
      // Read after any wait: the answer is as of the projection now, whatever it applied meanwhile.
      verified.honouredAt = { stamp: this.deps.projector.changes(...HONOUR_PROJECTIONS), until: verdict.grantExpiresAt };
    }

    // Who the token speaks for does not change during its life; only whether it is honoured does.
    verified.identity ??= {
      userId: claims.sub,
      username: this.deps.notes.username(claims.sub),
      clientId: claims.client_id,
      clientName: clientNameOf(this.deps.directory, claims.client_id),
      scopes: claims.scope.split(' ').filter(Boolean),
      grantId: claims.grant_id,
      expiresAt: claims.exp,
    };
    return { ok: true, claims, identity: verified.identity };
  }

  /** The key for a kid; an unknown kid may be a replica's new key whose event this projection has not applied yet. */
  async #key(kid: string, token: string) {
    const known = this.deps.keys.find(kid);
    if (known) return known.retiredAt !== null ? null : known;
    const position = unverifiedStreamPosition(token);
    if (position !== null && (await waitForCredentialPosition(this.deps.store, this.deps.projector, position, this.deps.catchUpMs))) {
      const key = this.deps.keys.find(kid);
      return key && key.retiredAt === null ? key : null;
    }
    return null;
  }
}

/** Only an honoured grant gets here, and its client is active: a registration, or a recorded document. */
function clientNameOf(directory: ClientDirectory, clientId: string): string | null {
  const client = directory.active(clientId);
  return client ? clientDisplayName(client) : null;
}

function refused(reason: TokenRefusal): TokenCheck {
  return { ok: false, reason, description: DESCRIPTIONS[reason] };
}

/** The position claim read before verification: used only to decide how long to wait, never trusted otherwise. */
function unverifiedStreamPosition(token: string): number | null {
  try {
    const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as { stream_position?: unknown };
    return typeof payload.stream_position === 'number' && Number.isSafeInteger(payload.stream_position) ? payload.stream_position : null;
  } catch {
    return null;
  }
}
