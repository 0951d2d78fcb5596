import { verifyAccessToken, type AccessTokenClaims, type VerifyFailure } from '@mcp-auth/oauth';
import { type ClientsReadModel, type GrantsReadModel, type SigningKeysReadModel } from '@mcp-auth/projections';
import { waitForCredentialPosition, type Projector } from '@mcp-auth/projector';
import type { EventStore } from '@mcp-auth/event-store';
import type { NotesReadModel } from '../tools/notes-projection.ts';
import type { ToolIdentity } from '../tools/tool.ts';

export type TokenCheck = { ok: true; identity: ToolIdentity; claims: AccessTokenClaims } | { ok: false; description: string };

const DESCRIPTIONS: Record<VerifyFailure | 'unknown_grant' | 'revoked', string> = {
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

/** Verified signatures are kept for this many distinct tokens; revocation is still checked on every call. */
const CACHE_SIZE = 10_000;

/**
 * The hot path: verifies an access token with no network call. The signature (with a key learned from
 * the SigningKeyPublished events) is verified once per token and cached until it expires; the grant and
 * the jti are looked up in this replica's projection on every call, so a revocation applies at once.
 * A token issued a moment ago carries the stream position of its event: if this projection has not got
 * there yet, the check waits for it (bounded) instead of refusing a good token.
 */
export class TokenVerifier {
  readonly #verified = new Map<string, { claims: AccessTokenClaims; identity: ToolIdentity | null }>();

  constructor(
    private readonly deps: {
      issuer: string;
      audience: string;
      store: EventStore;
      projector: Projector;
      keys: SigningKeysReadModel;
      grants: GrantsReadModel;
      clients: ClientsReadModel;
      notes: NotesReadModel;
      catchUpMs: number;
    },
  ) {}

  async check(token: string): Promise<TokenCheck> {
    const now = Math.floor(Date.now() / 1000);
    let verified = this.#verified.get(token);
    if (verified && verified.claims.exp + 5 < now) {
      this.#verified.delete(token);
      return { ok: false, description: DESCRIPTIONS.expired };
    }
    if (!verified) {
      const outcome = await verifyAccessToken(token, {
        issuer: this.deps.issuer,
        audience: this.deps.audience,
        key: (kid) => this.#key(kid, token),
      });
      if (!outcome.ok) return { ok: false, description: DESCRIPTIONS[outcome.reason] };
      verified = { claims: outcome.claims, identity: null };
      if (this.#verified.size >= CACHE_SIZE) this.#verified.delete(this.#verified.keys().next().value!);
      this.#verified.set(token, verified);
    }
    const { claims } = verified;

    const honours = () => this.deps.grants.honours(claims.grant_id, claims.jti, claims.sub, claims.client_id, now);
    let honoured = honours();
    if (honoured === null && (await waitForCredentialPosition(this.deps.store, this.deps.projector, claims.stream_position, this.deps.catchUpMs))) honoured = honours();
    if (honoured === null) return { ok: false, description: DESCRIPTIONS.unknown_grant };
    if (!honoured) return { ok: false, description: DESCRIPTIONS.revoked };

    // Who the token speaks for does not change during its life; only whether it is honoured does.
    verified.identity ??= {
      userId: claims.sub,
      username: this.deps.notes.username(claims.sub),
      clientId: claims.client_id,
      clientName: this.deps.clients.find(claims.client_id)?.metadata.client_name ?? null,
      scopes: claims.scope.split(' ').filter(Boolean),
      grantId: claims.grant_id,
      expiresAt: claims.exp,
    };
    return { ok: true, claims, identity: verified.identity };
  }

  /** The key for a kid; an unknown kid may be a replica's new key whose event this projection has not applied yet. */
  async #key(kid: string, token: string) {
    const known = this.deps.keys.find(kid);
    if (known) return known.retired ? null : known;
    const position = unverifiedStreamPosition(token);
    if (position !== null && (await waitForCredentialPosition(this.deps.store, this.deps.projector, position, this.deps.catchUpMs))) {
      const key = this.deps.keys.find(kid);
      return key && !key.retired ? key : null;
    }
    return null;
  }
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
