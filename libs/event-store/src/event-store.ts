import { AuthorizationError, PermissionViolationError, connect, errors as natsErrors, nuid, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import {
  AckPolicy,
  DeliverPolicy,
  JetStreamApiCodes,
  PubHeaders,
  jetstream,
  jetstreamManager,
  type ConsumerConfig,
  type ConsumerMessages,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  type StoredMsg,
} from '@nats-io/jetstream';
import { headers as natsHeaders } from '@nats-io/transport-node';
import {
  STREAM_NAME,
  decodeEventOn,
  silentLogger,
  subjectOf,
  toEnvelope,
  type DecidedEvent,
  type DecodeOutcome,
  type DomainEvent,
  type EventContext,
  type EventEnvelope,
  type Logger,
  type NatsIdentity,
  type RecordedEvent,
} from '@mcp-auth/contracts';
import { AcknowledgedPublisher, PublishForbidden, PublishRefused } from './acknowledged-publisher.ts';
import { DurableWorker, ensureConsumer, type DurableWorkerOptions } from './durable-worker.ts';
import { NatsAccessRefused, createConsumersByName, natsClientOptions, type NatsTlsFiles } from './nats-access.ts';
import { ensureStream, eventsStreamConfig, webhookDeliveriesStreamConfig } from './streams.ts';
import { ConcurrencyConflict, EventStoreUnavailable } from './errors.ts';
import { identityOfStored, type StoredEventIdentity } from './stored-event.ts';

export const EVENT_TYPE_HEADER = 'Event-Type';
export const SCHEMA_VERSION_HEADER = 'Event-Schema-Version';

export type EventStoreOptions = {
  servers: string;
  /** Shown in NATS monitoring: which service and replica this connection belongs to. */
  connectionName: string;
  logger?: Logger;
  /** Stream replicas, for a NATS cluster. */
  replicas?: number;
  /** How long one append may keep retrying before it gives up with EventStoreUnavailable. */
  appendDeadlineMs?: number;
  /** This process's identity in the NATS permission matrix; its inboxes are `_INBOX_<identity>` (NATS's default `_INBOX` without one). */
  identity?: NatsIdentity;
  /** Its credential (NATS_CREDENTIALS_FILE): an nkey seed or a .creds file. Without one, the connection is anonymous. */
  credentialsFile?: string | undefined;
  /** TLS to NATS (NATS_TLS_CA, NATS_TLS_CERT, NATS_TLS_KEY). */
  tls?: NatsTlsFiles | undefined;
  /**
   * Whether a missing EVENTS stream is created here (true: what a service does on a NATS without authorization;
   * on a secured one only the operator may, and a missing stream is StreamNotSetUp), or always an error (the users CLI).
   */
  createStream?: boolean;
};

export type AppendOptions = {
  /** Optimistic concurrency: the stream sequence of the last event on this subject, or 0 for "no event yet". */
  expectedLastSubjectSequence?: number;
};

export type AppendResult = { position: number; duplicate: boolean };

export type StreamState = { lastSequence: number; created: string };

/** The newest event on a subject, read from the stream itself rather than from a projection. */
export type LastEvent = { position: number; outcome: DecodeOutcome };

/** The connection to NATS was lost (every later message may come from a server that restarted), or is back. */
export type ConnectionChange = 'disconnected' | 'reconnected';

const PUBLISH_TIMEOUT_MS = 2_000;
/** How soon a command is sent again while no replica of its owner serves it (one restarting). */
const NO_RESPONDERS_RETRY_MS = 100;

/** A served command subject: stop() stops taking requests and waits for those in hand. */
export type Served = { stop(): Promise<void> };

export type EventsConsumerOptions = {
  /** The durable consumer's name, shared by the service's replicas: each event goes to one of them. */
  name: string;
  /** Only events on these subjects are sent where the server can filter on them all (see canFilterOnSeveralSubjects). */
  subjects: readonly string[];
  /** Handles one event and acknowledges it (each on its own: replicas handle different events at once). */
  handle: (message: JsMsg) => Promise<void>;
};

/**
 * How long one pull of a consumer lasts; the server sends heartbeats every half of it, and two missed ones
 * make the client look for its consumer again. With the client's default (30 s), a projection whose consumer
 * lives on a crashed cluster node stays deaf for half a minute; renewing a pull is cheap.
 */
const CONSUME_EXPIRES_MS = 2_000;
/**
 * How long a JetStream API request (stream info, a message get) may go unanswered. A stream whose leader
 * crashed answers nothing until its next election: a projector waiting out the client's 5 s default there
 * follows the stream again seconds after the cluster does.
 */
const JETSTREAM_API_TIMEOUT_MS = 2_000;

export class EventStore {
  #connected = true;
  #closed = false;
  #reconnectWaiters: Array<() => void> = [];
  readonly #connectionListeners = new Set<(change: ConnectionChange) => void>();
  #publishTurn: Promise<void> | null = null;
  #highestKnownPosition = 0;
  readonly #publisher: AcknowledgedPublisher;
  /** Kept here: what a service does on NATS goes through the operations below, named for what they do. */
  readonly #nc: NatsConnection;

  private constructor(
    nc: NatsConnection,
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly options: Required<Pick<EventStoreOptions, 'logger' | 'replicas' | 'appendDeadlineMs' | 'createStream'>> & { identity: string | undefined },
    inboxPrefix: string | undefined,
  ) {
    this.#nc = nc;
    this.#publisher = new AcknowledgedPublisher(nc, inboxPrefix);
    void this.#watchStatus();
  }

  /**
   * Connects as the given identity and checks the EVENTS stream. A refused credential is NatsAccessRefused and a
   * missing stream this identity may not create is StreamNotSetUp, both at once rather than retried.
   */
  static async connect(options: EventStoreOptions): Promise<EventStore> {
    const access = natsClientOptions({ identity: options.identity, credentialsFile: options.credentialsFile, tls: options.tls });
    let nc: NatsConnection;
    try {
      nc = await connect({
        servers: options.servers.split(',').map((s) => s.trim()),
        name: options.connectionName,
        maxReconnectAttempts: -1,
        reconnectTimeWait: 250,
        waitOnFirstConnect: true,
        pingInterval: 10_000,
        // Each request would otherwise build an Error up front to keep its stack, on every request of every service.
        noAsyncTraces: true,
        ...access,
      });
    } catch (err) {
      // JetStream not ready yet (a cluster electing its leader): the caller may try again, with a new connection.
      if (err instanceof AuthorizationError) throw new NatsAccessRefused(options.credentialsFile, { cause: err });
      throw err;
    }
    try {
      const jsm = await jetstreamManager(nc, { timeout: JETSTREAM_API_TIMEOUT_MS });
      createConsumersByName(jsm.consumers);
      const js = jetstream(nc);
      // The ordered consumers' own API object (the client's `consumers` wraps it).
      createConsumersByName((js as unknown as { consumerAPI: unknown }).consumerAPI);
      const store = new EventStore(
        nc,
        js,
        jsm,
        {
          logger: options.logger ?? silentLogger,
          replicas: options.replicas ?? 1,
          appendDeadlineMs: options.appendDeadlineMs ?? 5_000,
          createStream: options.createStream ?? true,
          identity: options.identity,
        },
        access.inboxPrefix,
      );
      await store.ensureStream();
      return store;
    } catch (err) {
      // JetStream not ready yet (a cluster electing its leader): the caller may try again, with a new connection.
      await nc.close().catch(() => {});
      throw err;
    }
  }

  get connected(): boolean {
    return this.#connected && !this.#closed;
  }

  get logger(): Logger {
    return this.options.logger;
  }

  /**
   * Checks that the EVENTS stream exists and captures every event subject; creates it where it is missing and
   * this identity may (a NATS without authorization), else fails with StreamNotSetUp naming the setup step.
   */
  async ensureStream(): Promise<void> {
    await ensureStream(this.jsm, eventsStreamConfig(this.options.replicas), { create: this.options.createStream });
  }

  /**
   * Appends one event. The event id is the NATS message id, so a retried publish is stored once.
   * Answers only once JetStream acknowledged the event.
   */
  async append(subject: string, event: EventEnvelope, options: AppendOptions = {}): Promise<AppendResult> {
    const payload = JSON.stringify(event);
    const deadline = Date.now() + this.options.appendDeadlineMs;
    let lastError: unknown;
    for (let attempt = 0; Date.now() < deadline; attempt++) {
      if (!this.connected) {
        await this.#waitForReconnect(Math.min(1_000, deadline - Date.now()));
        if (!this.connected) break;
      }
      await this.#nextPublishTurn();
      const h = natsHeaders();
      h.set(EVENT_TYPE_HEADER, event.type);
      h.set(SCHEMA_VERSION_HEADER, String(event.metadata.schemaVersion));
      // The event id is the message id: JetStream stores a retried publish once.
      h.set(PubHeaders.MsgIdHdr, event.metadata.eventId);
      if (options.expectedLastSubjectSequence !== undefined) h.set(PubHeaders.ExpectedLastSubjectSequenceHdr, String(options.expectedLastSubjectSequence));
      try {
        const ack = await this.#publisher.publish(subject, payload, h, Math.max(100, Math.min(PUBLISH_TIMEOUT_MS, deadline - Date.now())));
        if (ack.seq > this.#highestKnownPosition) this.#highestKnownPosition = ack.seq;
        return { position: ack.seq, duplicate: ack.duplicate };
      } catch (err) {
        if (err instanceof PublishRefused && err.errCode === JetStreamApiCodes.StreamWrongLastSequence) {
          throw new ConcurrencyConflict(subject, options.expectedLastSubjectSequence ?? -1);
        }
        if (err instanceof PublishRefused || err instanceof PublishForbidden) {
          throw new EventStoreUnavailable(`JetStream refused the event: ${err.message}`, { cause: err });
        }
        lastError = err;
        this.options.logger.warn({ err: String(err), subject, attempt }, 'append not acknowledged; retrying with the same message id');
        await sleep(Math.min(50 * 2 ** attempt, 500));
      }
    }
    throw new EventStoreUnavailable('the event store did not acknowledge the event in time', { cause: lastError });
  }

  /**
   * Appends what a decider decided, in order, each on its aggregate's subject. For a subject with an
   * expected sequence, its first event is conditional on it and each next one on its predecessor, so no
   * other writer can interleave. Returns the position of the last event (null if there was none).
   */
  async appendDecided(
    events: readonly DecidedEvent[],
    context: EventContext,
    expectedVersions: Record<string, number> = {},
  ): Promise<number | null> {
    const expected = { ...expectedVersions };
    let position: number | null = null;
    for (const event of events) {
      const subject = subjectOf(event);
      const version = expected[subject];
      const result = await this.append(subject, toEnvelope(event, context), version === undefined ? {} : { expectedLastSubjectSequence: version });
      if (version !== undefined) expected[subject] = result.position;
      position = result.position;
    }
    return position;
  }

  /**
   * Sends a command to the service that owns it and waits for its answer, JSON both ways. While no replica
   * serves the subject (the owner is restarting) it is sent again until the timeout; an answer that does not
   * come in time, or NATS away, is EventStoreUnavailable (503). A command that may have arrived is never sent
   * twice: only "no responders" proves that it did not.
   */
  async request(subject: string, payload: unknown, timeoutMs: number): Promise<unknown> {
    const data = JSON.stringify(payload);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (!this.connected) await this.#waitForReconnect(Math.min(1_000, deadline - Date.now()));
      try {
        const reply = await this.#nc.request(subject, data, { timeout: Math.max(1, deadline - Date.now()) });
        return reply.json<unknown>();
      } catch (err) {
        const noResponders = err instanceof natsErrors.RequestError && err.isNoResponders();
        if (!noResponders || Date.now() + NO_RESPONDERS_RETRY_MS >= deadline) {
          throw new EventStoreUnavailable(noResponders ? `nothing serves ${subject}` : `no answer to ${subject} in time`, { cause: err });
        }
        await sleep(NO_RESPONDERS_RETRY_MS);
      }
    }
  }

  /**
   * Serves a command subject in a queue group (the owning service's name), so that one replica answers each
   * request. The handler gets the parsed JSON (undefined if it is not JSON) and returns the answer; it must
   * not throw (if it does, the requester gets no answer and times out).
   */
  serve(subject: string, queue: string, handler: (payload: unknown) => Promise<unknown>): Served {
    const inFlight = new Set<Promise<void>>();
    const subscription: Subscription = this.#nc.subscribe(subject, {
      queue,
      callback: (err, msg) => {
        if (err) {
          this.options.logger.error({ err: String(err), subject }, 'command subscription failed');
          return;
        }
        let payload: unknown;
        try {
          payload = msg.json<unknown>();
        } catch {
          payload = undefined;
        }
        const task = handler(payload)
          .then((answer) => void msg.respond(JSON.stringify(answer)))
          .catch((handlerErr: unknown) => this.options.logger.error({ err: String(handlerErr), subject }, 'command handler failed; no answer sent'))
          .finally(() => inFlight.delete(task));
        inFlight.add(task);
      },
    });
    return {
      stop: async () => {
        if (!subscription.isClosed()) await subscription.drain().catch(() => subscription.unsubscribe());
        await Promise.allSettled([...inFlight]);
      },
    };
  }

  /**
   * A durable consumer on the stream, shared by a service's replicas, created if missing and starting at the
   * stream's first event; a worker, not started. Filtered to its subjects where the server can (one subject:
   * any server; several: NATS 2.10), otherwise it is sent every event and its handler passes over the rest.
   */
  eventsConsumer({ name, subjects, handle }: EventsConsumerOptions): DurableWorker {
    return this.durableWorker({
      name,
      stream: STREAM_NAME,
      consumer: name,
      logger: this.options.logger,
      concurrency: 1,
      batch: 500,
      handle,
      ensure: () =>
        ensureConsumer(this.jsm, STREAM_NAME, {
          durable_name: name,
          // Each event is acknowledged on its own: with AckPolicy.All one replica's ack would also cover the
          // earlier events another replica still has in hand.
          ack_policy: AckPolicy.Explicit,
          deliver_policy: DeliverPolicy.All,
          ...(subjects.length === 1 ? { filter_subject: subjects[0]! } : this.canFilterOnSeveralSubjects ? { filter_subjects: [...subjects] } : {}),
          ack_wait: 60_000_000_000, // one minute, in nanoseconds: a reaction retries inside its handler meanwhile
          max_deliver: -1,
          max_ack_pending: 1_000,
        }),
    });
  }

  /** A worker on a durable consumer of one of the platform's streams, not started (see DurableWorker). */
  durableWorker(options: Omit<DurableWorkerOptions, 'js'>): DurableWorker {
    return new DurableWorker({ ...options, js: this.js });
  }

  /** Creates a durable consumer on a stream where it is missing (see ensureConsumer). */
  async ensureDurableConsumer(stream: string, config: Partial<ConsumerConfig>): Promise<void> {
    await ensureConsumer(this.jsm, stream, config);
  }

  /** Checks admin's webhook jobs stream, creating it where this identity may (a NATS without authorization); else the setup step made it. */
  async ensureWebhookDeliveriesStream(replicas: number): Promise<void> {
    await ensureStream(this.jsm, webhookDeliveriesStreamConfig(replicas));
  }

  /**
   * Stores a job on a work stream (not the event log), once per job id within the stream's duplicate window
   * however often it is sent; resolves once JetStream acknowledged it.
   */
  async publishJob(subject: string, payload: string, jobId: string, timeoutMs?: number): Promise<void> {
    await this.js.publish(subject, payload, { msgID: jobId, ...(timeoutMs === undefined ? {} : { timeout: timeoutMs }) });
  }

  /** The newest event on a subject, read from the stream (authoritative), or null if the subject has none. */
  async last(subject: string): Promise<LastEvent | null> {
    const msg = await this.#read(() => this.jsm.streams.getMessage(STREAM_NAME, { last_by_subj: subject }));
    if (!msg) return null;
    // The position stays the subject's last sequence (what a conditional append is checked against) whatever it holds.
    return { position: msg.seq, outcome: decodeEventOn(msg.subject, msg.data) };
  }

  async streamState(): Promise<StreamState> {
    const info = await this.#read(() => this.jsm.streams.info(STREAM_NAME));
    if (info.state.last_seq > this.#highestKnownPosition) this.#highestKnownPosition = info.state.last_seq;
    return { lastSequence: info.state.last_seq, created: info.created };
  }

  /** The highest stream position this client has seen acknowledged or reported: the stream has reached at least this far. */
  get highestKnownPosition(): number {
    return this.#highestKnownPosition;
  }

  /**
   * An ordered consumer over the stream from a position: what every projection reads. With a callback,
   * messages are handed over synchronously (no async iterator turn per message, which is most of the cost of
   * a replay); without one, the result is an async iterator. With subjects, only messages on them are sent:
   * one subject works on every server, several need NATS 2.10 (see canFilterOnSeveralSubjects).
   */
  async consumeFrom(startSequence: number, maxMessages = 500, callback?: (message: JsMsg) => void, subjects?: readonly string[]): Promise<ConsumerMessages> {
    const consumer = await this.js.consumers.get(STREAM_NAME, {
      // Named after the identity, for whoever lists consumers; the rest is random, so no other identity can guess it.
      ...(this.options.identity ? { name_prefix: `${this.options.identity}_${nuid.next()}` } : {}),
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: Math.max(1, startSequence),
      ...(subjects && subjects.length > 0 ? { filter_subjects: subjects.length === 1 ? subjects[0]! : [...subjects] } : {}),
    });
    return consumer.consume({ max_messages: maxMessages, expires: CONSUME_EXPIRES_MS, ...(callback ? { callback } : {}) });
  }

  /**
   * The identity of the event stored at a position (its id and the time the stream stored it), or null when
   * the stream holds none there: what a projector compares with the event it recorded at its checkpoint.
   */
  async eventAt(position: number): Promise<StoredEventIdentity | null> {
    const msg = await this.#read(() => this.jsm.streams.getMessage(STREAM_NAME, { seq: position }));
    return msg ? identityOfStored(msg) : null;
  }

  /**
   * The event stored at a position, with its position and subject; null when the stream holds none there, or
   * holds something that is not an event of this version on that subject.
   */
  async recordedAt(position: number): Promise<RecordedEvent<DomainEvent> | null> {
    const msg = await this.#read(() => this.jsm.streams.getMessage(STREAM_NAME, { seq: position }));
    if (!msg) return null;
    const outcome = decodeEventOn(msg.subject, msg.data);
    return outcome.kind === 'event' ? { ...outcome.event, position: msg.seq, subject: msg.subject } : null;
  }

  /** Tells the listener of every loss and return of the connection; returns how to stop telling it. */
  onConnectionChange(listener: (change: ConnectionChange) => void): () => void {
    this.#connectionListeners.add(listener);
    return () => this.#connectionListeners.delete(listener);
  }

  /** The version the connected NATS server reports ('unknown' before it has; then it counts as old). */
  get serverVersion(): string {
    return this.#nc.info?.version ?? 'unknown';
  }

  /** Whether the server filters a consumer on several subjects (NATS 2.10 and later). */
  get canFilterOnSeveralSubjects(): boolean {
    const [major = 0, minor = 0] = this.serverVersion.split('.').map(Number);
    return major > 2 || (major === 2 && minor >= 10);
  }

  /** The position of the first event at or after `from` on any of the subjects (wildcards allowed), or null if none. */
  async firstPositionOn(subjects: readonly string[], from: number): Promise<number | null> {
    const found = await Promise.all(
      subjects.map((subject) =>
        // next_by_subj is in the server's message-get request (2.9+), not in the client's type for it.
        this.#read(() => this.jsm.streams.getMessage(STREAM_NAME, { seq: Math.max(1, from), next_by_subj: subject } as unknown as { seq: number })),
      ),
    );
    const positions = found.filter((msg) => msg !== null).map((msg) => msg!.seq);
    return positions.length > 0 ? Math.min(...positions) : null;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    // Draining delivers the acknowledgements already on their way; what is still unanswered then fails.
    await this.#nc.drain().catch(() => this.#nc.close());
    this.#publisher.close();
  }

  /**
   * Appends made during one turn of the event loop (concurrent requests) are published together in the
   * next, so the client writes them to NATS in one go: on loopback, each write to the socket costs about
   * as much as the work of a small request.
   */
  #nextPublishTurn(): Promise<void> {
    this.#publishTurn ??= new Promise((resolve) =>
      setImmediate(() => {
        this.#publishTurn = null;
        resolve();
      }),
    );
    return this.#publishTurn;
  }

  async #read<T>(operation: () => Promise<T>): Promise<T> {
    if (!this.connected) await this.#waitForReconnect(1_000);
    // A request sent while disconnected waits in the client's buffer and, sent on reconnect before JetStream is
    // back, may never be answered: it would hold its caller for the whole request timeout (5 s).
    if (!this.connected) throw new EventStoreUnavailable('not connected to NATS');
    try {
      return await operation();
    } catch (err) {
      throw new EventStoreUnavailable('the event store could not be read', { cause: err });
    }
  }

  async #watchStatus(): Promise<void> {
    for await (const status of this.#nc.status()) {
      if (status.type === 'error' && status.error instanceof PermissionViolationError && status.error.operation === 'publish') {
        // The server answers a refused publish with an error of the connection, not on the publish's inbox.
        this.#publisher.refuse(status.error.subject, status.error.message);
      } else if (status.type === 'disconnect') {
        this.#connected = false;
        // The server we come back to may have lost the stream's tail (a crash, a restored copy of its store):
        // how far the stream had reached is known again only from what it says after the reconnect.
        this.#highestKnownPosition = 0;
        this.options.logger.warn({ server: status.server }, 'disconnected from NATS; reconnecting');
        this.#tellConnectionListeners('disconnected');
      } else if (status.type === 'reconnect') {
        this.#connected = true;
        this.options.logger.info({ server: status.server }, 'reconnected to NATS');
        for (const wake of this.#reconnectWaiters.splice(0)) wake();
        this.#tellConnectionListeners('reconnected');
      }
    }
  }

  #tellConnectionListeners(change: ConnectionChange): void {
    for (const listener of this.#connectionListeners) {
      try {
        listener(change);
      } catch (err) {
        this.options.logger.error({ err: String(err) }, 'a connection listener failed');
      }
    }
  }

  #waitForReconnect(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, Math.max(0, timeoutMs));
      this.#reconnectWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}

export type { ConsumerMessages, JsMsg, StoredMsg };

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
