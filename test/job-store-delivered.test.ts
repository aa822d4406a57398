import t from 'tap';
import { JobStore, type JobRecord } from '../proxy/job-store.js';
import { PROXY_SCHEMA } from '../proxy/schema.js';
import { Committer, openDatabase } from '../shared/db.js';
import { newTicket } from '../shared/ids.js';
import { JobSpecSchema } from '../shared/job.js';
import { tempDir } from './helpers/cluster.js';
import { finishedRecord } from './helpers/job-records.js';

const spec = JobSpecSchema.parse({ type: 'echo', args: ['x'] });

/** A job finished on n1 whose result its origin has not acknowledged yet. */
function finished(seq: number): JobRecord {
  return finishedRecord({ spec, submittedAt: Date.now(), seq, delivered: false, output: 'x' });
}

/** A proxy's job table in a fresh directory, closed at teardown. */
function openStore(teardown: (fn: () => void) => void): { store: JobStore; committer: Committer } {
  const db = openDatabase(tempDir(teardown), 'proxy.db', 'relaxed', PROXY_SCHEMA);
  teardown(() => db.close());
  const committer = new Committer(db);
  return { store: new JobStore(db, committer), committer };
}

t.test('acknowledged results leave the live rows, in batches of any size', (t) => {
  const { store, committer } = openStore(t.teardown);
  const jobs = Array.from({ length: 150 }, (_, i) => finished(i + 1));
  for (const j of jobs) store.insert(j);
  committer.flush();
  t.equal(store.live().length, 150, 'every undelivered result is live');

  const ids = jobs.map((j) => j.id);
  // one ticket, a few, exactly one statement's worth, and more than one statement's worth;
  // a ticket the table does not hold changes nothing
  store.delivered(ids.slice(0, 1));
  store.delivered([...ids.slice(1, 4), newTicket()]);
  store.delivered(ids.slice(4, 68));
  store.delivered(ids.slice(68, 138));
  store.delivered(ids.slice(4, 10)); // acknowledged again
  committer.flush();

  const live = store.live().map((j) => j.id);
  t.same(live, ids.slice(138), 'only the unacknowledged results stay live, in order');
  t.equal(store.get(ids[70] as string)?.delivered, true);
  t.equal(store.get(ids[140] as string)?.delivered, false);
  t.end();
});

t.test('which of many tickets have a row, found in a few statements', (t) => {
  const { store, committer } = openStore(t.teardown);
  const jobs = Array.from({ length: 5 }, (_, i) => finished(i + 1));
  for (const j of jobs) store.insert(j);
  committer.flush();
  // 25,000 unknown tickets around the stored ones: more than one statement's worth
  const asked = Array.from({ length: 25_000 }, () => newTicket());
  jobs.forEach((j, i) => asked.splice(i * 6_000, 0, j.id));
  t.same(
    [...store.storedAmong(asked)].sort(),
    jobs.map((j) => j.id).sort(),
    'exactly the stored ones, wherever they sit in the list',
  );
  t.same([...store.storedAmong([])], [], 'none asked, none found');
  t.end();
});
