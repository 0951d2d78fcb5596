import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { connect, headers } from '@nats-io/transport-node';
import { ClientReregistered, NoteCreated, NoteDeleted, ToolDenied, newEvent, subjects } from '@mcp-auth/contracts';
import { EventStore, silentLogger } from '@mcp-auth/event-store';
import { startNats, type NatsHandle } from '@mcp-auth/testing';
import { Projector, defineBatchProjection, defineProjection, filterSubjects, rebuildProjections, sql, type ProjectionDatabase } from '../src/index.ts';
import { eventually, retry } from './until.ts';

const actor = { kind: 'system', id: 'test' } as const;

/** Counts how often each event was applied: any count above 1 is a double application. */
const ledger = defineProjection({
  name: 'ledger',
  schema: `
    CREATE TABLE IF NOT EXISTS notes (note_id TEXT PRIMARY KEY, user_id TEXT NOT NULL, title TEXT NOT NULL, position INTEGER NOT NULL);
    CREATE TABLE IF NOT EXISTS applications (event_id TEXT PRIMARY KEY, times INTEGER NOT NULL);
  `,
  handles: ['NoteCreated', 'NoteDeleted'],
  apply(event, db) {
    sql(db, 'INSERT INTO applications (event_id, times) VALUES (?, 1) ON CONFLICT (event_id) DO UPDATE SET times = times + 1').run(event.metadata.eventId);
    if (event.type === 'NoteCreated') {
      sql(db, 'INSERT INTO notes (note_id, user_id, title, position) VALUES (?, ?, ?, ?)').run(event.data.noteId, event.data.userId, event.data.title, event.position);
    } else {
      sql(db, 'DELETE FROM notes WHERE note_id = ?').run(event.data.noteId);
    }
  },
});

const tableDump = (db: ProjectionDatabase) => ({
  notes: db.prepare('SELECT note_id, user_id, title, position FROM notes ORDER BY note_id').all(),
  applications: db.prepare('SELECT event_id, times FROM applications ORDER BY event_id').all(),
});

/** Notes a user has in a projection file, read through any connection. */
const notesOf = (db: Database.Database, userId: string) => (db.prepare('SELECT count(*) AS n FROM notes WHERE user_id = ?').get(userId) as { n: number }).n;
/** Events the file records as applied more than once: any is a double application. */
const appliedTwice = (db: Database.Database) => (db.prepare('SELECT count(*) AS n FROM applications WHERE times > 1').get() as { n: number }).n;

describe('the subjects a projector asks NATS for', () => {
  test('a context whose every aggregate is projected is one subject (all NATS 2.9 can filter on); others each their own', () => {
    assert.deepEqual(filterSubjects(new Set(['registration.client', 'registration.registrants'])), ['events.registration.>']);
    assert.deepEqual(filterSubjects(new Set(['registration.client', 'token.grant', 'token.key', 'token.assertion'])), ['events.registration.client.>', 'events.token.>']);
    assert.deepEqual(filterSubjects(new Set(['token.grant', 'token.key'])), ['events.token.grant.>', 'events.token.key.>']);
    assert.deepEqual(filterSubjects(new Set(['mcp.note'])), ['events.mcp.note.>']);
  });
});

describe('projector on a real nats-server and real SQLite files', () => {
  let nats: NatsHandle;
  let store: EventStore;
  const dir = mkdtempSync(join(tmpdir(), 'projector-test-'));
  const written: number[] = [];

  async function writeNotes(count: number, userId = 'u'): Promise<number> {
    let position = 0;
    for (let i = 0; i < count; i++) {
      const noteId = randomUUID();
      ({ position } = await store.append(subjects.note(noteId), newEvent(NoteCreated, { noteId, userId, title: `n${i}`, text: '' }, { actor })));
      written.push(position);
    }
    return position;
  }

  before(async () => {
    nats = await startNats({ restartable: true });
    store = await EventStore.connect({ servers: nats.url, connectionName: 'projector-test' });
  });
  after(async () => {
    await store?.close();
    await nats?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('waitFor resolves once the position is applied, and times out when it is not', async () => {
    const projector = new Projector({ store, file: join(dir, 'wait.sqlite'), projections: [ledger] });
    projector.start();
    const position = await writeNotes(3);
    assert.equal(await projector.waitFor(position, 5_000), true);
    assert.equal((projector.db.prepare('SELECT count(*) AS n FROM notes').get() as { n: number }).n, 3);
    const started = Date.now();
    assert.equal(await projector.waitFor(position + 1_000, 200), false);
    assert.ok(Date.now() - started >= 190);
    assert.equal(projector.isCaughtUp(), true);
    await projector.stop();
  });

  test('after a stop and restart it resumes from the checkpoint and applies no event twice', async () => {
    const file = join(dir, 'resume.sqlite');
    const first = new Projector({ store, file, projections: [ledger] });
    first.start();
    const mid = await writeNotes(20);
    assert.ok(await first.waitFor(mid, 5_000));
    await first.stop();
    const end = await writeNotes(20);
    const second = new Projector({ store, file, projections: [ledger] });
    assert.equal(second.position, mid, 'starts at its checkpoint');
    second.start();
    assert.ok(await second.waitFor(end, 5_000));
    const { applications } = tableDump(second.db);
    assert.equal(applications.length, written.length);
    assert.ok(applications.every((a) => (a as { times: number }).times === 1), 'every event applied exactly once');
    await second.stop();
  });

  test('a damaged projection file (power loss while written without fsync) is rebuilt from the stream', async () => {
    const file = join(dir, 'damaged.sqlite');
    const first = new Projector({ store, file, projections: [ledger] });
    first.start();
    const end = await writeNotes(5);
    assert.ok(await first.waitFor(end, 5_000));
    const live = tableDump(first.db);
    await first.stop();
    // Garbage over the pages after the header, as a torn write would leave them.
    const bytes = readFileSync(file);
    writeFileSync(file, Buffer.concat([bytes.subarray(0, 100), Buffer.alloc(bytes.length - 100, 0xa5)]));

    const second = new Projector({ store, file, projections: [ledger] });
    assert.equal(second.position, 0, 'starts over from sequence 1');
    second.start();
    assert.ok(await second.waitFor(end, 5_000));
    assert.deepEqual(tableDump(second.db), live);
    await second.stop();
  });

  test('events applied together reach the file in one commit, within moments, and a crash before it loses nothing', async () => {
    const file = join(dir, 'group.sqlite');
    const projector = new Projector({ store, file, projections: [ledger] });
    projector.start();
    const end = await writeNotes(30, 'grouped');
    assert.ok(await projector.waitFor(end, 5_000));
    // This connection, which the read models use, reads the events as soon as they are applied.
    assert.equal(notesOf(projector.db, 'grouped'), 30);
    // Another connection sees them once the group is committed, a few tens of milliseconds later.
    const other = new Database(file, { readonly: true });
    await eventually(() => notesOf(other, 'grouped') === 30, 2_000);
    other.close();

    // A crash between applying and committing: the file keeps its last commit, and the stream gives back the rest.
    const more = await writeNotes(10, 'grouped');
    assert.ok(await projector.waitFor(more, 5_000));
    projector.db.close(); // rolls back what is not committed, as a killed process would leave it
    await projector.stop();
    const resumed = new Projector({ store, file, projections: [ledger] });
    assert.ok(resumed.position >= end && resumed.position <= more, `resumes from its last commit (${resumed.position})`);
    resumed.start();
    assert.ok(await resumed.waitFor(more, 5_000));
    assert.equal(notesOf(resumed.db, 'grouped'), 40);
    assert.equal(appliedTwice(resumed.db), 0, 'no event applied twice');
    await resumed.stop();
  });

  test('a commit the file refuses (disk full, I/O error) is undone and its events applied again; nothing is lost or doubled', async () => {
    const file = join(dir, 'refused-commit.sqlite');
    const projector = new Projector({ store, file, projections: [ledger] });
    // One injected failure at the next COMMIT; everything else is the real SQLite file.
    const realExec = projector.db.exec.bind(projector.db);
    let failures = 0;
    projector.db.exec = ((source: string) => {
      if (source === 'COMMIT' && failures === 0) {
        failures++;
        throw new Error('disk I/O error (injected)');
      }
      return realExec(source);
    }) as typeof projector.db.exec;
    projector.start();
    const end = await writeNotes(20, 'refused');
    const other = new Database(file, { readonly: true });
    await eventually(() => notesOf(other, 'refused') === 20, 5_000);
    assert.equal(failures, 1, 'the injected failure happened');
    assert.equal(appliedTwice(other), 0, 'no event applied twice');
    assert.equal(Number((other.prepare("SELECT value FROM projector_meta WHERE key = 'position'").get() as { value: string }).value) >= end, true);
    other.close();
    assert.ok(await projector.waitFor(end, 1_000));
    await projector.stop();
  });

  test('an event a projection cannot apply is recorded as skipped; the rest of its batch and earlier batches are kept', async () => {
    const fragile = defineProjection({
      ...ledger,
      name: 'ledger-fragile',
      apply(event, db) {
        if (event.type === 'NoteCreated' && event.data.title === 'poison') throw new Error('cannot apply this one');
        ledger.apply(event as never, db);
      },
    });
    const projector = new Projector({ store, file: join(dir, 'fragile.sqlite'), projections: [fragile] });
    projector.start();
    const before = await writeNotes(5, 'fragile');
    assert.ok(await projector.waitFor(before, 5_000));
    // One turn of the event loop: these arrive, and are applied, as one batch.
    const appended = await Promise.all(
      ['a', 'poison', 'b'].map((title) => {
        const noteId = randomUUID();
        return store.append(subjects.note(noteId), newEvent(NoteCreated, { noteId, userId: 'fragile', title, text: '' }, { actor }));
      }),
    );
    const last = Math.max(...appended.map((a) => a.position));
    assert.ok(await projector.waitFor(last, 5_000));
    const titles = (projector.db.prepare("SELECT title FROM notes WHERE user_id = 'fragile' ORDER BY position").all() as Array<{ title: string }>).map((r) => r.title);
    assert.deepEqual(titles.slice(0, 5), ['n0', 'n1', 'n2', 'n3', 'n4'], 'earlier, uncommitted batches survive the failed batch');
    assert.deepEqual(titles.slice(5).sort(), ['a', 'b']);
    const skipped = projector.db.prepare('SELECT type, reason FROM projector_skipped_events').all() as Array<{ type: string; reason: string }>;
    assert.equal(skipped.length, 1);
    assert.equal(skipped[0]!.type, 'NoteCreated');
    assert.match(skipped[0]!.reason, /cannot apply this one/);
    await projector.stop();
  });

  test('a batch projection gets consecutive events in groups of at most 64, in order; a group it cannot apply is retried event by event', async () => {
    const groups = defineBatchProjection({
      name: 'groups',
      schema: `
        CREATE TABLE IF NOT EXISTS grouped_notes (position INTEGER PRIMARY KEY, title TEXT NOT NULL, group_no INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS note_groups (group_no INTEGER PRIMARY KEY AUTOINCREMENT, size INTEGER NOT NULL);
      `,
      handles: ['NoteCreated'],
      applyBatch(events, db) {
        // Its own poison: the stream holds other tests' events, read from sequence 1 too.
        if (events.length > 1 && events.some((e) => e.data.title === 'group poison')) throw new Error('cannot apply this group');
        if (events.length === 1 && events[0]!.data.title === 'group poison') throw new Error('cannot apply this one');
        const group = Number(sql(db, 'INSERT INTO note_groups (size) VALUES (?)').run(events.length).lastInsertRowid);
        for (const e of events) sql(db, 'INSERT INTO grouped_notes (position, title, group_no) VALUES (?, ?, ?)').run(e.position, e.data.title, group);
      },
    });
    const from = (await store.streamState()).lastSequence;
    const appendNotes = async (titles: string[]) => {
      const appended = await Promise.all(
        titles.map((title) => {
          const noteId = randomUUID();
          return store.append(subjects.note(noteId), newEvent(NoteCreated, { noteId, userId: 'batched', title, text: '' }, { actor }));
        }),
      );
      return Math.max(...appended.map((a) => a.position));
    };
    const groupedTitles = (db: ProjectionDatabase) =>
      db.prepare('SELECT position, title, group_no FROM grouped_notes WHERE position > ? ORDER BY position').all(from) as Array<{ position: number; title: string; group_no: number }>;
    // A backlog: the projector, started after it, reads it in large batches.
    const backlog = Array.from({ length: 300 }, (_, i) => `g${i}`);
    const end = await appendNotes(backlog);
    const projector = new Projector({ store, file: join(dir, 'groups.sqlite'), projections: [groups, ledger] });
    try {
      projector.start();
      assert.ok(await projector.waitFor(end, 5_000));
      const rows = groupedTitles(projector.db);
      assert.deepEqual(rows.map((r) => r.title).sort(), [...backlog].sort());
      const groupsInOrder = rows.map((r) => r.group_no);
      assert.deepEqual(groupsInOrder, [...groupsInOrder].sort((a, b) => a - b), 'groups follow the stream order');
      const sizes = (projector.db.prepare('SELECT size FROM note_groups').all() as Array<{ size: number }>).map((r) => r.size);
      assert.ok(Math.max(...sizes) > 1, `events were grouped (sizes ${sizes.join(',')})`);
      assert.ok(Math.max(...sizes) <= 64, 'no group is larger than 64');

      // One turn of the event loop: these arrive as one batch, whose group fails, then event by event.
      const last = await appendNotes(['a', 'group poison', 'b']);
      assert.ok(await projector.waitFor(last, 5_000));
      assert.deepEqual(groupedTitles(projector.db).slice(300).map((r) => r.title).sort(), ['a', 'b']);
      assert.equal(notesOf(projector.db, 'batched'), 302, 'the event that cannot be applied is skipped by every projection, the rest are kept');
      const skipped = projector.db.prepare('SELECT reason FROM projector_skipped_events WHERE position > ?').all(from) as Array<{ reason: string }>;
      assert.equal(skipped.length, 1);
      assert.match(skipped[0]!.reason, /cannot apply this one/);
    } finally {
      await projector.stop();
    }
  });

  test('skips unknown types, newer versions and garbage without crashing, and goes on', async () => {
    const projector = new Projector({ store, file: join(dir, 'skip.sqlite'), projections: [ledger] });
    projector.start();
    const h = headers();
    h.set('Event-Type', 'NoteCreated');
    const plain = await connect({ servers: nats.url });
    const garbage = await plain.request('events.mcp.note.garbage', 'not json', { timeout: 2_000, headers: h }).finally(() => plain.close());
    assert.ok(garbage.data.length > 0);
    const future = { ...newEvent(NoteCreated, { noteId: 'f', userId: 'u', title: 't', text: '' }, { actor }) };
    future.metadata.schemaVersion = 99;
    await store.append(subjects.note('future'), future);
    await store.append(subjects.note('alien'), { type: 'SomethingNew', data: {}, metadata: { ...future.metadata, eventId: randomUUID(), schemaVersion: 1 } });
    const position = await writeNotes(1, 'after-garbage');
    assert.ok(await projector.waitFor(position, 5_000));
    assert.equal(projector.stats().skipped, 3);
    assert.equal((projector.db.prepare("SELECT count(*) AS n FROM notes WHERE user_id = 'after-garbage'").get() as { n: number }).n, 1);
    await projector.stop();
  });

  test('keeps projecting across a nats-server restart', async () => {
    const projector = new Projector({ store, file: join(dir, 'restart.sqlite'), projections: [ledger] });
    projector.start();
    assert.ok(await projector.waitFor(await writeNotes(2), 5_000));
    await nats.restart({ kill: true });
    const after = await retry(() => writeNotes(2));
    assert.ok(await projector.waitFor(after, 15_000), 'applies events written after the restart');
    await projector.stop();
  });

  test('says whether a consumer follows the stream: not while NATS is away, again once it is back', async () => {
    const projector = new Projector({ store, file: join(dir, 'following.sqlite'), projections: [ledger] });
    projector.start();
    try {
      assert.ok(await projector.waitFor(await writeNotes(1), 5_000));
      await eventually(() => projector.stats().following, 5_000);
      const outage = nats.restart({ kill: true, downtimeMs: 1_500 });
      await eventually(() => !projector.stats().following, 5_000);
      await outage;
      const after = await retry(() => writeNotes(1));
      assert.ok(await projector.waitFor(after, 15_000));
      await eventually(() => projector.stats().following, 5_000);
    } finally {
      await projector.stop();
    }
  });

  test('query-only indexes: a fresh file builds them at catch-up, a file with applied events has them at open', async () => {
    const indexed = defineProjection({ ...ledger, name: 'ledger-indexed', queryIndexes: 'CREATE INDEX IF NOT EXISTS notes_by_user ON notes (user_id, position);' });
    const indexNames = (db: ProjectionDatabase) => (db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND name = 'notes_by_user'").all() as Array<{ name: string }>).map((r) => r.name);
    const end = await writeNotes(30, 'indexed');
    const file = join(dir, 'indexed.sqlite');
    const fresh = new Projector({ store, file, projections: [indexed] });
    assert.deepEqual(indexNames(fresh.db), [], 'not while the fresh file replays the stream');
    fresh.start();
    assert.ok(await fresh.waitFor(end, 5_000));
    assert.ok(fresh.isCaughtUp());
    assert.deepEqual(indexNames(fresh.db), ['notes_by_user'], 'built once caught up');
    const plan = fresh.db.prepare('EXPLAIN QUERY PLAN SELECT note_id FROM notes WHERE user_id = ? ORDER BY position').all('indexed') as Array<{ detail: string }>;
    assert.ok(plan.some((step) => step.detail.includes('notes_by_user')), JSON.stringify(plan));
    await fresh.stop();

    const reopened = new Projector({ store, file, projections: [indexed] });
    reopened.db.exec('DROP INDEX notes_by_user');
    await reopened.stop();
    const again = new Projector({ store, file, projections: [indexed] });
    assert.deepEqual(indexNames(again.db), ['notes_by_user'], 'a file that has applied events gets a missing index at open');
    await again.stop();
  });

  test('filtered to its own aggregates, it still reaches a position among other events, and skips none of its own', async () => {
    // The ledger projects notes only, so its consumer asks NATS for events.mcp.note.> alone (one subject: any server).
    const otherEvent = (i: number) => store.append(subjects.client(`client${i}`), newEvent(ClientReregistered, { clientId: `client${i}`, registrationTokenHash: `h${i}` }, { actor }));
    const end = await writeNotes(3, 'filtered');
    let last = 0;
    for (let i = 0; i < 5; i++) ({ position: last } = await otherEvent(i));
    const fresh = new Projector({ store, file: join(dir, 'filtered.sqlite'), projections: [ledger] });
    fresh.start();
    // The stream ends with events it is never sent: it learns it has caught up from NATS, not from a message.
    assert.equal(await fresh.waitFor(last, 2_000), true, 'a position among other aggregates is reached');
    assert.ok(fresh.isCaughtUp() && fresh.position >= last);
    assert.ok(written.every((p) => p > end || fresh.db.prepare('SELECT 1 FROM notes WHERE position = ?').get(p)), 'every note up to there applied');

    // Interleaved: a wait on another aggregate's position returns only once the notes before it are applied.
    const { position: noteBefore } = await store.append(subjects.note('between'), newEvent(NoteCreated, { noteId: 'between', userId: 'filtered', title: 'b', text: '' }, { actor }));
    const { position: other } = await otherEvent(99);
    assert.equal(await fresh.waitFor(other, 2_000), true);
    assert.ok(fresh.db.prepare('SELECT 1 FROM notes WHERE position = ?').get(noteBefore), 'the note before the other event is applied');

    // After a position was moved on without an event, the next note is applied all the same.
    const { position: after } = await store.append(subjects.note('after'), newEvent(NoteCreated, { noteId: 'after', userId: 'filtered', title: 'a', text: '' }, { actor }));
    assert.equal(await fresh.waitFor(after, 2_000), true);
    assert.ok(fresh.db.prepare('SELECT 1 FROM notes WHERE position = ?').get(after));
    assert.equal(await fresh.waitFor(after + 1_000, 150), false, 'a position the stream has not reached is not proven');
    await fresh.stop();
    written.push(noteBefore, after);
  });

  test('far behind, a projector filtered on several subjects catches up reading everything, then goes on filtered', async () => {
    // Notes and clients: two subjects, which NATS 2.10 filters on together (2.9 cannot: it reads everything).
    const notesAndClients = defineProjection({ ...ledger, name: 'notes-and-clients', handles: ['NoteCreated', 'NoteDeleted', 'ClientDeleted'] });
    const denial = (i: number) => ({ invocationId: `far-${i}`, tool: 't', userId: null, clientId: null, grantId: null, reason: 'insufficient_scope' as const, requiredScopes: ['s'] });
    for (let i = 0; i < 60; i++) await store.append(subjects.toolInvocation(`far-${i}`), newEvent(ToolDenied, denial(i), { actor }));
    const before = await writeNotes(5, 'far-behind');
    const told: string[] = [];
    const logger = { ...silentLogger, info: (_: object, msg?: string) => void (msg && told.push(msg)) };
    const projector = new Projector({ store, file: join(dir, 'far-behind.sqlite'), projections: [notesAndClients], unfilteredCatchUpBeyond: 20, logger });
    projector.start();
    try {
      assert.equal(await projector.waitFor(before, 5_000), true);
      // The operator is told once when the server makes every service read everything (a choice to catch up is not that).
      const unfilteredNotices = told.filter((m) => m.includes('filters a consumer on one subject only')).length;
      assert.equal(unfilteredNotices, store.canFilterOnSeveralSubjects ? 0 : 1, `notices on nats-server ${store.serverVersion}`);
      // It switches once caught up; then what it is sent is only its own, on a server that can filter on both.
      for (let i = 0; i < 50 && projector.stats().filtered !== store.canFilterOnSeveralSubjects; i++) await new Promise((r) => setTimeout(r, 20));
      assert.equal(projector.stats().filtered, store.canFilterOnSeveralSubjects, `filtered after catching up on nats-server ${store.serverVersion}`);
      const after = await writeNotes(3, 'far-behind');
      assert.equal(await projector.waitFor(after, 2_000), true);
      assert.equal(notesOf(projector.db, 'far-behind'), 8, 'every note applied, before and after the switch');
      assert.equal(appliedTwice(projector.db), 0);
    } finally {
      await projector.stop();
    }
  });

  test('a rebuild from sequence 1 into a fresh file equals the live projection', async () => {
    const live = new Projector({ store, file: join(dir, 'live.sqlite'), projections: [ledger] });
    live.start();
    const noteId = randomUUID();
    await store.append(subjects.note(noteId), newEvent(NoteCreated, { noteId, userId: 'del', title: 'gone', text: '' }, { actor }));
    await store.append(subjects.note(noteId), newEvent(NoteDeleted, { noteId, userId: 'del' }, { actor }));
    const end = await writeNotes(50);
    assert.ok(await live.waitFor(end, 5_000));
    const rebuiltFile = join(dir, 'rebuilt.sqlite');
    const stats = await rebuildProjections({ store, file: rebuiltFile, projections: [ledger] });
    assert.equal(stats.position, end);
    const rebuilt = new Projector({ store, file: rebuiltFile, projections: [ledger] });
    assert.deepEqual(tableDump(rebuilt.db), tableDump(live.db));
    await rebuilt.stop();
    await live.stop();
  });
});
