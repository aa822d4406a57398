import t from 'tap';
import { JobStore, type JobRecord } from '../proxy/job-store.js';
import { PROXY_SCHEMA } from '../proxy/schema.js';
import { forgetUnconfirmed } from '../proxy/term.js';
import { Committer, openDatabase } from '../shared/db.js';
import { JobSpecSchema } from '../shared/job.js';
import { createLogger } from '../shared/log.js';
import { tempDir } from './helpers/cluster.js';
import { finishedRecord } from './helpers/job-records.js';

/** A job with idempotency key `key`, finished (`done`) or not yet (`queued`). */
function keyed(seq: number, key: string, state: 'done' | 'queued'): JobRecord {
  const spec = JobSpecSchema.parse({ type: 'echo', args: ['x'], key });
  const j = finishedRecord({
    spec,
    submittedAt: Date.now() + seq,
    seq,
    delivered: true,
    output: 'x',
  });
  return state === 'done' ? j : { ...j, state, node: null, result: null, given: [] };
}

t.test('a proxy taking over forgets unconfirmed jobs with their keys, and keeps the rest', (t) => {
  const db = openDatabase(tempDir(t.teardown), 'proxy.db', 'relaxed', PROXY_SCHEMA);
  t.teardown(() => db.close());
  const committer = new Committer(db);
  const store = new JobStore(db, committer);
  const done = keyed(1, 'order-1', 'done');
  const open = keyed(2, 'order-2', 'queued');
  store.insert(done);
  store.insert(open);
  committer.flush();
  t.equal(store.keyTicket('order-2'), open.id, 'the open job holds its key');

  forgetUnconfirmed(db, createLogger('proxy', 'silent'));
  t.equal(store.get(open.id), undefined, 'the unconfirmed job is forgotten');
  t.equal(store.keyTicket('order-2'), undefined, 'and its key with it');
  t.equal(store.get(done.id)?.state, 'done', 'a recorded result stays');
  t.equal(store.keyTicket('order-1'), done.id, 'with its key');
  t.end();
});
