import type { ConsumerMessages, EventStore, JsMsg, Logger } from '@mcp-auth/event-store';
import type { ConsumerFilterChoice } from './consumer-filter.ts';

/** Heartbeats (one a second, see EventStore.consumeFrom) missed in a row before a consumer counts as gone. */
const SILENT_AFTER_MISSED_HEARTBEATS = 4;

/** What the supervisor needs of the projector it feeds. */
export type ConsumerHost = {
  /** Readies the next consumer (the checkpoint checked against the stream): where it starts, and how far that is behind the stream's end. */
  prepare(): Promise<{ from: number; behind: number }>;
  /** A message of the current consumer. */
  receive(message: JsMsg): void;
  /** The current consumer started; filtered: NATS sends it only the projector's aggregates. */
  started(filtered: boolean): void;
  /** The consumer ended: what it delivered is applied before the next one starts. */
  ended(): void;
  position(): number;
};

export type ConsumerSupervisorOptions = {
  store: EventStore;
  logger: Logger;
  filterChoice: ConsumerFilterChoice;
  /** Messages the consumer may have in flight. */
  batchSize: number;
  host: ConsumerHost;
};

/**
 * Keeps one ordered consumer of the stream running for a projector, through NATS restarts and reconnects:
 * each consumer starts where the projector stands, once it is ready (prepare), and a failed or silent one is
 * followed by the next after a pause that grows to a second. Only the newest consumer's messages are taken.
 * A consumer that reads everything to catch up gives way to a filtered one once it reaches the end.
 */
export class ConsumerSupervisor {
  readonly #options: ConsumerSupervisorOptions;
  readonly #pause = new WakeablePause();
  /** Counts consumers started: only the newest one's messages are taken. */
  #consumers = 0;
  #messages: ConsumerMessages | null = null;
  /** Whether the current consumer is filtered: then events of other aggregates never arrive to move the position. */
  #filtered = false;
  #following = false;
  /** Whether the current consumer reads everything only to catch up, to be replaced by a filtered one then. */
  #catchingUpUnfiltered = false;
  #switchingToFiltered = false;
  #stopped = false;
  #loop: Promise<void> | null = null;

  constructor(options: ConsumerSupervisorOptions) {
    this.#options = options;
  }

  get filtered(): boolean {
    return this.#filtered;
  }

  /** Whether a consumer is delivering the stream now (not between consumers, nor waiting for NATS). */
  get following(): boolean {
    return this.#following;
  }

  get stopped(): boolean {
    return this.#stopped;
  }

  start(): void {
    this.#loop ??= this.#supervise();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#messages?.stop();
    this.#pause.wake();
    await this.#loop;
  }

  /** Ends the current consumer: the loop starts the next from the projector's position; what the old one still delivers is dropped. */
  endConsumer(): void {
    this.#following = false;
    this.#consumers++;
    this.#messages?.stop();
  }

  /** Starts the next consumer now rather than after the pause (the connection is back). */
  wake(): void {
    this.#pause.wake();
  }

  /**
   * The current consumer found the end of the stream. The end as this consumer found it, not "caught up once":
   * a projector that fell far behind again (a long outage) catches up unfiltered again.
   */
  reachedEnd(): void {
    if (this.#catchingUpUnfiltered && this.#messages && !this.#switchingToFiltered) {
      this.#switchingToFiltered = true;
      this.endConsumer(); // what the unfiltered consumer still sends is the filtered one's to deliver
    }
  }

  async #supervise(): Promise<void> {
    const { store, logger, filterChoice, batchSize, host } = this.#options;
    let backoffMs = 100;
    while (!this.#stopped) {
      try {
        const { from, behind } = await host.prepare();
        const { subjects, catchingUpUnfiltered } = filterChoice.next(store, behind);
        this.#catchingUpUnfiltered = catchingUpUnfiltered;
        const consumer = ++this.#consumers;
        const messages = await store.consumeFrom(from, batchSize, (message) => {
          if (consumer === this.#consumers) host.receive(message);
        }, subjects);
        this.#filtered = subjects !== undefined;
        this.#messages = messages;
        this.#following = consumer === this.#consumers;
        void endWhenSilent(messages, () => consumer === this.#consumers, () => {
          logger.warn({ position: host.position() }, 'the projection consumer went silent; starting another from the checkpoint');
          this.endConsumer();
        });
        host.started(this.#filtered);
        if (this.#stopped) messages.stop();
        backoffMs = 100;
        const ended = await messages.closed();
        if (ended instanceof Error) throw ended;
      } catch (err) {
        if (!this.#stopped) logger.warn({ err: String(err) }, 'projection consumer failed; restarting from checkpoint');
      }
      this.#messages = null;
      this.#filtered = false;
      this.#following = false;
      host.ended();
      if (this.#switchingToFiltered) {
        this.#switchingToFiltered = false;
        continue; // caught up: on at once with a filtered consumer
      }
      if (!this.#stopped) {
        await this.#pause.wait(backoffMs);
        // At most a second apart: a stream without a leader for a moment (a cluster node crashed) is followed
        // again within a second of its election, and a revocation meanwhile waits no longer than that.
        backoffMs = Math.min(backoffMs * 2, 1_000);
      }
    }
  }
}

/**
 * A consumer whose server went away while the connection stayed up (a cluster node that crashed) sends no
 * heartbeats: `end` is called, for the next consumer to start from the checkpoint, checked, on a server that has
 * the stream. The client counts a heartbeat missed when one is a few milliseconds late, and two in a row happen
 * under load; four (no message nor heartbeat for 3-4 s) do not.
 */
async function endWhenSilent(messages: ConsumerMessages, isCurrent: () => boolean, end: () => void): Promise<void> {
  for await (const status of messages.status()) {
    if (status.type !== 'heartbeats_missed' || status.count < SILENT_AFTER_MISSED_HEARTBEATS || !isCurrent()) continue;
    end();
    return;
  }
}

/** The loop's wait before its next consumer, which ends early when woken (the connection is back, or the loop stops). */
class WakeablePause {
  #wake: (() => void) | null = null;

  wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#wake = null;
        resolve();
      }, ms);
      this.#wake = () => {
        clearTimeout(timer);
        this.#wake = null;
        resolve();
      };
    });
  }

  wake(): void {
    this.#wake?.();
  }
}
