import t from 'tap';
import { Dispatcher, type Queued, type Seat } from '../proxy/dispatcher.js';
import { createPolicy } from '../proxy/policies.js';

interface J extends Queued {
  id: string;
}
const job = (id: string, seq: number, priority = 0): J => ({
  id,
  seq,
  spec: { priority },
  heapIndex: -1,
});
const seat = (id: string, slots: number): Seat => ({
  id,
  slots,
  outstanding: 0,
  available: false,
  heapIndex: -1,
  poolIndex: -1,
  lastPick: 0,
});

function run(d: Dispatcher<J, Seat>, budget = Infinity): Array<[string, string]> {
  const placed: Array<[string, string]> = [];
  d.run(budget, (j, n) => {
    n.outstanding++;
    d.refresh(n, true);
    placed.push([j.id, n.id]);
  });
  return placed;
}

t.test('priority first, then arrival; never past slots + PREFETCH', async (t) => {
  const d = new Dispatcher<J, Seat>(createPolicy('least-loaded'), { prefetch: 1, periodic: false });
  const a = seat('a', 1);
  d.refresh(a, true);
  d.enqueue(job('low-1', 1));
  d.enqueue(job('high', 2, 9));
  d.enqueue(job('low-2', 3));
  d.enqueue(job('low-3', 4));
  t.same(run(d), [
    ['high', 'a'],
    ['low-1', 'a'],
  ]);
  t.equal(d.size, 2, 'the rest wait for room');
  a.outstanding = 0;
  d.refresh(a, true);
  t.same(
    run(d).map(([j]) => j),
    ['low-2', 'low-3'],
  );
});

t.test('a node not accepting work gets none; removed jobs never run', async (t) => {
  const d = new Dispatcher<J, Seat>(createPolicy('least-loaded'), { prefetch: 0, periodic: false });
  const a = seat('a', 4);
  const b = seat('b', 4);
  d.refresh(a, false);
  d.refresh(b, true);
  const gone = job('gone', 1);
  d.enqueue(gone);
  d.enqueue(job('x', 2));
  t.ok(d.remove(gone));
  t.same(run(d), [['x', 'b']]);
});

t.test("the seed's periodic mode: no room limit, a budget per period", async (t) => {
  const d = new Dispatcher<J, Seat>(createPolicy('least-loaded'), { prefetch: 1, periodic: true });
  const a = seat('a', 1);
  d.refresh(a, true);
  for (let i = 0; i < 50; i++) d.enqueue(job(`j${i}`, i));
  t.equal(run(d, 30).length, 30, 'MAX_NUM_JOBS_DISPATCH jobs per period, however full the node');
  t.equal(d.size, 20);
});

t.test(
  'a node whose measured hold exceeds PREFETCH is given that many beyond its slots',
  async (t) => {
    const d = new Dispatcher<J, Seat>(createPolicy('least-loaded'), {
      prefetch: 1,
      periodic: false,
    });
    const fast = { ...seat('fast', 2), hold: 4 };
    const slow = { ...seat('slow', 2), hold: 0 };
    d.refresh(fast, true);
    d.refresh(slow, true);
    for (let i = 0; i < 20; i++) d.enqueue(job(`j${i}`, i));
    const placed = run(d);
    t.equal(placed.filter(([, n]) => n === 'fast').length, 6, '2 slots + hold 4');
    t.equal(placed.filter(([, n]) => n === 'slow').length, 3, '2 slots + PREFETCH 1, the floor');
    t.equal(d.size, 11);
  },
);
