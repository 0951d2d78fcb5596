import type { ProjectionDatabase } from '@mcp-auth/projector';

export type SigningKeyOverview = {
  kid: string;
  alg: string;
  publicJwk: Record<string, unknown>;
  signsUntil: number;
  retireAfter: number;
  retiredAt: string | null;
};

type Row = { kid: string; alg: string; public_jwk: string; signs_until: number; retire_after: number; retired_at: string | null };

/** Every signing key the token replicas published (public halves only: private keys never leave their replica). */
export class SigningKeyListReadModel {
  readonly #all;

  constructor(db: ProjectionDatabase) {
    this.#all = db.prepare<[], Row>('SELECT kid, alg, public_jwk, signs_until, retire_after, retired_at FROM signing_keys ORDER BY signs_until DESC');
  }

  all(): SigningKeyOverview[] {
    return this.#all.all().map((r) => ({
      kid: r.kid,
      alg: r.alg,
      publicJwk: JSON.parse(r.public_jwk) as Record<string, unknown>,
      signsUntil: r.signs_until,
      retireAfter: r.retire_after,
      retiredAt: r.retired_at,
    }));
  }
}
