import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { NoteCreated, ToolDenied, newEvent, subjects } from '@mcp-auth/contracts';
import { EventStore, silentLogger, type Logger } from '@mcp-auth/event-store';
import { startNats, type NatsHandle } from '@mcp-auth/testing';
import { Projector, defineProjection, rebuildProjections, reachCredentialPosition, sql, type ProjectionDatabase } from '../src/index.ts';
import { eventually, retry } from './until.ts';
import { readCheckpoint } from '../src/checkpoint.ts';

const actor = { kind: 'system', id: 'test' } as const;

/** Notes by title, and how often each event was applied. */
const notes = defineProjection({
  name: 'notes',
  schema: `
    CREATE TABLE IF NOT EXISTS notes (note_id TEXT PRIMARY KEY, user_id TEXT NOT NULL, position INTEGER NOT NULL);
    CREATE TABLE IF NOT EXISTS applications (event_id TEXT PRIMARY KEY, times INTEGER NOT NULL);
  `,
  handles: ['NoteCreated'],
  apply(event, db) {
    sql(db, 'INSERT INTO applications (event_id, times) VALUES (?, 1) ON CONFLICT (event_id) DO UPDATE SET times = times + 1').run(event.metadata.eventId);
    sql(db, 'INSERT INTO notes (note_id, user_id, position) VALUES (?, ?, ?)').run(event.data.noteId, event.data.userId, event.position);
  },
});

const dump = (db: Database.Database) => ({
  notes: db.prepare('SELECT note_id, user_id, position FROM notes ORDER BY position').all(),
  applications: db.prepare('SELECT event_id, times FROM applications ORDER BY event_id').all(),
});
const notesOf = (db: ProjectionDatabase, userId: string) => (db.prepare('SELECT count(*) AS n FROM notes WHERE user_id = ?').get(userId) as { n: number }).n;

/** A logger that keeps its warnings, for the reason a projector gives. */
function recordingLogger(): Logger & { warnings: string[] } {
  const warnings: string[] = [];
  return { ...silentLogger, warnings, warn: (_obj: object, msg?: string) => void (msg && warnings.push(msg)) };
}

describe('a projector on a stream that went backwards (a crash that lost its tail, a restored copy of the store)', () => {
  let nats: NatsHandle;
  let store: EventStore;
  const dir = mkdtempSync(join(tmpdir(), 'backward-log-test-'));

  const writeNotes = async (count: number, userId: string) => {
    let position = 0;
    for (let i = 0; i < count; i++) {
      const noteId = randomUUID();
      ({ position } = await retry(() => store.append(subjects.note(noteId), newEvent(NoteCreated, { noteId, userId, title: 't', text: '' }, { actor }))));
    }
    return position;
  };
  const writeOthers = async (count: number) => {
    let position = 0;
    for (let i = 0; i < count; i++) {
      const invocationId = randomUUID();
      const denial = { invocationId, tool: 't', userId: null, clientId: null, grantId: null, reason: 'insufficient_scope' as const, requiredScopes: ['s'] };
      ({ position } = await retry(() => store.append(subjects.toolInvocation(invocationId), newEvent(ToolDenied, denial, { actor }))));
    }
    return position;
  };
  /** What a projection must hold: the stream as it is now, replayed into a fresh file. */
  const rebuiltFromStream = async (name: string) => {
    const file = join(dir, `${name}-rebuilt.sqlite`);
    await rebuildProjections({ store, file, projections: [notes] });
    const db = new Database(file, { readonly: true });
    const tables = dump(db);
    db.close();
    return tables;
  };

  before(async () => {
    nats = await startNats({ restartable: true });
    store = await EventStore.connect({ servers: nats.url, connectionName: 'backward-log-test' });
  });
  after(async () => {
    await store?.close();
    await nats?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('running, it notices when NATS comes back shorter, rebuilds, and applies the events then written at the lost positions', async () => {
    const logger = recordingLogger();
    const projector = new Projector({ store, file: join(dir, 'live.sqlite'), projections: [notes], logger });
    projector.start();
    try {
      assert.ok(await projector.waitFor(await writeNotes(5, 'kept'), 5_000));
      const copy = await nats.copyStore();
      const lostEnd = await writeNotes(10, 'lost');
      assert.ok(await projector.waitFor(lostEnd, 5_000));

      await nats.restoreStore(copy);
      // Written at the positions of lost events, which a projector trusting its checkpoint would pass over.
      const newEnd = await writeNotes(3, 'new');
      assert.ok(newEnd < lostEnd, `the new events reuse lost positions (${newEnd} < ${lostEnd})`);
      await eventually(() => notesOf(projector.db, 'new') === 3 && projector.isCaughtUp(), 10_000);
      assert.equal(notesOf(projector.db, 'lost'), 0, 'what the stream lost is gone from the projection');
      assert.deepEqual(dump(projector.db), await rebuiltFromStream('live'));
      assert.ok(logger.warnings.some((w) => /rebuilding the projection from sequence 1: the stream ends at \d+, before this projection's checkpoint/.test(w)), logger.warnings.join('\n'));
      assert.equal(await projector.waitFor(newEnd, 1_000), true);
    } finally {
      await projector.stop();
    }
  });

  test('started on a stream that lost events and has written others at their positions since, it rebuilds', async () => {
    const file = join(dir, 'restarted.sqlite');
    const first = new Projector({ store, file, projections: [notes] });
    first.start();
    assert.ok(await first.waitFor(await writeNotes(3, 'kept-2'), 5_000));
    const copy = await nats.copyStore();
    const checkpoint = await writeNotes(10, 'lost-2');
    assert.ok(await first.waitFor(checkpoint, 5_000));
    await first.stop();

    await nats.restoreStore(copy);
    const end = await writeNotes(12, 'new-2');
    assert.ok(end > checkpoint, 'the stream is longer than the checkpoint again: only the event there tells');
    const logger = recordingLogger();
    const second = new Projector({ store, file, projections: [notes], logger });
    second.start();
    try {
      assert.ok(await second.waitFor(end, 5_000));
      assert.equal(notesOf(second.db, 'new-2'), 12);
      assert.equal(notesOf(second.db, 'lost-2'), 0);
      assert.deepEqual(dump(second.db), await rebuiltFromStream('restarted'));
      assert.ok(logger.warnings.some((w) => w.includes(`the stream holds another event at this projection's checkpoint ${checkpoint}`)), logger.warnings.join('\n'));
    } finally {
      await second.stop();
    }
  });

  test("a filtered projector's checkpoint proven among other aggregates' events records the event there, and is checked the same way", async () => {
    const file = join(dir, 'filtered.sqlite');
    const copy = await nats.copyStore();
    await writeNotes(1, 'lost-3');
    const proven = await writeOthers(5);
    const first = new Projector({ store, file, projections: [notes] });
    first.start();
    // The notes projector asks NATS for notes only: the position of the last tool denial is proven, not delivered.
    assert.ok(await first.waitFor(proven, 5_000));
    await first.stop();
    const db = new Database(file, { readonly: true });
    const recorded = readCheckpoint(db);
    db.close();
    assert.equal(recorded.position, proven);
    assert.equal(recorded.event, await store.eventAt(proven), 'the checkpoint names the event the stream holds at the proven position');

    await nats.restoreStore(copy);
    await writeOthers(4);
    // A note at the old checkpoint's position, then the stream goes on past it.
    const hidden = await writeNotes(1, 'hidden');
    const end = await writeOthers(2);
    assert.ok(hidden <= proven && end > proven);
    const logger = recordingLogger();
    const second = new Projector({ store, file, projections: [notes], logger });
    second.start();
    try {
      assert.ok(await second.waitFor(end, 5_000));
      assert.equal(notesOf(second.db, 'hidden'), 1, 'the note written at a lost position is applied');
      assert.equal(notesOf(second.db, 'lost-3'), 0);
      assert.ok(logger.warnings.some((w) => w.includes('holds another event')), logger.warnings.join('\n'));
    } finally {
      await second.stop();
    }
  });

  test('an append retried after the loss, stored again at the position it had, is not taken for the event it was there', async () => {
    const file = join(dir, 'retried.sqlite');
    const copy = await nats.copyStore();
    await writeNotes(1, 'lost-4');
    const noteId = randomUUID();
    const retried = newEvent(NoteCreated, { noteId, userId: 'retried', title: 't', text: '' }, { actor });
    const { position: checkpoint } = await store.append(subjects.note(noteId), retried);
    const first = new Projector({ store, file, projections: [notes] });
    first.start();
    assert.ok(await first.waitFor(checkpoint, 5_000));
    await first.stop();

    await nats.restoreStore(copy);
    await writeNotes(1, 'new-4');
    // The same event id (a client retrying with the same message id), at the same position, with another before it.
    const { position: again } = await retry(() => store.append(subjects.note(noteId), retried));
    assert.equal(again, checkpoint);
    const logger = recordingLogger();
    const second = new Projector({ store, file, projections: [notes], logger });
    second.start();
    try {
      assert.ok(await second.waitFor(again, 5_000));
      assert.equal(notesOf(second.db, 'new-4'), 1);
      assert.equal(notesOf(second.db, 'lost-4'), 0);
      assert.ok(logger.warnings.some((w) => w.includes('holds another event')), logger.warnings.join('\n'));
    } finally {
      await second.stop();
    }
  });

  test('a checkpoint that does not say which event it stands at (a file of an earlier version) is rebuilt, once', async () => {
    const file = join(dir, 'earlier-version.sqlite');
    const first = new Projector({ store, file, projections: [notes] });
    first.start();
    const end = await writeNotes(2, 'old-file');
    assert.ok(await first.waitFor(end, 5_000));
    await first.stop();
    const db = new Database(file);
    db.prepare("DELETE FROM projector_meta WHERE key = 'checkpoint_event'").run();
    db.close();

    const logger = recordingLogger();
    const second = new Projector({ store, file, projections: [notes], logger });
    second.start();
    assert.ok(await second.waitFor(end, 5_000));
    await eventually(() => second.isCaughtUp(), 5_000);
    await second.stop();
    assert.ok(logger.warnings.some((w) => w.includes('does not record which event it is')), logger.warnings.join('\n'));

    const quiet = recordingLogger();
    const third = new Projector({ store, file, projections: [notes], logger: quiet });
    third.start();
    assert.ok(await third.waitFor(end, 5_000));
    await eventually(() => third.isCaughtUp(), 5_000);
    await third.stop();
    assert.deepEqual(quiet.warnings, [], 'the rebuilt file records its event and is trusted');
  });

  test('a credential position the stream acknowledged before it lost its tail is made up once the projection has caught up, at once', async () => {
    const projector = new Projector({ store, file: join(dir, 'credential.sqlite'), projections: [notes] });
    projector.start();
    try {
      const copy = await nats.copyStore();
      // This client saw these acknowledged: it knows the stream reached that far.
      const lost = await writeNotes(5, 'lost-credential');
      assert.ok(await projector.waitFor(lost, 5_000));
      assert.equal(await reachCredentialPosition(store, projector, lost, 1_000), 'applied');

      await nats.restoreStore(copy);
      await eventually(() => store.connected && projector.isCaughtUp() && projector.hasApplied(projector.position), 10_000);
      const started = Date.now();
      assert.equal(await reachCredentialPosition(store, projector, lost, 3_000), 'made-up');
      assert.ok(Date.now() - started < 1_000, 'without waiting for a position the stream no longer has');
    } finally {
      await projector.stop();
    }
  });
});
