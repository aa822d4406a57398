import t from 'tap';
import { Committer, openDatabase } from '../shared/db.js';
import { tempDir, until } from './helpers/cluster.js';

const SCHEMA = 'CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v TEXT NOT NULL);';

function setup(teardown: (fn: () => unknown) => void, durability: 'relaxed' | 'fsync' = 'fsync') {
  const db = openDatabase(tempDir(teardown), 'test.db', durability, SCHEMA);
  const c = new Committer(db);
  teardown(() => {
    c.stop();
    db.close();
  });
  const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
  const write = (v: string, after: () => void, lazy: boolean) =>
    c.write(() => insert.run(v), after, { lazy });
  return { c, write };
}

t.test('a lazy write starts no sync at once; its promise waits for one', async (t) => {
  const { c, write } = setup(t.teardown);
  let acked = false;
  write('ack', () => (acked = true), true);
  c.flush();
  t.equal(c.commits, 1, 'committed in this tick');
  t.equal(c.syncs, 0, 'but no sync started for it');
  t.notOk(acked, 'its promise waits for the disk');
  await until(() => acked, 5000, 'the lazy write synced on its own');
  t.equal(c.syncs, 1, 'one sync, started by its wait');
});

t.test('a write with a waiting promise takes the lazy ones along', async (t) => {
  const { c, write } = setup(t.teardown);
  const done: string[] = [];
  write('ack', () => done.push('ack'), true);
  c.flush();
  write('ticket', () => done.push('ticket'), false);
  c.flush();
  t.equal(c.syncs, 1, 'the eager write started a sync at once');
  await until(() => done.length === 2, 5000, 'both promises ran');
  t.same(done, ['ack', 'ticket'], 'in commit order, after one sync');
  // had the first lazy write kept its own wait, its sync would come on top of this one's
  write('later', () => done.push('later'), true);
  c.flush();
  await until(() => done.length === 3, 5000, 'a later lazy write synced');
  t.equal(c.syncs, 2, 'no sync of its own for the lazy write that rode along');
});

t.test('a lazy write made while a sync runs waits for the next one', async (t) => {
  const { c, write } = setup(t.teardown);
  const done: string[] = [];
  let ackedWhenTicketRan: boolean | undefined;
  write(
    'ticket',
    () => {
      done.push('ticket');
      ackedWhenTicketRan = done.includes('ack');
    },
    false,
  );
  c.flush(); // its sync runs on the thread pool now
  write('ack', () => done.push('ack'), true);
  c.flush();
  await until(() => done.length === 2, 5000, 'both promises ran');
  t.equal(ackedWhenTicketRan, false, 'the running sync began before the lazy commit');
  t.equal(c.syncs, 2, 'a second sync covered the lazy write');
});

t.test('afterCommit waits for a lazy write to be on disk', async (t) => {
  const { c, write } = setup(t.teardown);
  const done: string[] = [];
  write('ack', () => done.push('ack'), true);
  c.flush();
  c.afterCommit(() => done.push('after'));
  t.equal(c.syncs, 1, 'asking starts the sync the lazy write waited for');
  await until(() => done.length === 2, 5000, 'both ran');
  t.same(done, ['ack', 'after']);
});

t.test('closing syncs the lazy writes and runs their promises', async (t) => {
  const db = openDatabase(tempDir(t.teardown), 'test.db', 'fsync', SCHEMA);
  t.teardown(() => db.close());
  const c = new Committer(db);
  let acked = false;
  c.write(
    () => db.prepare('INSERT INTO t (v) VALUES (?)').run('x'),
    () => (acked = true),
    { lazy: true },
  );
  c.flushSync();
  t.ok(acked, 'the promise ran before close returned');
  c.stop();
});

t.test('without a sync of its own (relaxed), a lazy write promises at its commit', async (t) => {
  const { c, write } = setup(t.teardown, 'relaxed');
  let acked = false;
  write('ack', () => (acked = true), true);
  c.flush();
  t.ok(acked);
});
