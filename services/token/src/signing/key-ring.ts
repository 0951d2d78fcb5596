import { KeyObject } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair } from 'jose';
import { subjects, type DecidedEvent } from '@mcp-auth/contracts';
import { ConcurrencyConflict, type EventStore, type Logger } from '@mcp-auth/event-store';
import type { SigningKeysReadModel } from '@mcp-auth/read-models';
import { waitForPosition, type Projector } from '@mcp-auth/event-sourcing';

export type SigningKey = { kid: string; alg: 'ES256' | 'EdDSA'; privateKey: KeyObject; signsUntil: number };

export type KeyRingOptions = {
  store: EventStore;
  projector: Projector;
  keys: SigningKeysReadModel;
  logger: Logger;
  alg: 'ES256' | 'EdDSA';
  rotationSeconds: number;
  accessTokenTtlSeconds: number;
};

const RETIREMENT_SWEEP_MS = 60_000;
const MAX_TIMER_MS = 2 ** 31 - 1;
/** At start the projection may be replaying a long stream before it reaches our key's event. */
const STARTUP_CATCH_UP_MS = 10 * 60_000;

/**
 * This replica's signing key. The private key is made here and never leaves the process; the public key
 * is published as an event, so every service learns it from the stream. Keys rotate on a schedule, and a
 * key is retired (by any replica) only once every token it can have signed has expired.
 */
export class KeyRing {
  #current: SigningKey | null = null;
  #timers: NodeJS.Timeout[] = [];
  #nextRotation: NodeJS.Timeout | null = null;
  #stopListening: (() => void) | null = null;

  private constructor(private readonly options: KeyRingOptions) {}

  static async start(options: KeyRingOptions): Promise<KeyRing> {
    const ring = new KeyRing(options);
    await ring.#rotate(STARTUP_CATCH_UP_MS);
    ring.#stopListening = options.projector.onRebuild(() => void ring.#publishAgainIfLost().catch((err) => options.logger.error({ err: String(err) }, 'could not check that this replica\'s signing key is still in the stream')));
    const sweep = setInterval(() => void ring.retireExpiredKeys().catch((err) => options.logger.warn({ err: String(err) }, 'key retirement sweep failed')), RETIREMENT_SWEEP_MS);
    sweep.unref();
    ring.#timers.push(sweep);
    return ring;
  }

  current(): SigningKey {
    if (!this.#current) throw new Error('no signing key');
    return this.#current;
  }

  stop(): void {
    for (const timer of this.#timers) clearInterval(timer);
    if (this.#nextRotation) clearTimeout(this.#nextRotation);
    this.#stopListening?.();
  }

  /**
   * The stream went backwards (see Projector.onRebuild) and may have lost the event that published this
   * replica's key: then no service knows the key, and every token signed with it would be refused. Once the
   * projection has caught up, a key it does not know is replaced by a new one, published again.
   */
  async #publishAgainIfLost(): Promise<void> {
    const { store, projector, keys, logger } = this.options;
    const { lastSequence } = await store.streamState();
    await waitForPosition(projector, lastSequence, STARTUP_CATCH_UP_MS);
    const current = this.#current;
    if (current && !keys.find(current.kid)) {
      await this.#rotate(STARTUP_CATCH_UP_MS);
      // Said once the new key signs: what this replica signs from here on is accepted everywhere.
      logger.warn({ lostKid: current.kid, kid: this.#current?.kid }, "the stream lost this replica's signing key; published a new one");
    }
  }

  async #rotate(catchUpMs = 10_000): Promise<void> {
    const { alg, rotationSeconds, accessTokenTtlSeconds, store, projector, logger } = this.options;
    const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
    const publicJwk = await exportJWK(publicKey);
    const kid = await calculateJwkThumbprint(publicJwk);
    const now = Math.floor(Date.now() / 1000);
    const signsUntil = now + rotationSeconds;
    const event: DecidedEvent = {
      type: 'SigningKeyPublished',
      data: {
        kid,
        alg,
        publicJwk: { ...publicJwk, kid, alg, use: 'sig' },
        signsUntil,
        // A minute of slack for clock skew between replicas and resource servers.
        retireAfter: signsUntil + accessTokenTtlSeconds + 60,
      },
    };
    // Not executeCommand: a new key is a fact of this replica's key ring, decided on no state, and waited for with the caller's timeout.
    const position = await store.appendDecided([event], { actor: { kind: 'service', id: 'token' } }, { [subjects.signingKey(kid)]: 0 });
    // Our own /jwks.json must list the key before any token signed with it leaves this replica.
    if (position !== null) await waitForPosition(projector, position, catchUpMs);
    this.#current = { kid, alg, privateKey: KeyObject.from(privateKey), signsUntil };
    logger.info({ kid, alg, signsUntil }, 'signing key published');
    // A Node timer holds at most 2^31-1 ms (about 24.8 days); a longer delay would fire at once, in a loop. Rotating earlier is safe.
    if (this.#nextRotation) clearTimeout(this.#nextRotation);
    this.#nextRotation = setTimeout(() => void this.#rotate().catch((err) => logger.error({ err: String(err) }, 'key rotation failed; keeping the current key')), Math.min(rotationSeconds * 1000, MAX_TIMER_MS));
    this.#nextRotation.unref();
  }

  /** Publishes SigningKeyRetired for keys whose every token has expired; exclusive per key, so one replica wins. */
  async retireExpiredKeys(nowSeconds = Math.floor(Date.now() / 1000)): Promise<number> {
    let retired = 0;
    for (const key of this.options.keys.dueForRetirement(nowSeconds)) {
      // Not executeCommand: the key's due date is the whole decision, and a conflict means another replica retired it.
      try {
        await this.options.store.appendDecided([{ type: 'SigningKeyRetired', data: { kid: key.kid } }], { actor: { kind: 'service', id: 'token' } }, {
          [subjects.signingKey(key.kid)]: key.version,
        });
        retired++;
      } catch (err) {
        if (!(err instanceof ConcurrencyConflict)) throw err;
      }
    }
    return retired;
  }
}
