import type { EventStore, Logger } from '@mcp-auth/event-store';

/**
 * Further behind than this, a projector that NATS would filter on several subjects reads everything and passes
 * over what is not its own until it has caught up: NATS 2.10 sends such a consumer's backlog several times
 * slower than all of it when most of it is other aggregates'.
 */
export const UNFILTERED_CATCH_UP_BEYOND = 10_000;

/** What the next consumer asks NATS for: its subjects (undefined: every event), and why. */
export type ConsumerFilter = {
  subjects: readonly string[] | undefined;
  /** It reads everything only to catch up, to be replaced by a filtered one then. */
  catchingUpUnfiltered: boolean;
};

/**
 * Only the aggregates projected here, where the server can filter on all of them (one subject: any server;
 * several: NATS 2.10); otherwise everything, passed over by subject as it arrives. Far behind, everything until
 * caught up (UNFILTERED_CATCH_UP_BEYOND).
 */
export class ConsumerFilterChoice {
  readonly #subjects: readonly string[] | null;
  readonly #unfilteredCatchUpBeyond: number;
  readonly #logger: Logger;
  /** Whether the operator was told that this NATS cannot filter on several subjects (once per projector). */
  #toldUnfiltered = false;

  constructor(subjects: readonly string[] | null, unfilteredCatchUpBeyond: number, logger: Logger) {
    this.#subjects = subjects;
    this.#unfilteredCatchUpBeyond = unfilteredCatchUpBeyond;
    this.#logger = logger;
  }

  next(store: EventStore, behind: number): ConsumerFilter {
    const subjects = this.#subjects;
    if (subjects === null) return { subjects: undefined, catchingUpUnfiltered: false };
    const filterable = subjects.length === 1 || store.canFilterOnSeveralSubjects;
    if (!filterable) {
      if (!this.#toldUnfiltered) {
        this.#toldUnfiltered = true;
        this.#logger.info(
          { nats: store.serverVersion, subjects },
          'this NATS filters a consumer on one subject only: this service reads every event and passes over the ones not its own (NATS 2.10 or later sends it only its own)',
        );
      }
      return { subjects: undefined, catchingUpUnfiltered: false };
    }
    const catchingUpUnfiltered = subjects.length > 1 && behind > this.#unfilteredCatchUpBeyond;
    return { subjects: catchingUpUnfiltered ? undefined : subjects, catchingUpUnfiltered };
  }
}
