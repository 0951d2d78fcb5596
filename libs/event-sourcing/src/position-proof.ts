import type { EventStore, Logger, StoredEventIdentity } from '@mcp-auth/event-store';

/** How long a wait on a filtered projector lets events arrive before asking NATS whether any are due. */
const PROOF_DELAY_MS = 20;

/** A position proven without an event, and the event the stream holds there (the checkpoint's). */
export type ProvenPosition = { position: number; event: StoredEventIdentity };

/** What a prover needs of the projector it proves positions for. */
export type ProofHost = {
  store: EventStore;
  logger: Logger;
  /** The subjects of the filtered consumer. */
  subjects: readonly string[] | null;
  /** Whether positions are proven now: a running projector with a filtered consumer. */
  canProve(): boolean;
  position(): number;
  /** Changes whenever a proof begun before would no longer hold: the connection was lost, or the projection reset. */
  era(): string;
  /** Whether someone waits for a position. */
  waiting(): boolean;
  /** Moves the projection on to a proven position. */
  accept(proven: ProvenPosition): void;
};

/**
 * A filtered consumer is told nothing of other aggregates' events, so a wait for a position among them would
 * never end: the position moves on to it without an event once NATS shows that no event of the aggregates
 * projected here lies between the position and it. Every event up to it that could change these projections
 * has then been applied; one that does lie there is on its way and moves the position itself.
 */
export class PositionProver {
  readonly #host: ProofHost;
  #target = 0;
  #timer: NodeJS.Timeout | null = null;
  #proving = false;

  constructor(host: ProofHost) {
    this.#host = host;
  }

  /** Raises the position the next proof goes to, without asking for one. */
  aimAt(position: number): void {
    this.#target = Math.max(this.#target, position);
  }

  /** Proves `position` after a moment, unless an applied event gets there first (the usual case for our own aggregates). */
  later(position: number, delayMs = PROOF_DELAY_MS): void {
    this.aimAt(position);
    this.#timer ??= setTimeout(() => {
      this.#timer = null;
      void this.#proveThrough(this.#target);
    }, delayMs);
  }

  stop(): void {
    if (this.#timer) clearTimeout(this.#timer);
  }

  async #proveThrough(target: number): Promise<void> {
    const host = this.#host;
    if (this.#proving || !host.canProve() || !host.subjects || host.position() >= target) return;
    this.#proving = true;
    // A proof is about the stream as this connection saw it, and about the projection as it stood.
    const era = host.era();
    try {
      const proven = await provePosition(host.store, host.subjects, host.position() + 1, target);
      // No event of ours up to the proven position: whatever arrives next lies beyond it.
      if (proven !== null && era === host.era()) host.accept(proven);
    } catch (err) {
      // NATS is away: the consume loop reports that; waiters keep waiting for events or the next try.
      host.logger.debug({ err: String(err) }, 'could not prove the projection position');
    } finally {
      this.#proving = false;
      // Asked for more meanwhile (or this proof failed while someone waits): try again shortly.
      if (host.canProve() && this.#target > host.position() && host.waiting()) this.later(this.#target);
    }
  }
}

/** The furthest position up to `target` that no event on the subjects lies at or after `from` up to, or null. */
async function provePosition(store: EventStore, subjects: readonly string[], from: number, target: number): Promise<ProvenPosition | null> {
  const { lastSequence } = await store.streamState();
  // Never past the end of the stream: a position not written yet is not proven by the absence of events.
  const upTo = Math.min(target, lastSequence);
  if (upTo < from) return null;
  // The event at upTo becomes the checkpoint's: asked for together with the proof, not after it.
  const [next, event] = await Promise.all([store.firstPositionOn(subjects, from), store.eventAt(upTo)]);
  if ((next !== null && next <= upTo) || event === null) return null;
  return { position: upTo, event };
}
