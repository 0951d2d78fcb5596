import {
  identityOfDelivered,
  silentLogger,
  EVENT_TYPE_HEADER,
  type ConnectionChange,
  type EventStore,
  type JsMsg,
  type Logger,
  type StoredEventIdentity,
  type StreamState,
} from '@mcp-auth/event-store';
import { EventApplier } from './apply-events.ts';
import { readCheckpoint, rememberStream, resetProjection, whyCheckpointIsStale } from './checkpoint.ts';
import { ConsumerFilterChoice, UNFILTERED_CATCH_UP_BEYOND } from './consumer-filter.ts';
import { ConsumerSupervisor } from './consumer-supervision.ts';
import { GroupCommit } from './group-commit.ts';
import { PositionProver, type ProvenPosition } from './position-proof.ts';
import { ProjectedEvents } from './projected-events.ts';
import { buildQueryIndexes, openProjectionFile, recordSkippedEvent, removeDatabaseFiles } from './projection-file.ts';
import type { Projection, ProjectionDatabase } from './projection.ts';
import { PositionWaiters } from './waiters.ts';

export { filterSubjects } from './projected-events.ts';

export type ProjectorOptions = {
  store: EventStore;
  /** The SQLite file of this service replica's projections. */
  file: string;
  projections: readonly Projection[];
  logger?: Logger;
  /** Messages the consumer may have in flight; larger is faster for rebuilds. */
  batchSize?: number;
  /** How far behind a projector filtered on several subjects catches up unfiltered (UNFILTERED_CATCH_UP_BEYOND). */
  unfilteredCatchUpBeyond?: number;
};

export type ProjectorStats = {
  position: number;
  streamLastSequenceAtStart: number;
  caughtUp: boolean;
  /** Whether a consumer is delivering the stream now (not between consumers, nor waiting for NATS). */
  following: boolean;
  /** Whether NATS sends the current consumer only this service's aggregates. */
  filtered: boolean;
  applied: number;
  skipped: number;
};

/**
 * Applies the event stream to a service's SQLite projections: one ordered consumer from the checkpoint + 1;
 * events are committed together with the new checkpoint in one transaction, so after a crash the
 * projection resumes exactly where its last commit stopped and never applies an event twice.
 *
 * This class keeps where the projection stands and whether the stream still backs it; its parts each read
 * alone: the consumer kept running (consumer-supervision.ts), what NATS is asked for (consumer-filter.ts), which
 * events concern it (projected-events.ts), applying them (apply-events.ts), committing them (group-commit.ts),
 * positions proven without an event (position-proof.ts), the checkpoint and its check against the stream
 * (checkpoint.ts) and the file's life (projection-file.ts).
 */
export class Projector {
  readonly db: ProjectionDatabase;
  readonly #store: EventStore;
  readonly #logger: Logger;
  readonly #projections: readonly Projection[];
  readonly #events: ProjectedEvents;
  readonly #consumer: ConsumerSupervisor;
  readonly #applier: EventApplier;
  readonly #group: GroupCommit;
  readonly #prover: PositionProver;
  readonly #waiters = new PositionWaiters();
  readonly #rebuildListeners = new Set<() => void>();

  #position: number;
  /** Which event the stream held at #position when the projection got there (see Checkpoint). */
  #positionEvent: StoredEventIdentity | null;
  /**
   * Whether the stream has been seen to hold the event at #position since the start and the last reconnect:
   * until then a position the projection believes applied may be one the stream lost, so no wait for a
   * position is answered from it. (While NATS is away the projection answers as it stands.)
   */
  #checked = false;
  /** Counts losses of the NATS connection: a proof begun before one says nothing of the stream after it. */
  #connectionEpoch = 0;
  #resets = 0;
  #horizon = 0;
  #target = 0;
  #caughtUp = false;
  #queryIndexesBuilt = false;
  #buffer: JsMsg[] = [];
  #flushScheduled = false;
  #stopListening: (() => void) | null = null;

  constructor(options: ProjectorOptions) {
    this.#store = options.store;
    this.#logger = options.logger ?? silentLogger;
    this.#projections = options.projections;
    this.#events = new ProjectedEvents(options.projections);
    this.db = openProjectionFile(options.file, options.projections, this.#logger);
    ({ position: this.#position, event: this.#positionEvent } = readCheckpoint(this.db));
    // A file that has applied events keeps its indexes up to date as it goes; a fresh one builds them at catch-up.
    if (this.#position > 0) this.#buildQueryIndexes();
    this.#applier = new EventApplier(this.db, this.#events, this.#logger);
    this.#group = new GroupCommit(this.db, this.#logger, () => ({ position: this.#position, event: this.#positionEvent }), () => this.#commitFailed());
    this.#prover = new PositionProver({
      store: this.#store,
      logger: this.#logger,
      subjects: this.#events.subjects,
      canProve: () => !this.#consumer.stopped && this.#consumer.filtered,
      position: () => this.#position,
      era: () => `${this.#connectionEpoch}/${this.#resets}`,
      waiting: () => this.#waiters.size > 0,
      accept: (proven) => this.#acceptProven(proven),
    });
    this.#consumer = new ConsumerSupervisor({
      store: this.#store,
      logger: this.#logger,
      filterChoice: new ConsumerFilterChoice(this.#events.subjects, options.unfilteredCatchUpBeyond ?? UNFILTERED_CATCH_UP_BEYOND, this.#logger),
      batchSize: options.batchSize ?? 500,
      host: {
        prepare: () => this.#prepareConsumer(),
        receive: (message) => this.#receive(message),
        // The stream may end with events of other aggregates only: then no message comes to say we caught up
        // (nor to release a wait that began before the consumer).
        started: (filtered) => {
          if (filtered) this.#prover.later(this.#target, 0);
        },
        ended: () => this.#flush(),
        position: () => this.#position,
      },
    });
  }

  get position(): number {
    return this.#position;
  }

  /** The furthest position the stream is known to have reached, from what the consumer was told. */
  get streamHorizon(): number {
    return Math.max(this.#horizon, this.#target, this.#position);
  }

  /**
   * A number that grows whenever one of the named projections may have changed (an event applied to it,
   * or a reset): a read model's answer derived from them stays true while this number stays the same.
   */
  changes(...projections: string[]): number {
    let sum = this.#resets;
    for (const name of projections) sum += this.#applier.changes.get(name) ?? 0;
    return sum;
  }

  isCaughtUp(): boolean {
    return this.#caughtUp;
  }

  stats(): ProjectorStats {
    return {
      position: this.#position,
      streamLastSequenceAtStart: this.#target,
      caughtUp: this.#caughtUp,
      following: this.#consumer.following,
      filtered: this.#consumer.filtered,
      applied: this.#applier.applied,
      skipped: this.#applier.skipped,
    };
  }

  /** Whether the projection has applied `position` of the stream as it is now (see #checked). */
  hasApplied(position: number): boolean {
    return this.#checked && this.#position >= position;
  }

  /** Read-your-writes: resolves true once the projection applied `position`, false after the timeout. */
  waitFor(position: number, timeoutMs: number): Promise<boolean> {
    if (this.hasApplied(position)) return Promise.resolve(true);
    if (this.#consumer.stopped) return Promise.resolve(false);
    const waiting = this.#waiters.add(position, timeoutMs);
    // A filtered consumer is told nothing of other aggregates' events: a position among them is proven instead.
    if (this.#consumer.filtered) this.#prover.later(position);
    else this.#prover.aimAt(position);
    return waiting;
  }

  /**
   * Tells the listener each time the projection starts over because the stream no longer holds its checkpoint:
   * what a service wrote itself may be gone from the stream with it. Returns how to stop telling it.
   */
  onRebuild(listener: () => void): () => void {
    this.#rebuildListeners.add(listener);
    return () => this.#rebuildListeners.delete(listener);
  }

  /** Starts the supervised consume loop; it survives NATS restarts and reconnects forever. */
  start(): void {
    this.#stopListening ??= this.#store.onConnectionChange((change) => this.#connectionChanged(change));
    this.#consumer.start();
  }

  async stop(): Promise<void> {
    this.#stopListening?.();
    this.#prover.stop();
    await this.#consumer.stop();
    this.#flush();
    this.#group.commit();
    this.#group.saveSkippedPosition();
    this.#waiters.releaseAll(false);
    this.db.close();
  }

  /** Before each consumer: the checkpoint checked against the stream, and where the consumer starts. */
  async #prepareConsumer(): Promise<{ from: number; behind: number }> {
    const epoch = this.#connectionEpoch;
    const state = await this.#store.streamState();
    await this.#checkCheckpoint(state, epoch);
    this.#target = state.lastSequence;
    if (this.#position >= this.#target) this.#markCaughtUp();
    return { from: this.#position + 1, behind: this.#target - this.#position };
  }

  /**
   * The ordered consumer would resume by itself after a reconnect, from the position it had reached: on a
   * server that lost the stream's tail meanwhile, that passes over the new events written at the lost
   * positions. So the consumer ends when the connection is lost, and the next one starts only after the
   * checkpoint has been checked against the stream (#checkCheckpoint).
   */
  #connectionChanged(change: ConnectionChange): void {
    if (change === 'disconnected') {
      this.#connectionEpoch++;
      this.#horizon = 0;
      this.#consumer.endConsumer();
    } else {
      this.#checked = false;
      this.#consumer.wake();
    }
  }

  /** Sets where the projection stands, and which event the stream holds there. */
  #advanceTo(position: number, event: StoredEventIdentity | null): void {
    this.#position = position;
    this.#positionEvent = event;
  }

  #receive(message: JsMsg): void {
    this.#buffer.push(message);
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      // Messages that arrive together are applied in one transaction.
      setImmediate(() => this.#flush());
    }
  }

  #flush(): void {
    this.#flushScheduled = false;
    if (this.#buffer.length === 0 || !this.db.open) return;
    const batch = this.#buffer;
    this.#buffer = [];
    const last = batch[batch.length - 1]!;
    if (!batch.some((m) => this.#events.concern(m))) {
      // Nothing here for this service (other services' events, audit events): move on without a write.
      // The position is saved a moment later; replaying these after a crash would skip them again.
      if (last.seq > this.#position) this.#advanceTo(last.seq, identityOfDelivered(last));
      this.#group.saveLater({ position: this.#position, event: this.#positionEvent });
    } else {
      try {
        this.#group.open();
        const reached = this.#applier.apply(batch, this.#position);
        if (reached > this.#position) this.#advanceTo(reached, identityOfDelivered(last));
      } catch (err) {
        this.#logger.error({ err: String(err) }, 'a batch failed to apply; applying its events one by one');
        this.#applyOneByOne(batch);
      }
    }
    const { pending } = last.info;
    this.#horizon = Math.max(this.#horizon, last.seq + pending);
    const reachedEnd = pending === 0 || this.#position >= this.#target;
    if (reachedEnd) this.#markCaughtUp();
    if (this.#checked) this.#waiters.release(this.#position);
    if (reachedEnd) this.#consumer.reachedEnd();
  }

  #applyOneByOne(batch: JsMsg[]): void {
    // Usually the group is still open (only the batch's savepoint was undone); if it never opened, these too
    // must commit with their checkpoint.
    this.#group.open();
    for (const message of batch) {
      if (message.seq <= this.#position) continue;
      try {
        this.#applier.apply([message], this.#position);
      } catch (err) {
        this.#logger.error({ err: String(err), position: message.seq }, 'event could not be applied; skipped');
        recordSkippedEvent(this.db, message.seq, message.headers?.get(EVENT_TYPE_HEADER) ?? null, String(err).slice(0, 500));
      }
      this.#advanceTo(message.seq, identityOfDelivered(message));
    }
  }

  /** The group was undone: its events are read again from the last commit, with a fresh consumer; what is buffered belongs to the old one. */
  #commitFailed(): void {
    this.#buffer = [];
    const { position, event } = readCheckpoint(this.db);
    this.#advanceTo(position, event);
    this.#resets++;
    this.#consumer.endConsumer();
  }

  /** A position proven without an event (see PositionProver); the position may have moved on meanwhile. */
  #acceptProven({ position, event }: ProvenPosition): void {
    if (position <= this.#position || !this.db.open) return;
    this.#advanceTo(position, event);
    this.#group.saveLater({ position, event });
    if (this.#position >= this.#target) this.#markCaughtUp();
    if (this.#checked) this.#waiters.release(this.#position);
  }

  #markCaughtUp(): void {
    if (!this.#caughtUp) {
      this.#buildQueryIndexes();
      this.#caughtUp = true;
      this.#logger.info({ position: this.#position }, 'projection caught up');
    }
  }

  #buildQueryIndexes(): void {
    if (this.#queryIndexesBuilt || !this.db.open) return;
    this.#queryIndexesBuilt = true;
    buildQueryIndexes(this.db, this.#projections, this.#logger);
  }

  /**
   * Before each consumer (at start, and after every loss of the connection), the stream must still hold the
   * event this projection stands at; otherwise the projection holds events the stream no longer has, and would
   * pass over the ones written at their positions since: it starts over from sequence 1.
   */
  async #checkCheckpoint(state: StreamState, epoch: number): Promise<void> {
    const reason = await whyCheckpointIsStale(this.db, this.#store, state, { position: this.#position, event: this.#positionEvent });
    if (epoch !== this.#connectionEpoch) throw new Error('the connection to NATS was lost while the checkpoint was checked');
    if (reason !== null && !this.#consumer.stopped) {
      this.#logger.warn({ checkpoint: this.#position, streamLastSequence: state.lastSequence, reason }, `rebuilding the projection from sequence 1: ${reason}`);
      this.#group.commit();
      resetProjection(this.db);
      this.#resets++;
      this.#advanceTo(0, null);
      this.#group.forgetSkippedPosition();
      this.#horizon = 0;
      this.#caughtUp = false;
      for (const listener of this.#rebuildListeners) listener();
    }
    if (this.db.open) rememberStream(this.db, state);
    this.#checked = true;
    this.#waiters.release(this.#position);
  }
}

/** Replays the whole stream into a fresh file. Used to check a live projection and by the benchmarks. */
export async function rebuildProjections(options: ProjectorOptions): Promise<{ events: number; position: number; seconds: number }> {
  removeDatabaseFiles(options.file);
  const { lastSequence } = await options.store.streamState();
  const started = process.hrtime.bigint();
  const projector = new Projector({ batchSize: 5_000, ...options });
  projector.start();
  while (!(await projector.waitFor(lastSequence, 60_000))) {
    options.logger?.info({ position: projector.position, target: lastSequence }, 'rebuild in progress');
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const position = projector.position;
  await projector.stop();
  return { events: lastSequence, position, seconds };
}
