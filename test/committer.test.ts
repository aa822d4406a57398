import { copyFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import { Committer, openDatabase } from '../shared/db.js';
import { LOOP_IDLE_SHARE, LOOP_SYNC_MAX_MS, syncOnLoopNow } from '../shared/wal-sync.js';
import { tempDir, until } from './helpers/cluster.js';

const SCHEMA = 'CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v TEXT NOT NULL);';

function setup(
  teardown: (fn: () => unknown) => void,
  durability: 'relaxed' | 'fsync' = 'relaxed',
  opts: { syncOnLoopWhenIdle?: boolean } = {},
) {
  const db = openDatabase(tempDir(teardown), 'test.db', durability, SCHEMA);
  const c = new Committer(db, opts);
  teardown(() => {
    c.stop();
    db.close();
  });
  const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
  const count = () => (db.prepare('SELECT count(*) AS n FROM t').get() as { n: number }).n;
  return { db, c, insert, count };
}

t.test(
  'a full disk: writes wait for space, refusable ones are refused, nothing stops',
  async (t) => {
    const { db, c, insert, count } = setup(t.teardown);
    const failures: Error[] = [];
    const changes: boolean[] = [];
    c.onFailure = (err) => failures.push(err);
    c.onDiskFull = (full) => changes.push(full);
    // as SQLite sees a full disk: no page may be added to the file
    const pages = db.pragma('page_count', { simple: true }) as number;
    db.pragma(`max_page_count = ${pages}`);
    const big = 'x'.repeat(64 * 1024);
    const waited: string[] = [];
    let refused: Error | undefined;
    c.write(
      () => insert.run(big),
      () => waited.push('kept'),
    );
    c.write(
      () => insert.run(big),
      (err) => (refused = err),
      { refusable: true },
    );
    await until(() => c.full, 5000, 'the disk to be seen full');
    t.same(changes, [true]);
    t.match(String(refused), /full/, 'the refusable write was told at once');
    t.same(waited, [], 'the other write waits, its promise not given');
    t.equal(count(), 0, 'nothing committed');
    let afterFull = false;
    c.afterCommit(() => (afterFull = true));
    t.notOk(afterFull, 'afterCommit waits for space too');
    db.pragma('max_page_count = 1000000');
    await until(() => !c.full, 5000, 'space to be noticed');
    t.same(changes, [true, false]);
    await until(() => waited.length === 1 && afterFull, 5000, 'the waiting promises');
    t.equal(count(), 1, 'the kept write committed once, the refused one never');
    t.same(failures, [], 'no fail-stop');
    t.equal(db.pragma('quick_check', { simple: true }), 'ok');
  },
);

t.test(
  'a full disk noticed by a refusable write alone is probed until space returns',
  async (t) => {
    const { db, c, insert, count } = setup(t.teardown);
    const pages = db.pragma('page_count', { simple: true }) as number;
    db.pragma(`max_page_count = ${pages}`);
    let refused: Error | undefined;
    c.write(
      () => insert.run('y'.repeat(64 * 1024)),
      (err) => (refused = err),
      { refusable: true },
    );
    await until(() => refused, 5000, 'the refusal');
    t.ok(c.full);
    db.pragma('max_page_count = 1000000');
    await until(() => !c.full, 5000, 'the probe to succeed');
    t.equal(count(), 0);
  },
);

t.test('any other failed commit stops the process (fail-stop)', async (t) => {
  const { c, insert, count } = setup(t.teardown);
  const failures: Error[] = [];
  c.onFailure = (err) => failures.push(err);
  const outcomes: Array<string | undefined> = [];
  c.write(
    () => insert.run('fine'),
    (err) => outcomes.push(err?.message),
  );
  c.write(
    () => {
      throw new Error('an I/O error');
    },
    (err) => outcomes.push(err?.message),
  );
  await until(() => failures.length === 1, 5000, 'onFailure');
  t.same(outcomes, ['an I/O error', 'an I/O error'], 'every promise of the batch is told');
  t.equal(count(), 0, 'the batch was rolled back whole');
  t.notOk(c.full);
});

t.test('with DURABILITY=fsync a promise waits for the WAL sync, off the event loop', async (t) => {
  const { db, c, insert } = setup(t.teardown, 'fsync');
  const order: string[] = [];
  c.write(
    () => insert.run('a'),
    (err) => order.push(err ? `a failed ${err.message}` : 'a'),
  );
  c.flush();
  t.same(order, [], 'the commit returned before its promise: the sync runs on the thread pool');
  t.equal(db.pragma('synchronous', { simple: true }), 2, 'the connection stays FULL for others');
  // committed during the first sync: shares the next one, and its promise comes after a's
  c.write(
    () => insert.run('b'),
    () => order.push('b'),
  );
  c.flush();
  let barrier = false;
  c.afterCommit(() => (barrier = true));
  t.notOk(barrier, 'afterCommit waits for the commits still syncing');
  await until(() => order.length === 2 && barrier, 5000, 'both promises');
  t.same(order, ['a', 'b'], 'promises in commit order');
  let now = false;
  c.afterCommit(() => (now = true));
  t.ok(now, 'with nothing committing, afterCommit runs at once');
});

t.test('a quiet process may sync on its event loop, a busy one on the thread pool', async (t) => {
  const { c, insert } = setup(t.teardown, 'fsync', { syncOnLoopWhenIdle: true });
  /** Commits a row; returns whether its promise went out yet. */
  const commit = () => {
    let sent = false;
    c.write(
      () => insert.run('x'),
      () => (sent = true),
    );
    c.flush();
    return () => sent;
  };
  const first = commit();
  t.notOk(first(), 'the first sync, with no measure of the loop yet, runs on the pool');
  await until(first, 5000, 'the first promise');
  // a sync slower than LOOP_SYNC_MAX_MS (a disk other processes share) rightly keeps the next
  // one on the pool: a few idle spells give the disk the chance of a quick one
  let onLoop = false;
  for (let i = 0; i < 20 && !onLoop; i++) {
    await new Promise((r) => setTimeout(r, 50));
    const sent = commit();
    onLoop = sent();
    if (!onLoop) await until(sent, 5000, 'a promise synced on the pool');
  }
  t.ok(onLoop, 'after an idle spell the promise went out within the flush: synced on the loop');
  const spinUntil = performance.now() + 50;
  while (performance.now() < spinUntil); // the loop busy throughout
  const busy = commit();
  t.notOk(busy(), 'after a busy spell the sync runs on the pool');
  await until(busy, 5000, 'its promise');
});

t.test('a sync runs on the loop only when the loop was quiet and the last sync quick', (t) => {
  t.ok(syncOnLoopNow(0.01, 0.3), 'a quiet loop, a quick disk');
  t.ok(syncOnLoopNow(LOOP_IDLE_SHARE, LOOP_SYNC_MAX_MS), 'both at their limit');
  t.notOk(syncOnLoopNow(LOOP_IDLE_SHARE + 0.01, 0.3), 'a loop busier than that keeps the pool');
  t.notOk(syncOnLoopNow(0.01, LOOP_SYNC_MAX_MS + 1), 'after a slow sync, the pool again');
  t.end();
});

t.test('a batch no promise waits for starts no sync; the next sync covers it', async (t) => {
  const { c, insert } = setup(t.teardown, 'fsync');
  let flushed = 0;
  c.onFlushed = () => flushed++;
  c.defer(() => insert.run('deferred'));
  c.flush();
  t.equal(c.commits, 1, 'the deferred write committed');
  t.equal(c.syncs, 0, 'and started no sync of its own');
  t.equal(flushed, 1, 'the flush still ends with onFlushed (outbound frames leave)');
  let synced = false;
  c.afterCommit(() => (synced = true));
  t.notOk(synced, 'afterCommit waits: a commit is not on disk yet');
  await until(() => synced, 5000, 'the quiet commit synced');
  t.equal(c.syncs, 1, 'one sync covered it');
  c.write(
    () => insert.run('promised'),
    () => undefined,
  );
  c.flush();
  t.equal(c.syncs, 2, 'a batch with a promise starts its sync at once');
  let now = false;
  await until(
    () => {
      c.afterCommit(() => (now = true));
      return now;
    },
    5000,
    'everything synced',
  );
  // a quiet commit while a promised one still syncs: its frames wait for that sync's end
  c.write(
    () => insert.run('syncing'),
    () => undefined,
  );
  c.flush();
  const before = flushed;
  c.defer(() => insert.run('quiet'));
  c.flush();
  t.equal(flushed, before, 'no frames leave while an earlier commit is not on disk');
  await until(() => flushed > before, 5000, 'the sync ended and the frames left');
  c.defer(() => insert.run('at close'));
  c.flushSync();
  t.equal(c.syncs, 4, 'closing syncs a commit nothing waited for');
});

t.test(
  'a fenced committer sends no promise for a batch whose sync ends after the fence',
  async (t) => {
    const db = openDatabase(tempDir(t.teardown), 'test.db', 'fsync', SCHEMA);
    const c = new Committer(db);
    t.teardown(() => db.close());
    const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
    let mayAct = true;
    c.fence = () => mayAct;
    let promised = false;
    c.write(
      () => insert.run('x'),
      () => (promised = true),
    );
    c.flush();
    mayAct = false;
    c.stop();
    t.notOk(promised, 'no promise from a process that may no longer act');
    const rows = db.prepare('SELECT count(*) AS n FROM t').get() as { n: number };
    t.equal(rows.n, 1, 'the row itself is in the file, as after a crash past its commit');
  },
);

t.test('closing drains the pending syncs and runs their promises', async (t) => {
  const db = openDatabase(tempDir(t.teardown), 'test.db', 'fsync', SCHEMA);
  const c = new Committer(db);
  t.teardown(() => db.close());
  const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
  const done: string[] = [];
  for (const v of ['1', '2', '3']) {
    c.write(
      () => insert.run(v),
      () => done.push(v),
    );
    c.flush();
  }
  c.flushSync();
  t.same(done, ['1', '2', '3'], 'every promise ran before close returned');
  c.stop();
});

t.test('a page size is given to a new file only; an existing file keeps its own', (t) => {
  const dir = tempDir(t.teardown);
  const pageSize = (db: ReturnType<typeof openDatabase>) =>
    db.pragma('page_size', { simple: true });
  const made = openDatabase(dir, 'p.db', 'relaxed', SCHEMA, { pageSize: 16_384 });
  t.equal(pageSize(made), 16_384);
  made.close();
  const reopened = openDatabase(dir, 'p.db', 'relaxed', SCHEMA, { pageSize: 8192 });
  t.equal(pageSize(reopened), 16_384, 'the file keeps the size it was made with');
  reopened.close();
  const plain = openDatabase(dir, 'q.db', 'relaxed', SCHEMA);
  t.equal(pageSize(plain), 4096, "SQLite's default without one");
  plain.close();
  t.end();
});

t.test('temporary storage is kept in memory when asked at the open', (t) => {
  const dir = tempDir(t.teardown);
  const tempStore = (db: ReturnType<typeof openDatabase>) =>
    db.pragma('temp_store', { simple: true });
  const memory = openDatabase(dir, 'm.db', 'relaxed', SCHEMA, { tempStore: 'memory' });
  t.equal(tempStore(memory), 2, 'MEMORY');
  memory.close();
  const plain = openDatabase(dir, 'f.db', 'relaxed', SCHEMA);
  t.equal(tempStore(plain), 0, "SQLite's default without it");
  plain.close();
  t.end();
});

t.test(
  'with DURABILITY=fsync the WAL starts at its working size and commits write over it',
  async (t) => {
    const dir = tempDir(t.teardown);
    const db = openDatabase(dir, 'w.db', 'fsync', SCHEMA);
    const c = new Committer(db);
    t.teardown(() => {
      c.stop();
      db.close();
    });
    const wal = () => statSync(join(dir, 'w.db-wal')).size;
    const working = 32 + 1000 * (4096 + 24);
    t.equal(wal(), working, 'wal_autocheckpoint frames of a 4 KiB page, at once');
    const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
    const commit = (v: string) =>
      new Promise<void>((resolve, reject) => {
        c.write(
          () => insert.run(v),
          (err) => (err ? reject(err) : resolve()),
        );
      });
    for (let i = 0; i < 50; i++) await commit(`before ${i}`);
    db.pragma('wal_checkpoint(PASSIVE)');
    for (let i = 0; i < 50; i++) await commit(`after ${i}`);
    t.equal(wal(), working, 'the commits, and a checkpoint between them, kept its size');
    // the files as a crash leaves them: the WAL's zeros are not taken for frames
    const copy = tempDir(t.teardown);
    for (const f of ['w.db', 'w.db-wal']) copyFileSync(join(dir, f), join(copy, f));
    const crashed = new Database(join(copy, 'w.db'));
    t.teardown(() => crashed.close());
    t.equal(crashed.pragma('integrity_check', { simple: true }), 'ok');
    const rows = crashed.prepare('SELECT v FROM t ORDER BY id').all() as Array<{ v: string }>;
    t.equal(rows.length, 100, 'every committed row is read back');
    t.equal(rows.at(-1)?.v, 'after 49');
    const relaxed = openDatabase(dir, 'r.db', 'relaxed', SCHEMA);
    t.ok(statSync(join(dir, 'r.db-wal')).size < working, 'relaxed: nothing to gain, left alone');
    relaxed.close();
  },
);
