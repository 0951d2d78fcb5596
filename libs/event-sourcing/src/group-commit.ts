import type { Logger } from '@mcp-auth/event-store';
import { checkpointWriter, readMeta, type Checkpoint } from './checkpoint.ts';
import type { ProjectionDatabase } from './projection.ts';

/** How long applied events may stay uncommitted, so that the events of that time reach the file in one commit. */
const GROUP_COMMIT_MS = 25;
/** How long a position reached by passing events over may stay unsaved. */
const SKIPPED_POSITION_SAVE_MS = 1_000;

/**
 * Batches are applied in savepoints of one transaction, committed GROUP_COMMIT_MS after the first: a commit
 * writes each page it changed to the WAL (a system call each), so under load one commit carries many events
 * instead of one. The connection, which every read model here uses, reads its own uncommitted writes, so
 * read-your-writes is unchanged; other connections see the file up to GROUP_COMMIT_MS behind. The checkpoint
 * is written once, as the group commits, in the same transaction as its events: a crash loses only work the
 * stream gives back.
 */
export class GroupCommit {
  readonly #db: ProjectionDatabase;
  readonly #logger: Logger;
  /** Where the projection stands now: what the group's checkpoint says when it commits. */
  readonly #standing: () => Checkpoint;
  /** Called after a group failed to commit and was undone. */
  readonly #failed: () => void;
  readonly #writeCheckpoint: (checkpoint: Checkpoint) => void;
  #commitTimer: NodeJS.Timeout | null = null;
  /** Position reached by batches that only passed events over, not yet written to the checkpoint. */
  #unsaved: Checkpoint | null = null;
  #saveTimer: NodeJS.Timeout | null = null;

  constructor(db: ProjectionDatabase, logger: Logger, standing: () => Checkpoint, failed: () => void) {
    this.#db = db;
    this.#logger = logger;
    this.#standing = standing;
    this.#failed = failed;
    this.#writeCheckpoint = checkpointWriter(db);
  }

  /** Opens the group the next batches are applied in, unless one is open. */
  open(): void {
    if (this.#db.inTransaction) return;
    this.#db.exec('BEGIN');
    this.#commitTimer = setTimeout(() => this.commit(), GROUP_COMMIT_MS);
  }

  commit(): void {
    if (this.#commitTimer) clearTimeout(this.#commitTimer);
    this.#commitTimer = null;
    if (!this.#db.open || !this.#db.inTransaction) return;
    try {
      this.#writeCheckpoint(this.#standing());
      this.#db.exec('COMMIT');
    } catch (err) {
      // The file did not take the group (disk full, I/O error): undo it, for its events to be read again from
      // the last commit.
      this.#logger.error({ err: String(err) }, 'projection commit failed; applying again from the last commit');
      try {
        if (this.#db.inTransaction) this.#db.exec('ROLLBACK');
      } catch (rollbackErr) {
        this.#logger.error({ err: String(rollbackErr) }, 'projection rollback failed');
      }
      this.#failed();
    }
  }

  /**
   * The position reached without writing (nothing of ours up to it): saved a moment later; replaying to it
   * after a crash changes nothing.
   */
  saveLater(checkpoint: Checkpoint): void {
    this.#unsaved = checkpoint;
    this.#saveTimer ??= setTimeout(() => this.saveSkippedPosition(), SKIPPED_POSITION_SAVE_MS);
  }

  /** Forgets the unsaved position (the projection starts over). */
  forgetSkippedPosition(): void {
    this.#unsaved = null;
  }

  saveSkippedPosition(): void {
    if (this.#saveTimer) clearTimeout(this.#saveTimer);
    this.#saveTimer = null;
    const unsaved = this.#unsaved;
    if (!this.#db.open || unsaved === null || unsaved.position === 0) return;
    const saved = Number(readMeta(this.#db, 'position') ?? 0);
    if (unsaved.position > saved) this.#writeCheckpoint(unsaved);
    this.#unsaved = null;
  }
}
