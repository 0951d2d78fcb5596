import { createHash } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
import Database from 'better-sqlite3';
import { EVENT_AGGREGATES, aggregateOfSubject, decodeEventOn, isKnownEventType, type DomainEvent, type RecordedEvent } from '@mcp-auth/contracts';
import {
  EVENT_TYPE_HEADER,
  identityOfDelivered,
  silentLogger,
  type ConnectionChange,
  type ConsumerMessages,
  type EventStore,
  type JsMsg,
  type Logger,
  type StoredEventIdentity,
  type StreamState,
} from '@mcp-auth/event-store';
import { checkpointWriter, readCheckpoint, readMeta, rememberStream, resetProjection, whyCheckpointIsStale, type Checkpoint } from './checkpoint.ts';
import { makePrivateDatabaseFile } from './private-files.ts';
import type { BatchProjection, Projection, ProjectionDatabase } from './projection.ts';
import { PositionWaiters } from './waiters.ts';

const KNOWN_AGGREGATES = new Set(Object.values(EVENT_AGGREGATES));
/** How long a wait on a filtered projector lets events arrive before asking NATS whether any are due. */
const PROOF_DELAY_MS = 20;
/** How long applied events may stay uncommitted, so that the events of that time reach the file in one commit. */
const GROUP_COMMIT_MS = 25;
/**
 * Further behind than this, a projector that NATS would filter on several subjects reads everything and passes
 * over what is not its own until it has caught up: NATS 2.10 sends such a consumer's backlog several times
 * slower than all of it when most of it is other aggregates' (mcp-tools' rebuild: ~40k against ~110k events/s).
 */
const UNFILTERED_CATCH_UP_BEYOND = 10_000;
/**
 * The most events a batch projection is handed at once. A rebuild's batches hold thousands of events: kept
 * until the batch ends, they would outlive the young generation and be copied by every scavenge meanwhile.
 */
const BATCH_PROJECTION_GROUP = 64;
/** Heartbeats (one a second, see EventStore.consumeFrom) missed in a row before a consumer counts as gone. */
const SILENT_AFTER_MISSED_HEARTBEATS = 4;

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

const META_SCHEMA = `
CREATE TABLE IF NOT EXISTS projector_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS projector_skipped_events (position INTEGER PRIMARY KEY, type TEXT, reason TEXT NOT NULL);
`;

/**
 * Applies the event stream to a service's SQLite projections: one ordered consumer from the checkpoint + 1;
 * events are committed together with the new checkpoint in one transaction, so after a crash the
 * projection resumes exactly where its last commit stopped and never applies an event twice.
 */
export class Projector {
  readonly db: ProjectionDatabase;
  readonly #store: EventStore;
  readonly #logger: Logger;
  readonly #projections: readonly Projection[];
  readonly #byType = new Map<string, Projection[]>();
  /** Aggregates ("<context>.<aggregate>") whose events some projection here applies. */
  readonly #aggregates = new Set<string>();
  /** Of those, the ones with event types no projection here applies. */
  readonly #partlyProjected = new Set<string>();
  /** The subjects of those aggregates, when they are not all of them: what the consumer asks NATS for. */
  readonly #subjects: readonly string[] | null;
  /** Whether the current consumer is filtered: then events of other aggregates never arrive to move the position. */
  #filtered = false;
  /** Whether the current consumer reads everything only to catch up, to be replaced by a filtered one then. */
  #catchingUpUnfiltered = false;
  #switchingToFiltered = false;
  #proofTarget = 0;
  #proofTimer: NodeJS.Timeout | null = null;
  #proving = false;
  readonly #batchSize: number;
  readonly #unfilteredCatchUpBeyond: number;
  readonly #waiters = new PositionWaiters();
  readonly #changes = new Map<string, number>();
  #horizon = 0;
  #resets = 0;
  #position: number;
  /** Which event the stream held at #position when the projection got there (see Checkpoint). */
  #positionEvent: StoredEventIdentity | null;
  /** Counts losses of the NATS connection: a proof begun before one says nothing of the stream after it. */
  #connectionEpoch = 0;
  /**
   * Whether the stream has been seen to hold the event at #position since the start and the last reconnect:
   * until then a position the projection believes applied may be one the stream lost, so no wait for a
   * position is answered from it. (While NATS is away the projection answers as it stands.)
   */
  #checked = false;
  #stopListening: (() => void) | null = null;
  readonly #rebuildListeners = new Set<() => void>();
  /** Ends the consume loop's pause before the next consumer (the connection is back, or the projector stops). */
  #wakeLoop: (() => void) | null = null;
  #target = 0;
  #caughtUp = false;
  #following = false;
  #applied = 0;
  #skipped = 0;
  #stopped = false;
  #buffer: JsMsg[] = [];
  #flushScheduled = false;
  #messages: { stop(): void } | null = null;
  /** Position reached by batches that only skipped events, not yet written to the checkpoint. */
  #unsavedPosition = 0;
  #unsavedEvent: StoredEventIdentity | null = null;
  #checkpointTimer: NodeJS.Timeout | null = null;
  #queryIndexesBuilt = false;
  /** Whether the operator was told that this NATS cannot filter on several subjects (once per process). */
  #toldUnfiltered = false;
  #commitTimer: NodeJS.Timeout | null = null;
  /** Counts consumers started: only the newest one's messages are taken. */
  #consumers = 0;
  #loop: Promise<void> | null = null;
  readonly #writeCheckpoint: (checkpoint: Checkpoint) => void;
  readonly #applyInTransaction: (messages: JsMsg[]) => number;

  constructor(options: ProjectorOptions) {
    this.#store = options.store;
    this.#logger = options.logger ?? silentLogger;
    this.#projections = options.projections;
    this.#batchSize = options.batchSize ?? 500;
    this.#unfilteredCatchUpBeyond = options.unfilteredCatchUpBeyond ?? UNFILTERED_CATCH_UP_BEYOND;
    for (const projection of options.projections) {
      for (const type of projection.handles) {
        const list = this.#byType.get(type) ?? [];
        list.push(projection);
        this.#byType.set(type, list);
        this.#aggregates.add(EVENT_AGGREGATES[type]);
      }
    }
    for (const [type, aggregate] of Object.entries(EVENT_AGGREGATES)) {
      if (this.#aggregates.has(aggregate) && !this.#byType.has(type)) this.#partlyProjected.add(aggregate);
    }
    this.#subjects = this.#aggregates.size < KNOWN_AGGREGATES.size ? filterSubjects(this.#aggregates) : null;
    this.db = openProjectionFile(options.file, schemaFingerprint(options.projections), this.#logger);
    for (const projection of options.projections) this.db.exec(projection.schema);
    ({ position: this.#position, event: this.#positionEvent } = readCheckpoint(this.db));
    // A file that has applied events keeps its indexes up to date as it goes; a fresh one builds them at catch-up.
    if (this.#position > 0) this.#buildQueryIndexes();
    this.#writeCheckpoint = checkpointWriter(this.db);
    this.#applyInTransaction = this.db.transaction((messages: JsMsg[]) => {
      let last = this.#position;
      const batched = new Map<BatchProjection, RecordedEvent<DomainEvent>[]>();
      for (const message of messages) {
        if (message.seq <= last) continue;
        this.#applyOne(message, batched);
        last = message.seq;
      }
      for (const [projection, events] of batched) projection.applyBatch(events, this.db);
      return last;
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
    for (const name of projections) sum += this.#changes.get(name) ?? 0;
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
      following: this.#following,
      filtered: this.#filtered,
      applied: this.#applied,
      skipped: this.#skipped,
    };
  }

  /** Whether the projection has applied `position` of the stream as it is now (see #checked). */
  hasApplied(position: number): boolean {
    return this.#checked && this.#position >= position;
  }

  /** Read-your-writes: resolves true once the projection applied `position`, false after the timeout. */
  waitFor(position: number, timeoutMs: number): Promise<boolean> {
    if (this.hasApplied(position)) return Promise.resolve(true);
    if (this.#stopped) return Promise.resolve(false);
    const waiting = this.#waiters.add(position, timeoutMs);
    // A filtered consumer is told nothing of other aggregates' events: a position among them is proven instead.
    if (this.#filtered) this.#proveLater(position);
    else this.#proofTarget = Math.max(this.#proofTarget, position);
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
    this.#loop ??= this.#supervise();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#stopListening?.();
    if (this.#proofTimer) clearTimeout(this.#proofTimer);
    this.#messages?.stop();
    this.#wakeLoop?.();
    await this.#loop;
    this.#flush();
    this.#commitGroup();
    this.#saveSkippedPosition();
    this.#waiters.releaseAll(false);
    this.db.close();
  }

  async #supervise(): Promise<void> {
    let backoffMs = 100;
    while (!this.#stopped) {
      try {
        const epoch = this.#connectionEpoch;
        const state = await this.#store.streamState();
        await this.#checkCheckpoint(state, epoch);
        this.#target = state.lastSequence;
        if (this.#position >= this.#target) this.#markCaughtUp();
        // Only the aggregates projected here, where the server can filter on all of them (one subject: any
        // server; several: NATS 2.10); otherwise everything, passed over by subject below.
        const filterable = this.#subjects !== null && (this.#subjects.length === 1 || this.#store.canFilterOnSeveralSubjects);
        if (this.#subjects !== null && !filterable && !this.#toldUnfiltered) {
          this.#toldUnfiltered = true;
          this.#logger.info(
            { nats: this.#store.serverVersion, subjects: this.#subjects },
            'this NATS filters a consumer on one subject only: this service reads every event and passes over the ones not its own (NATS 2.10 or later sends it only its own)',
          );
        }
        this.#catchingUpUnfiltered = filterable && this.#subjects!.length > 1 && this.#target - this.#position > this.#unfilteredCatchUpBeyond;
        const subjects = filterable && !this.#catchingUpUnfiltered ? this.#subjects! : undefined;
        const consumer = ++this.#consumers;
        const messages = await this.#store.consumeFrom(this.#position + 1, this.#batchSize, (message) => {
          if (consumer === this.#consumers) this.#receive(message);
        }, subjects);
        this.#filtered = subjects !== undefined;
        this.#messages = messages;
        this.#following = consumer === this.#consumers;
        void this.#endWhenSilent(messages, consumer);
        // The stream may end with events of other aggregates only: then no message comes to say we caught up
        // (nor to release a wait that began before the consumer).
        if (this.#filtered) this.#proveLater(this.#target, 0);
        if (this.#stopped) messages.stop();
        backoffMs = 100;
        const ended = await messages.closed();
        if (ended instanceof Error) throw ended;
      } catch (err) {
        if (!this.#stopped) this.#logger.warn({ err: String(err) }, 'projection consumer failed; restarting from checkpoint');
      }
      this.#messages = null;
      this.#filtered = false;
      this.#following = false;
      this.#flush();
      if (this.#switchingToFiltered) {
        this.#switchingToFiltered = false;
        continue; // caught up: on at once with a filtered consumer
      }
      if (!this.#stopped) {
        await this.#pause(backoffMs);
        // At most a second apart: a stream without a leader for a moment (a cluster node crashed) is followed
        // again within a second of its election, and a revocation meanwhile waits no longer than that.
        backoffMs = Math.min(backoffMs * 2, 1_000);
      }
    }
  }

  /**
   * A consumer whose server went away while the connection stayed up (a cluster node that crashed) sends no
   * heartbeats: it ends, and the next one starts from the checkpoint, checked, on a server that has the stream.
   * The client counts a heartbeat missed when one is a few milliseconds late, and two in a row happen under
   * load; four (no message nor heartbeat for 3-4 s) do not.
   */
  async #endWhenSilent(messages: ConsumerMessages, consumer: number): Promise<void> {
    for await (const status of messages.status()) {
      if (status.type !== 'heartbeats_missed' || status.count < SILENT_AFTER_MISSED_HEARTBEATS || consumer !== this.#consumers) continue;
      this.#logger.warn({ position: this.#position }, 'the projection consumer went silent; starting another from the checkpoint');
      this.#endConsumer();
      return;
    }
  }

  /** Waits before the next consumer, unless the connection comes back (or the projector stops) first. */
  #pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#wakeLoop = null;
        resolve();
      }, ms);
      this.#wakeLoop = () => {
        clearTimeout(timer);
        this.#wakeLoop = null;
        resolve();
      };
    });
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
      this.#endConsumer();
    } else {
      this.#checked = false;
      this.#wakeLoop?.();
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
    if (!batch.some((m) => this.#concerns(m))) {
      // Nothing here for this service (other services' events, audit events): move on without a write.
      // The position is saved a moment later; replaying these after a crash would skip them again.
      if (last.seq > this.#position) this.#advanceTo(last.seq, identityOfDelivered(last));
      this.#saveLater();
    } else {
      try {
        this.#openGroupCommit();
        const reached = this.#applyInTransaction(batch);
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
    // The end as this consumer found it, not "caught up once": a projector that fell far behind again (a long
    // outage) catches up unfiltered again.
    if (this.#catchingUpUnfiltered && reachedEnd && this.#messages && !this.#switchingToFiltered) {
      this.#switchingToFiltered = true;
      this.#endConsumer(); // what the unfiltered consumer still sends is the filtered one's to deliver
    }
  }

  #applyOneByOne(batch: JsMsg[]): void {
    // Usually the group is still open (only the batch's savepoint was undone); if it never opened, these too
    // must commit with their checkpoint.
    this.#openGroupCommit();
    for (const message of batch) {
      if (message.seq <= this.#position) continue;
      try {
        this.#applyInTransaction([message]);
      } catch (err) {
        this.#logger.error({ err: String(err), position: message.seq }, 'event could not be applied; skipped');
        this.db
          .prepare('INSERT OR REPLACE INTO projector_skipped_events (position, type, reason) VALUES (?, ?, ?)')
          .run(message.seq, message.headers?.get(EVENT_TYPE_HEADER) ?? null, String(err).slice(0, 500));
      }
      this.#advanceTo(message.seq, identityOfDelivered(message));
    }
  }

  /**
   * Batches are applied in savepoints of one transaction, committed GROUP_COMMIT_MS after the first: a commit
   * writes each page it changed to the WAL (a system call each), so under load one commit carries hundreds of
   * events instead of one. This connection, which every read model here uses, reads its own uncommitted
   * writes, so read-your-writes is unchanged; other connections see the file up to GROUP_COMMIT_MS behind.
   * The checkpoint is written once, as the group commits, in the same transaction as its events: a crash
   * loses only work the stream gives back.
   */
  #openGroupCommit(): void {
    if (this.db.inTransaction) return;
    this.db.exec('BEGIN');
    this.#commitTimer = setTimeout(() => this.#commitGroup(), GROUP_COMMIT_MS);
  }

  #commitGroup(): void {
    if (this.#commitTimer) clearTimeout(this.#commitTimer);
    this.#commitTimer = null;
    if (!this.db.open || !this.db.inTransaction) return;
    try {
      this.#writeCheckpoint({ position: this.#position, event: this.#positionEvent });
      this.db.exec('COMMIT');
    } catch (err) {
      // The file did not take the group (disk full, I/O error): undo it and read its events again from the
      // last commit, with a fresh consumer; what is buffered belongs to the old one.
      this.#logger.error({ err: String(err) }, 'projection commit failed; applying again from the last commit');
      try {
        if (this.db.inTransaction) this.db.exec('ROLLBACK');
      } catch (rollbackErr) {
        this.#logger.error({ err: String(rollbackErr) }, 'projection rollback failed');
      }
      this.#buffer = [];
      const { position, event } = readCheckpoint(this.db);
      this.#advanceTo(position, event);
      this.#resets++;
      this.#endConsumer();
    }
  }

  /** Ends the current consumer: the consume loop starts the next from the position; what the old one still delivers is dropped. */
  #endConsumer(): void {
    this.#following = false;
    this.#consumers++;
    this.#messages?.stop();
  }

  /** The position reached without writing (nothing of ours up to it): saved a moment later; replaying to it after a crash changes nothing. */
  #saveLater(): void {
    this.#unsavedPosition = this.#position;
    this.#unsavedEvent = this.#positionEvent;
    this.#checkpointTimer ??= setTimeout(() => this.#saveSkippedPosition(), 1_000);
  }

  #saveSkippedPosition(): void {
    if (this.#checkpointTimer) clearTimeout(this.#checkpointTimer);
    this.#checkpointTimer = null;
    if (!this.db.open || this.#unsavedPosition === 0) return;
    const saved = Number(readMeta(this.db, 'position') ?? 0);
    if (this.#unsavedPosition > saved) this.#writeCheckpoint({ position: this.#unsavedPosition, event: this.#unsavedEvent });
    this.#unsavedPosition = 0;
  }

  /**
   * Whether a message may change this service's projections. The subject names the aggregate, so events
   * of aggregates nobody here projects (other services', audit events) are passed over without being read.
   * An aggregate or type this version does not know is read, to be logged as unknown.
   */
  #concerns(message: JsMsg): boolean {
    const aggregate = aggregateOfSubject(message.subject);
    if (aggregate !== null && KNOWN_AGGREGATES.has(aggregate)) {
      if (!this.#aggregates.has(aggregate)) return false;
      if (!this.#partlyProjected.has(aggregate)) return true;
    }
    // An aggregate projected here may still have event types nobody here applies (ClientReregistered):
    // the header names the type, so they too are passed over unread.
    const type = message.headers?.get(EVENT_TYPE_HEADER);
    return !type || !isKnownEventType(type) || this.#byType.has(type);
  }

  /** Applies one message's event to the projections that apply events one by one; the others get it in `batched`. */
  #applyOne(message: JsMsg, batched: Map<BatchProjection, RecordedEvent<DomainEvent>[]>): void {
    if (!this.#concerns(message)) return;
    const outcome = decodeEventOn(message.subject, message.data);
    if (outcome.kind === 'misplaced') {
      // Someone who may write this subject wrote another context's event type on it: never believed.
      this.#skipped++;
      this.#logger.warn({ position: message.seq, type: outcome.type, subject: outcome.subject }, 'skipping an event whose type does not belong to the subject it was written on');
      this.db
        .prepare('INSERT OR REPLACE INTO projector_skipped_events (position, type, reason) VALUES (?, ?, ?)')
        .run(message.seq, outcome.type, `${outcome.type} does not belong on ${outcome.subject}`);
      return;
    }
    if (outcome.kind !== 'event') {
      this.#skipped++;
      this.#logger.warn({ position: message.seq, outcome }, 'skipping an event this service does not understand');
      return;
    }
    const handlers = this.#byType.get(outcome.event.type);
    if (!handlers) return;
    // A literal of one shape: adding the two properties to the decoded object would change its shape per event.
    const { type, data, metadata } = outcome.event;
    const recorded = { type, data, metadata, position: message.seq, subject: message.subject } as RecordedEvent<DomainEvent>;
    for (const projection of handlers) {
      if (projection.applyBatch) {
        const events = batched.get(projection);
        if (!events) batched.set(projection, [recorded]);
        else if (events.push(recorded) === BATCH_PROJECTION_GROUP) {
          projection.applyBatch(events, this.db);
          batched.delete(projection);
        }
      } else {
        projection.apply(recorded, this.db);
      }
      this.#changes.set(projection.name, (this.#changes.get(projection.name) ?? 0) + 1);
    }
    this.#applied++;
  }

  /** Proves `position` after a moment, unless an applied event gets there first (the usual case for our own aggregates). */
  #proveLater(position: number, delayMs = PROOF_DELAY_MS): void {
    this.#proofTarget = Math.max(this.#proofTarget, position);
    this.#proofTimer ??= setTimeout(() => {
      this.#proofTimer = null;
      void this.#proveThrough(this.#proofTarget);
    }, delayMs);
  }

  /**
   * With a filtered consumer, the position moves on to `target` without an event once NATS shows that no event
   * of the aggregates projected here lies between the position and it: every event up to `target` that could
   * change these projections has then been applied. One that does lie there is on its way and moves it itself.
   */
  async #proveThrough(target: number): Promise<void> {
    if (this.#proving || this.#stopped || !this.#filtered || !this.#subjects || this.#position >= target) return;
    this.#proving = true;
    // A proof is about the stream as this connection saw it, and about this projection as it stood.
    const epoch = this.#connectionEpoch;
    const resets = this.#resets;
    try {
      const { lastSequence } = await this.#store.streamState();
      // Never past the end of the stream: a position not written yet is not proven by the absence of events.
      const upTo = Math.min(target, lastSequence);
      const from = this.#position + 1;
      if (upTo < from) return;
      // The event at upTo becomes the checkpoint's: asked for together with the proof, not after it.
      const [next, eventAtUpTo] = await Promise.all([this.#store.firstPositionOn(this.#subjects, from), this.#store.eventAt(upTo)]);
      if (next !== null && next <= upTo) return;
      if (eventAtUpTo === null || epoch !== this.#connectionEpoch || resets !== this.#resets) return;
      // No event of ours in [from, upTo]: whatever arrives next lies beyond upTo. (The position may have moved
      // on meanwhile; it only grows, but for a rebuild, which the check above leaves alone.)
      if (upTo > this.#position && this.db.open) {
        this.#advanceTo(upTo, eventAtUpTo);
        this.#saveLater();
        if (this.#position >= this.#target) this.#markCaughtUp();
        if (this.#checked) this.#waiters.release(this.#position);
      }
    } catch (err) {
      // NATS is away: the consume loop reports that; waiters keep waiting for events or the next try.
      this.#logger.debug({ err: String(err) }, 'could not prove the projection position');
    } finally {
      this.#proving = false;
      // Asked for more meanwhile (or this proof failed while someone waits): try again shortly.
      if (!this.#stopped && this.#filtered && this.#proofTarget > this.#position && this.#waiters.size > 0) this.#proveLater(this.#proofTarget);
    }
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
    const started = performance.now();
    for (const projection of this.#projections) {
      if (!projection.queryIndexes) continue;
      try {
        this.db.exec(projection.queryIndexes);
      } catch (err) {
        // Reads stay correct without them, only slower; the next start tries again.
        this.#logger.error({ err: String(err), projection: projection.name }, 'query indexes could not be built');
      }
    }
    this.#logger.debug({ ms: Math.round(performance.now() - started) }, 'query indexes ready');
  }

  /**
   * Before each consumer (at start, and after every loss of the connection), the stream must still hold the
   * event this projection stands at; otherwise the projection holds events the stream no longer has, and would
   * pass over the ones written at their positions since: it starts over from sequence 1.
   */
  async #checkCheckpoint(state: StreamState, epoch: number): Promise<void> {
    const reason = await whyCheckpointIsStale(this.db, this.#store, state, { position: this.#position, event: this.#positionEvent });
    if (epoch !== this.#connectionEpoch) throw new Error('the connection to NATS was lost while the checkpoint was checked');
    if (reason !== null && !this.#stopped) {
      this.#logger.warn({ checkpoint: this.#position, streamLastSequence: state.lastSequence, reason }, `rebuilding the projection from sequence 1: ${reason}`);
      this.#commitGroup();
      resetProjection(this.db);
      this.#resets++;
      this.#advanceTo(0, null);
      this.#unsavedPosition = 0;
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

function openProjectionFile(file: string, fingerprint: string, logger: Logger): ProjectionDatabase {
  let db: ProjectionDatabase;
  try {
    db = openDatabase(file);
    const integrity = db.pragma('quick_check', { simple: true });
    if (integrity !== 'ok') throw new Error(`quick_check: ${String(integrity)}`);
  } catch (err) {
    // Projections are written without fsync (see openDatabase): after a power loss the file may be damaged.
    // It holds nothing the stream does not: start it again.
    logger.warn({ file, err: String(err) }, 'projection file is damaged; rebuilding from sequence 1');
    removeDatabaseFiles(file);
    db = openDatabase(file);
  }
  const known = readMeta(db, 'schema');
  if (known !== undefined && known !== fingerprint) {
    logger.info({ file }, 'projection schema changed; rebuilding from sequence 1');
    db.close();
    removeDatabaseFiles(file);
    db = openDatabase(file);
  }
  db.prepare('INSERT OR REPLACE INTO projector_meta (key, value) VALUES (?, ?)').run('schema', fingerprint);
  return db;
}

function openDatabase(file: string): ProjectionDatabase {
  makePrivateDatabaseFile(file);
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  // A projection is a disposable copy of the stream, so it is written without fsync: commits cost a few
  // microseconds instead of stalling the event loop at every WAL checkpoint. The checkpoint commits with
  // the data, so a process crash loses nothing; a power loss may lose recent transactions (re-applied from
  // the stream) or damage the file (found by quick_check at open, and rebuilt).
  db.pragma('synchronous = OFF');
  // Batches are savepoints of a longer transaction (see #openGroupCommit): their undo copies stay in memory.
  db.pragma('temp_store = MEMORY');
  db.pragma('foreign_keys = ON');
  db.exec(META_SCHEMA);
  return db;
}

function schemaFingerprint(projections: readonly Projection[]): string {
  const hash = createHash('sha256');
  for (const p of projections) hash.update(`${p.name}\n${p.schema}\n${p.handles.join(',')}\n`);
  return hash.digest('base64url');
}

function removeDatabaseFiles(file: string): void {
  for (const suffix of ['', '-wal', '-shm']) {
    if (existsSync(file + suffix)) rmSync(file + suffix);
  }
}

/**
 * The subjects that carry the given aggregates ("<context>.<aggregate>"): a context all of whose aggregates are
 * among them is one subject, since NATS before 2.10 filters a consumer on one subject only.
 */
export function filterSubjects(aggregates: ReadonlySet<string>): string[] {
  const contextOf = (aggregate: string) => aggregate.slice(0, aggregate.indexOf('.'));
  const wholeContexts = new Set([...aggregates].map(contextOf).filter((context) => [...KNOWN_AGGREGATES].every((known) => contextOf(known) !== context || aggregates.has(known))));
  const subjects = new Set([...aggregates].map((aggregate) => (wholeContexts.has(contextOf(aggregate)) ? `events.${contextOf(aggregate)}.>` : `events.${aggregate}.>`)));
  return [...subjects].sort();
}
