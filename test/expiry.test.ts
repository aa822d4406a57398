import { statSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { TicketStore } from '../node/ticket-store.js';
import { NODE_SCHEMA } from '../node/schema.js';
import { JobStore, type JobRecord } from '../proxy/job-store.js';
import { PROXY_SCHEMA } from '../proxy/schema.js';
import { Committer, openDatabase, WAL_SIZE_LIMIT } from '../shared/db.js';
import { ChunkedSweep } from '../shared/expiry.js';
import { newTicket } from '../shared/ids.js';
import { JobSpecSchema } from '../shared/job.js';
import type { JobResult } from '../shared/job-view.js';
import { tempDir } from './helpers/cluster.js';
import { finishedRecord } from './helpers/job-records.js';

/** A `later` that queues steps for the test to run, instead of the event loop. */
function manualTurns() {
  const queue: Array<() => void> = [];
  return {
    later: (fn: () => void) => queue.push(fn),
    /** Runs queued steps until none is left; returns how many ran. */
    drain(): number {
      let n = 0;
      for (let fn = queue.shift(); fn; fn = queue.shift()) {
        fn();
        n++;
      }
      return n;
    },
    get pending() {
      return queue.length;
    },
  };
}

t.test('a sweep deletes chunk by chunk, one per turn, until a chunk comes back short', (t) => {
  let rows = 2500;
  const steps: number[] = [];
  const turns = manualTurns();
  const sweep = new ChunkedSweep(
    () => {
      const n = Math.min(1000, rows);
      rows -= n;
      steps.push(n);
      return n;
    },
    1000,
    turns.later,
  );
  let total = -1;
  sweep.run((n) => (total = n));
  t.same(steps, [1000], 'one chunk now, the rest on later turns');
  t.ok(sweep.busy);
  sweep.run(() => t.fail('a second sweep while one runs'));
  t.equal(turns.pending, 1, 'not started twice');
  turns.drain();
  t.same(steps, [1000, 1000, 500]);
  t.equal(total, 2500);
  t.notOk(sweep.busy);
  t.equal(rows, 0);
  t.end();
});

t.test('a stopped sweep runs no further step', (t) => {
  const turns = manualTurns();
  let steps = 0;
  const sweep = new ChunkedSweep(() => (steps++, 10), 10, turns.later);
  sweep.run(() => t.fail('never done'));
  sweep.stop();
  turns.drain();
  t.equal(steps, 1);
  sweep.run();
  t.equal(steps, 1, 'nor a new sweep');
  t.end();
});

const spec = JobSpecSchema.parse({ type: 'echo', args: ['x'.repeat(200)] });
const HOUR = 3_600_000;

function result(id: string, finishedAt: number): JobResult {
  const r = { state: 'done', exitCode: 0, output: 'x'.repeat(200), node: 'n1', attempt: 1 };
  return { id, ...r, startedAt: finishedAt, finishedAt } as JobResult;
}

function delivered(submittedAt: number, seq: number): JobRecord {
  const keyed = seq % 10 === 0 ? { ...spec, key: `k${seq}` } : spec;
  return finishedRecord({
    spec: keyed,
    submittedAt,
    seq,
    delivered: true,
    output: 'x'.repeat(200),
  });
}

t.test('the proxy: results past their TTL leave in chunks, keys with them', (t) => {
  const dir = tempDir(t.teardown);
  const db = openDatabase(dir, 'proxy.db', 'relaxed', PROXY_SCHEMA);
  t.teardown(() => db.close());
  const committer = new Committer(db);
  const store = new JobStore(db, committer);
  const now = Date.now();
  for (let i = 0; i < 5000; i++) store.insert(delivered(now - 2 * HOUR + i, i));
  const young = delivered(now, 5000);
  store.insert(young);
  committer.flush();
  const count = (table: string) =>
    (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
  t.equal(count('jobs'), 5001);
  t.equal(count('keys'), 501, 'one job in ten has a key, the young one too');

  const turns = manualTurns();
  const steps: number[] = [];
  const sweep = new ChunkedSweep(
    () => {
      const n = store.expire(now - HOUR, 1000);
      steps.push(n);
      return n;
    },
    1000,
    turns.later,
  );
  let total = 0;
  sweep.run((n) => (total = n));
  turns.drain();
  t.same(steps, [1000, 1000, 1000, 1000, 1000, 0], 'no statement deletes more than a chunk');
  t.equal(total, 5000);
  t.equal(count('jobs'), 1, 'only the job younger than the TTL stays');
  t.equal(count('keys'), 1, 'the keys of expired jobs go with them');
  t.ok(store.get(young.id));
  t.end();
});

t.test('a node: tickets past their TTL leave in chunks; open and unreported ones stay', (t) => {
  const dir = tempDir(t.teardown);
  const db = openDatabase(dir, 'node.db', 'relaxed', NODE_SCHEMA);
  t.teardown(() => db.close());
  const committer = new Committer(db);
  const tickets = new TicketStore(db, committer);
  const old = Date.now() - 2 * HOUR;
  const ids: string[] = [];
  for (let i = 0; i < 3000; i++) {
    const id = newTicket(old + i);
    ids.push(id);
    tickets.insert(id, spec, old + i, () => {});
  }
  committer.flush();
  for (const [i, id] of ids.entries()) {
    // the first one never finished; the second was decided here and not reported yet
    if (i === 0) continue;
    tickets.finish(result(id, old + i + 1), i !== 1);
  }
  committer.flush();

  const turns = manualTurns();
  const sweep = new ChunkedSweep(() => tickets.expire(Date.now() - HOUR, 1000), 1000, turns.later);
  let total = 0;
  sweep.run((n) => (total = n));
  turns.drain();
  t.equal(total, 2998);
  t.ok(tickets.get(ids[0] as string), 'an open ticket stays');
  t.ok(tickets.get(ids[1] as string), 'an unreported result stays');
  t.equal(tickets.recent(10).length, 2);
  t.end();
});

t.test('the WAL is cut back to WAL_SIZE_LIMIT after a transaction larger than that', (t) => {
  const dir = tempDir(t.teardown);
  const db = openDatabase(dir, 'big.db', 'relaxed', 'CREATE TABLE t (v TEXT NOT NULL);');
  t.teardown(() => db.close());
  const wal = () => statSync(join(dir, 'big.db-wal')).size;
  const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
  const row = 'x'.repeat(1000);
  const rows = Math.ceil((1.5 * WAL_SIZE_LIMIT) / row.length);
  db.transaction(() => {
    for (let i = 0; i < rows; i++) insert.run(row);
  })();
  t.ok(wal() > WAL_SIZE_LIMIT, 'one transaction needed a WAL beyond the limit');
  insert.run('the next write starts the WAL over');
  t.ok(wal() <= WAL_SIZE_LIMIT, `cut back: ${wal()} bytes`);
  t.end();
});
