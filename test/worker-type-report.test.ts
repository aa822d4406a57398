import t from 'tap';
import { JobSpecSchema } from '../shared/job.js';
import { InfoSchema } from '../shared/protocol.js';
import { WorkerPool } from '../node/worker-pool.js';
import { workerMap } from '../proxy/worker-types.js';

const T1 = '01JAAAAAAAAAAAAAAAAAAAAAA1';

/** A pool whose every types report is recorded, and checked as the proxy checks an INFO. */
function recordingPool() {
  const reports: Array<Array<{ type: string; capacity: number }>> = [];
  const events: string[] = [];
  const pool: WorkerPool = new WorkerPool(1024, {
    started: () => {},
    finished: () => {},
    lost: (id, ran) => events.push(`lost ${id} ${ran}`),
    typesChanged: () => {
      reports.push(pool.types());
      events.push('types');
    },
  });
  const accepted = (workers: Array<{ type: string; capacity: number }>) =>
    InfoSchema.safeParse({ type: 'INFO', queued: 0, running: 0, free: 0, workers }).success;
  return { pool, reports, events, accepted };
}

t.test('the last worker of a type leaving takes the type out of the report', async (t) => {
  const { pool, reports, events, accepted } = recordingPool();
  const a = pool.attach('resize', 2, { send: () => {} });
  const b = pool.attach('resize', 1, { send: () => {} });
  pool.attach('ocr', 3, { send: () => {} });
  t.ok(pool.submit(T1, JobSpecSchema.parse({ type: 'resize' }), 1));
  const holder = a.leases.has(T1) ? a : b;
  const other = holder === a ? b : a;

  pool.detach(other);
  t.same(reports.at(-1), [
    { type: 'resize', capacity: holder.concurrency },
    { type: 'ocr', capacity: 3 },
  ]);
  pool.detach(holder);
  t.same(reports.at(-1), [{ type: 'ocr', capacity: 3 }], 'resize is left out, not sent as 0');
  t.same(events.slice(-2), ['types', `lost ${T1} true`], 'the proxy hears of the type first');
  t.notOk(pool.serves('resize'));
  for (const r of reports) t.ok(accepted(r), `the proxy accepts ${JSON.stringify(r)}`);
});

t.test('a type reported with capacity 0 is accepted and read as absent', async (t) => {
  const { accepted } = recordingPool();
  t.ok(accepted([{ type: 'resize', capacity: 0 }]), 'a well-formed report is not refused');
  t.notOk(accepted([{ type: 'resize', capacity: -1 }]));
  const map = workerMap([
    { type: 'resize', capacity: 0 },
    { type: 'ocr', capacity: 2 },
  ]);
  t.same([...map], [['ocr', 2]], 'no job of resize goes to that node');
});

t.test('a capacity past the frame bound is reported at the bound', async (t) => {
  const { pool, reports, accepted } = recordingPool();
  for (let i = 0; i < 1000; i++) pool.attach('bulk', 1024, { send: () => {} });
  t.same(reports.at(-1), [{ type: 'bulk', capacity: 1_000_000 }]);
  t.ok(accepted(reports.at(-1) ?? []), 'the proxy accepts it');
});
