import {
  DeliverPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  type ConsumerConfig,
  type ConsumerMessages,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
} from '@nats-io/jetstream';
import type { Logger } from '@mcp-auth/contracts';

export type DurableWorkerOptions = {
  name: string;
  js: JetStreamClient;
  stream: string;
  consumer: string;
  logger: Logger;
  /** Creates the stream and consumer if missing; run before every (re)start of consuming. */
  ensure: () => Promise<void>;
  /** Messages handled at once (1: one after the other, in stream order). */
  concurrency: number;
  /** Messages pulled at a time (default: twice the concurrency, at least 10). */
  batch?: number;
  /** Handles one message and settles it (ack, nak, term). Must not throw; if it does, the message is nak'ed. */
  handle: (message: JsMsg) => Promise<void>;
};

/**
 * Consumes a durable consumer shared by a service's replicas (webhook fan-out and delivery, policies) until
 * stopped, the way the projector consumes the stream: the loop
 * survives NATS restarts and reconnects (the client re-pulls by itself), and starts over (re-creating the
 * consumer) when the consumer or its stream went missing. Stopping stops pulling, hands back messages
 * pulled but not started, and waits for those in hand.
 */
export class DurableWorker {
  readonly #options: DurableWorkerOptions;
  #stopped = false;
  #messages: ConsumerMessages | null = null;
  #loop: Promise<void> | null = null;
  readonly #inFlight = new Set<Promise<void>>();

  constructor(options: DurableWorkerOptions) {
    this.#options = options;
  }

  get stopping(): boolean {
    return this.#stopped;
  }

  start(): void {
    this.#loop ??= this.#supervise();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#messages?.close().catch(() => undefined);
    await this.#loop;
    await Promise.allSettled([...this.#inFlight]);
  }

  async #supervise(): Promise<void> {
    const { logger, name } = this.#options;
    let backoffMs = 100;
    while (!this.#stopped) {
      try {
        await this.#options.ensure();
        const consumer = await this.#options.js.consumers.get(this.#options.stream, this.#options.consumer);
        const messages = await consumer.consume({ max_messages: this.#options.batch ?? Math.max(10, this.#options.concurrency * 2) });
        this.#messages = messages;
        if (this.#stopped) await messages.close();
        void this.#watch(messages);
        backoffMs = 100;
        for await (const message of messages) {
          if (this.#stopped) {
            message.nak();
            continue;
          }
          await this.#run(message);
        }
        const ended = await messages.closed();
        if (ended instanceof Error) throw ended;
      } catch (err) {
        if (!this.#stopped) logger.warn({ err: String(err), worker: name }, 'durable consumer stopped; starting again');
      }
      this.#messages = null;
      if (!this.#stopped) {
        await sleep(backoffMs);
        backoffMs = Math.min(backoffMs * 2, 5_000);
      }
    }
  }

  /** Runs a message's handler, waiting first for a free slot; with concurrency 1, waits for it to finish. */
  async #run(message: JsMsg): Promise<void> {
    while (this.#inFlight.size >= this.#options.concurrency) await Promise.race(this.#inFlight);
    // The message may have waited for a slot: its ack deadline starts again from now.
    if (this.#options.concurrency > 1) message.working();
    const task = this.#options
      .handle(message)
      .catch((err: unknown) => {
        this.#options.logger.error({ err: String(err), worker: this.#options.name, seq: message.seq }, 'durable consumer message failed unexpectedly; it will be retried');
        message.nak(1_000);
      })
      .finally(() => this.#inFlight.delete(task));
    this.#inFlight.add(task);
    if (this.#options.concurrency === 1) await task;
  }

  /** A consumer or stream that disappeared (NATS data wiped) is re-created by starting over. */
  async #watch(messages: ConsumerMessages): Promise<void> {
    try {
      for await (const status of messages.status()) {
        const missing =
          status.type === 'consumer_deleted' ||
          (status.type === 'consumer_not_found' && status.count >= 2) ||
          status.type === 'stream_not_found';
        if (missing && !this.#stopped) {
          this.#options.logger.warn({ worker: this.#options.name, status: status.type }, 'durable consumer is missing; re-creating it');
          await messages.close();
          return;
        }
      }
    } catch {
      // The status iterator ends with the messages.
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Creates a durable consumer, or brings the settings of an existing one up to date. */
export async function ensureConsumer(jsm: JetStreamManager, stream: string, config: Partial<ConsumerConfig>): Promise<void> {
  const name = config.durable_name!;
  const info = await jsm.consumers.info(stream, name).catch(notFoundAsNull);
  if (!info) {
    try {
      await jsm.consumers.add(stream, config);
    } catch (err) {
      if (!(await jsm.consumers.info(stream, name).catch(() => null))) throw err;
    }
    return;
  }
  if (config.ack_policy !== undefined && info.config.ack_policy !== config.ack_policy) {
    // The ack policy cannot be updated: the consumer is made again, from where the old one had got to.
    await jsm.consumers.delete(stream, name).catch(notFoundAsNull);
    await jsm.consumers.add(stream, { ...config, deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: info.ack_floor.stream_seq + 1 });
    return;
  }
  const { ack_wait, max_ack_pending, max_deliver, filter_subject, filter_subjects } = config;
  // A filter is brought up to date too (a consumer made unfiltered on NATS 2.9 is filtered once the server can).
  const filterChanged =
    (filter_subject !== undefined || filter_subjects !== undefined) &&
    ((info.config.filter_subject ?? '') !== (filter_subject ?? '') || JSON.stringify(info.config.filter_subjects ?? []) !== JSON.stringify(filter_subjects ?? []));
  if (info.config.ack_wait !== ack_wait || info.config.max_ack_pending !== max_ack_pending || info.config.max_deliver !== max_deliver || filterChanged) {
    await jsm.consumers.update(stream, name, { ack_wait, max_ack_pending, max_deliver, ...(filterChanged ? { filter_subject: filter_subject ?? '', filter_subjects: filter_subjects ?? [] } : {}) });
  }
}

/** A JetStream "stream not found" or "consumer not found" as null; any other error is thrown again. */
export function notFoundAsNull(err: unknown): null {
  if (err instanceof JetStreamApiError && (err.code === JetStreamApiCodes.StreamNotFound || err.code === JetStreamApiCodes.ConsumerNotFound)) return null;
  throw err;
}
