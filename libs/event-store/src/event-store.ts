import { connect, type NatsConnection } from '@nats-io/transport-node';
import {
  DeliverPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  PubHeaders,
  jetstream,
  jetstreamManager,
  type ConsumerMessages,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  type StoredMsg,
} from '@nats-io/jetstream';
import { headers as natsHeaders } from '@nats-io/transport-node';
import {
  STREAM_NAME,
  STREAM_SUBJECTS,
  decodeEvent,
  subjectOf,
  toEnvelope,
  type DecidedEvent,
  type DecodeOutcome,
  type EventContext,
  type EventEnvelope,
} from '@mcp-auth/contracts';
import { AcknowledgedPublisher, PublishRefused } from './acknowledged-publisher.ts';
import { ConcurrencyConflict, EventStoreMisconfigured, EventStoreUnavailable } from './errors.ts';
import { silentLogger, type Logger } from './logger.ts';
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
/**
 * How long one pull of a consumer lasts; the server sends heartbeats every half of it, and two missed ones
 * make the client look for its consumer again. The client's default (30 s) left a projection whose consumer
 * lived on a crashed cluster node deaf for half a minute; a pull renewed every 2 s costs nothing measurable.
 */
const CONSUME_EXPIRES_MS = 2_000;
/**
 * How long a JetStream API request (stream info, a message get) may go unanswered. A stream whose leader
 * crashed answers nothing until its next election: a projector waiting out the client's 5 s default there
 * followed the stream again seconds after the cluster did.
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

  private constructor(
    readonly nc: NatsConnection,
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly options: Required<Omit<EventStoreOptions, 'servers' | 'connectionName'>>,
  ) {
    this.#publisher = new AcknowledgedPublisher(nc);
    void this.#watchStatus();
  }

  static async connect(options: EventStoreOptions): Promise<EventStore> {
    const nc = await connect({
      servers: options.servers.split(',').map((s) => s.trim()),
      name: options.connectionName,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      waitOnFirstConnect: true,
      pingInterval: 10_000,
      // Each request would otherwise build an Error up front to keep its stack: a few per cent of all CPU.
      noAsyncTraces: true,
    });
    try {
      const jsm = await jetstreamManager(nc, { timeout: JETSTREAM_API_TIMEOUT_MS });
      const store = new EventStore(nc, jetstream(nc), jsm, {
        logger: options.logger ?? silentLogger,
        replicas: options.replicas ?? 1,
        appendDeadlineMs: options.appendDeadlineMs ?? 5_000,
      });
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

  /** Creates the EVENTS stream, or checks that the existing one captures every event subject. */
  async ensureStream(): Promise<void> {
    const info = await this.jsm.streams.info(STREAM_NAME).catch((err: unknown) => {
      if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound) return null;
      throw err;
    });
    if (info) {
      if (!info.config.subjects?.includes(STREAM_SUBJECTS)) {
        throw new EventStoreMisconfigured(`stream ${STREAM_NAME} exists but does not capture ${STREAM_SUBJECTS}`);
      }
      return;
    }
    try {
      await this.jsm.streams.add({
        name: STREAM_NAME,
        subjects: [STREAM_SUBJECTS],
        num_replicas: this.options.replicas,
        allow_direct: true,
        duplicate_window: 120_000_000_000, // 2 minutes, in nanoseconds: the window in which a retried publish is deduplicated
      });
    } catch (err) {
      // Another service created it in the meantime with its own (equal) settings.
      if (!(await this.jsm.streams.info(STREAM_NAME).catch(() => null))) throw err;
    }
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
        if (err instanceof PublishRefused) {
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

  /** The newest event on a subject, read from the stream (authoritative), or null if the subject has none. */
  async last(subject: string): Promise<LastEvent | null> {
    const msg = await this.#read(() => this.jsm.streams.getMessage(STREAM_NAME, { last_by_subj: subject }));
    if (!msg) return null;
    return { position: msg.seq, outcome: decodeEvent(msg.data) };
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

  /** Tells the listener of every loss and return of the connection; returns how to stop telling it. */
  onConnectionChange(listener: (change: ConnectionChange) => void): () => void {
    this.#connectionListeners.add(listener);
    return () => this.#connectionListeners.delete(listener);
  }

  /** The version the connected NATS server reports ('unknown' before it has; then it counts as old). */
  get serverVersion(): string {
    return this.nc.info?.version ?? 'unknown';
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
    await this.nc.drain().catch(() => this.nc.close());
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
    for await (const status of this.nc.status()) {
      if (status.type === 'disconnect') {
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
