import t, { type Test } from 'tap';
import { JobStore, type JobRecord } from '../proxy/job-store.js';
import { PROXY_SCHEMA } from '../proxy/schema.js';
import { JobTable } from '../proxy/job-table.js';
import { UndeliveredResults } from '../proxy/undelivered.js';
import { Committer, openDatabase, type Db } from '../shared/db.js';
import { newTicket, taskTicket } from '../shared/ids.js';
import { JobSpecSchema, type JobSpec } from '../shared/job.js';
import { silentLogger } from '../shared/log.js';
import { tempDir } from './helpers/cluster.js';
import { finishedRecord } from './helpers/job-records.js';

const HOUR = 3_600_000;
const echo = JobSpecSchema.parse({ type: 'echo', args: ['x'] });
const twoTasks = JobSpecSchema.parse({
  tasks: [
    { type: 'echo', args: ['a'] },
    { type: 'echo', args: ['b'] },
  ],
});

/** The proxy's file in `dir` (a fresh one by default), its job store and group commit. */
function open(t: Test, dir = tempDir(t.teardown)) {
  const db = openDatabase(dir, 'proxy.db', 'relaxed', PROXY_SCHEMA);
  t.teardown(() => db.close());
  const committer = new Committer(db);
  const store = new JobStore(db, committer);
  const insert = (rows: JobRecord[]) => {
    for (const r of rows) store.insert({ ...r });
    committer.flush();
  };
  return { db, store, dir, insert };
}

/** A job submitted at `at`, finished 1 ms later (done) unless `open`. */
function job(at: number, o: { delivered?: boolean; spec?: JobSpec; open?: boolean } = {}) {
  const rec = finishedRecord({
    spec: o.spec ?? echo,
    submittedAt: at,
    seq: at,
    delivered: o.delivered ?? false,
    output: 'x',
  });
  if (o.open) Object.assign(rec, { state: 'queued', node: null, result: null, given: [] });
  return rec;
}

/** The tasks of `parent`, finished with it, never delivered by themselves. */
function tasksOf(parent: JobRecord): JobRecord[] {
  return [0, 1].map((i) => ({
    ...job(parent.submittedAt, { spec: echo }),
    id: taskTicket(parent.id, i),
    parent: parent.id,
    index: i,
  }));
}

const ids = (db: Db) =>
  new Set((db.prepare('SELECT id FROM jobs').all() as Array<{ id: string }>).map((r) => r.id));

t.test('the store: undelivered results past the TTL go, with their tasks and keys', (t) => {
  const { db, store, insert } = open(t);
  const now = Date.now();
  const old = now - 2 * HOUR;
  const gone = job(old, { spec: { ...echo, key: 'k-gone' } });
  const young = job(now - 1000);
  const unfinished = job(old, { open: true });
  const delivered = job(old, { delivered: true });
  const parent = job(old, { spec: twoTasks });
  const tasks = tasksOf(parent);
  // a task that ended long ago, while its job still runs (another task is not finished)
  const running = job(old, { spec: twoTasks, open: true });
  const [endedTask, openTask] = tasksOf(running) as [JobRecord, JobRecord];
  Object.assign(openTask, { state: 'queued', node: null, result: null });
  insert([gone, young, unfinished, delivered, parent, ...tasks, running, endedTask, openTask]);
  t.equal(store.keyTicket('k-gone'), gone.id);

  const found = store.undelivered.found(now - HOUR);
  t.same(found.map((r) => r.id).sort(), [gone.id, parent.id].sort(), 'only the old undelivered');
  t.equal(found.find((r) => r.id === parent.id)?.tasks, 2);
  t.equal(store.undelivered.delete(found), 4, 'two jobs and two tasks');

  const left = ids(db);
  for (const r of [gone, parent, ...tasks]) t.notOk(left.has(r.id), `${r.id} deleted`);
  t.ok(left.has(young.id), 'a younger result stays');
  t.ok(left.has(unfinished.id), 'an unfinished job stays');
  t.ok(left.has(running.id) && left.has(endedTask.id), 'a task goes only with its job');
  t.ok(left.has(delivered.id), 'a delivered result is the delivered expiry’s');
  t.equal(store.keyTicket('k-gone'), undefined, 'its key went with it');

  t.equal(store.expire(now - HOUR), 1, 'the delivered expiry still takes the delivered one');
  t.same(store.undelivered.found(now - HOUR), [], 'nothing more to find');
  t.end();
});

t.test('the store: the expiry mark only moves forward, and is kept across starts', (t) => {
  const { store, dir, db } = open(t);
  t.equal(store.undelivered.expiredBelow(), 0, 'a new file has expired nothing yet');
  store.undelivered.raiseBelow(5000);
  store.undelivered.raiseBelow(4000);
  t.equal(store.undelivered.expiredBelow(), 5000, 'never back');
  db.close();
  t.equal(open(t, dir).store.undelivered.expiredBelow(), 5000);
  t.end();
});

t.test('the expiry: memory lets go with the rows, and origins hear what expired', (t) => {
  const { db, store, insert } = open(t);
  const now = Date.now();
  const old = now - 2 * HOUR;
  const gone = job(old);
  const parent = job(old, { spec: twoTasks });
  const tasks = tasksOf(parent);
  const retried = job(old); // run again by RETRY: memory has it queued, its row lags behind
  const acked = job(old); // its origin just acknowledged it: the flag is not written yet
  insert([gone, parent, ...tasks, retried, acked]);
  const table = new JobTable(store);
  table.recover();
  Object.assign(table.get(retried.id) as JobRecord, { state: 'queued', result: null });
  table.delete(acked.id);
  const dropped: string[] = [];
  const schedule = newTicket(old);
  const u = new UndeliveredResults({
    rows: store.undelivered,
    table,
    dropTasks: (j) => {
      dropped.push(j.id);
      for (const x of tasks) table.delete(x.id);
    },
    isSchedule: (id) => id === schedule,
    log: silentLogger(),
  });
  const asked = newTicket(old);
  t.notOk(u.expiredHere(asked), 'nothing expired yet: an unknown ticket is not called expired');

  t.equal(u.expire(now - HOUR), 3);
  t.equal(u.expired, 3);
  const left = ids(db);
  t.notOk(left.has(gone.id) || left.has(parent.id), 'the rows went');
  t.ok(left.has(retried.id), 'a job RETRY runs again stays');
  t.notOk(left.has(acked.id), 'one just acknowledged goes, as a delivered one would');
  t.notOk(table.get(gone.id) || table.get(parent.id), 'and left memory');
  t.same(dropped, [parent.id], 'a job of tasks lets its tasks go');
  t.ok(table.get(retried.id), 'the job run again is still live');

  t.ok(u.expiredHere(asked), 'a ticket issued before the TTL, unknown here, expired');
  t.notOk(u.expiredHere(newTicket(now - 1000)), 'a younger one may still come');
  t.notOk(u.expiredHere(schedule), 'a schedule’s ticket is no job’s');
  t.end();
});
