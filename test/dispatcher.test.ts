import t from 'tap';
import { Dispatcher, type Host, type Queued } from '../proxy/dispatcher.js';
import { capsOf } from '../proxy/placement.js';
import { createPolicy, type PolicyName } from '../proxy/policies.js';
import type { JobSpec } from '../shared/job.js';

interface J extends Queued {
  id: string;
}
let seq = 0;
const job = (id: string, extra: Partial<JobSpec> & { batch?: string } = {}): J => {
  const { batch, ...spec } = extra;
  return { id, seq: ++seq, spec: { priority: 0, ...spec }, heapIndex: -1, batch };
};
const host = (id: string, slots: number): Host => ({ id, slots, outstanding: 0 });

function dispatcher(
  opts: { prefetch?: number; periodic?: boolean; weights?: Map<string, number> } = {},
  policy: PolicyName = 'least-loaded',
) {
  return new Dispatcher<J, Host>(() => createPolicy(policy), {
    prefetch: opts.prefetch ?? 0,
    periodic: opts.periodic ?? false,
    weights: opts.weights,
  });
}

/** Runs a dispatch the way the proxy does: each placement holds the job and refreshes. */
function run(d: Dispatcher<J, Host>, budget = Infinity): Array<[string, string]> {
  const placed: Array<[string, string]> = [];
  d.run(budget, (j, n) => {
    n.outstanding++;
    d.hold(j, n);
    d.refresh(n, true);
    placed.push([j.id, n.id]);
  });
  return placed;
}

/** A job finished on its node. */
function finish(d: Dispatcher<J, Host>, j: J, n: Host): void {
  n.outstanding--;
  d.release(j, n);
  d.refresh(n, true);
}

t.test('priority first, then arrival; never past slots + PREFETCH', async (t) => {
  const d = dispatcher({ prefetch: 1 });
  const a = host('a', 1);
  d.refresh(a, true);
  d.enqueue(job('low-1'));
  d.enqueue(job('high', { priority: 9 }));
  d.enqueue(job('low-2'));
  d.enqueue(job('low-3'));
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
  const d = dispatcher();
  const a = host('a', 4);
  const b = host('b', 4);
  d.refresh(a, false);
  d.refresh(b, true);
  const gone = job('gone');
  d.enqueue(gone);
  d.enqueue(job('x'));
  t.ok(d.remove(gone));
  t.notOk(d.remove(gone), 'removing twice is harmless');
  t.same(run(d), [['x', 'b']]);
});

t.test("the seed's periodic mode: no room limit, a budget per period", async (t) => {
  const d = dispatcher({ prefetch: 1, periodic: true });
  const a = host('a', 1);
  d.refresh(a, true);
  for (let i = 0; i < 50; i++) d.enqueue(job(`j${i}`));
  t.equal(run(d, 30).length, 30, 'MAX_NUM_JOBS_DISPATCH jobs per period, however full the node');
  t.equal(d.size, 20);
});

t.test('constraints: only nodes with every label; the reason while none has them', async (t) => {
  const d = dispatcher();
  const cpu = host('cpu', 4);
  d.setCaps(cpu, capsOf({ labels: ['zone=eu'] }));
  d.refresh(cpu, true);
  const gpuJob = job('g', { constraints: { labels: ['gpu', 'zone=eu'] } });
  d.enqueue(gpuJob);
  d.enqueue(job('plain'));
  t.same(run(d), [['plain', 'cpu']], 'the job behind the blocked one is not held up');
  t.equal(d.waiting(gpuJob), 'no node has labels gpu,zone=eu');
  const gpu = host('gpu', 1);
  d.setCaps(gpu, capsOf({ labels: ['gpu', 'zone=eu', 'ssd'] }));
  d.refresh(gpu, true);
  t.equal(d.waiting(gpuJob), undefined, 'a node that could run it joined');
  t.same(run(d), [['g', 'gpu']]);
});

t.test(
  'resources: jobs run while their needs fit the node; too big waits with a reason',
  async (t) => {
    const d = dispatcher();
    const a = host('a', 8);
    d.setCaps(a, capsOf({ cpus: 4, memMb: 1000 }));
    d.refresh(a, true);
    const cpuJobs = [1, 2, 3, 4, 5].map((i) => job(`c${i}`, { resources: { cpu: 1 } }));
    for (const j of cpuJobs) d.enqueue(j);
    t.equal(run(d).length, 4, 'four cpu:1 jobs on 4 cpus');
    t.equal(d.size, 1, 'the fifth waits');
    t.equal(d.waiting(cpuJobs[4] as J), undefined, 'it could run there: no reason, only no room');
    const big = job('big', { resources: { cpu: 8 } });
    const fat = job('fat', { resources: { memMb: 4096 } });
    d.enqueue(big);
    d.enqueue(fat);
    t.equal(d.waiting(big), 'no node has 8 cpu');
    t.equal(d.waiting(fat), 'no node has 4096 MB of memory');
    d.enqueue(job('small-mem', { resources: { memMb: 600 } }));
    d.enqueue(job('plain'));
    t.same(
      run(d).map(([j]) => j),
      ['small-mem', 'plain'],
      'jobs that fit go past those that do not',
    );
    finish(d, cpuJobs[0] as J, a);
    t.same(run(d), [['c5', 'a']], 'a freed cpu takes the waiting cpu job');
  },
);

t.test('memory is summed like cpu', async (t) => {
  const d = dispatcher();
  const a = host('a', 8);
  d.setCaps(a, capsOf({ cpus: 8, memMb: 1000 }));
  d.refresh(a, true);
  const jobs = [1, 2, 3].map((i) => job(`m${i}`, { resources: { memMb: 400 } }));
  for (const j of jobs) d.enqueue(j);
  t.equal(run(d).length, 2);
  finish(d, jobs[1] as J, a);
  t.same(run(d), [['m3', 'a']]);
});

t.test('custom types go only to nodes serving them', async (t) => {
  const d = dispatcher();
  const a = host('a', 2);
  d.refresh(a, true);
  const resize = job('r', { type: 'resize' });
  d.enqueue(resize);
  t.same(run(d), []);
  t.equal(d.waiting(resize), 'no worker for type resize');
  d.setCaps(a, capsOf({ types: ['resize'] }));
  d.refresh(a, true);
  t.same(run(d), [['r', 'a']]);
});

t.test('fair share: a late tenant is served at the next free slot', async (t) => {
  const d = dispatcher();
  const a = host('n', 4);
  d.refresh(a, true);
  const flood = Array.from({ length: 100 }, (_, i) => job(`a${i}`, { tenant: 'A' }));
  for (const j of flood) d.enqueue(j);
  t.equal(run(d).length, 4);
  const late = Array.from({ length: 10 }, (_, i) => job(`b${i}`, { tenant: 'B' }));
  for (const j of late) d.enqueue(j);
  const order: string[] = [];
  for (let i = 0; i < 4; i++) {
    finish(d, flood[i] as J, a);
    order.push(...run(d).map(([j]) => j));
  }
  t.same(order, ['b0', 'b1', 'a4', 'a5'], 'B is served first until the shares are equal (2:2)');
});

t.test('fair share: weights 3:1 split the slots 3:1 while both are backlogged', async (t) => {
  const d = dispatcher({ weights: new Map([['a', 3]]) });
  const n = host('n', 8);
  for (let i = 0; i < 200; i++) d.enqueue(job(`a${i}`, { tenant: 'a' }));
  for (let i = 0; i < 200; i++) d.enqueue(job(`b${i}`, { tenant: 'b' }));
  d.refresh(n, true);
  const running = run(d).map(([j]) => j);
  t.equal(running.filter((j) => j.startsWith('a')).length, 6);
  t.equal(running.filter((j) => j.startsWith('b')).length, 2);
});

t.test('tenants within a class keep priority order', async (t) => {
  const d = dispatcher();
  const n = host('n', 1);
  d.enqueue(job('low', { tenant: 'x' }));
  d.enqueue(job('high', { tenant: 'x', priority: 5 }));
  d.refresh(n, true);
  t.same(run(d), [['high', 'n']]);
});

t.test('batch sampling binds late and places a batch together', async (t) => {
  const d = dispatcher({ prefetch: 5 }, 'batch-sampling');
  const nodes = Array.from({ length: 10 }, (_, i) => host(`n${i}`, 2));
  for (const n of nodes) d.refresh(n, true);
  for (let i = 0; i < 30; i++) d.enqueue(job(`t${i}`, { batch: 'job1' }));
  const placed = run(d);
  t.equal(placed.length, 20, 'only free slots: PREFETCH does not apply to late binding');
  t.ok(
    nodes.every((n) => n.outstanding <= n.slots),
    'no node got more than its slots',
  );
});

t.test('hold and release are undone in pairs (node lost)', async (t) => {
  const d = dispatcher();
  const a = host('a', 4);
  d.setCaps(a, capsOf({ cpus: 2 }));
  d.refresh(a, true);
  const j1 = job('1', { resources: { cpu: 2 } });
  d.enqueue(j1);
  t.equal(run(d).length, 1);
  finish(d, j1, a);
  d.enqueue(j1);
  t.equal(run(d).length, 1, 'the cpu came back');
  d.forget(a);
  t.equal(d.idleFor(j1, undefined), undefined);
});

t.test('idleFor finds a free slot elsewhere for a copy', async (t) => {
  const d = dispatcher();
  const a = host('a', 1);
  const b = host('b', 1);
  d.refresh(a, true);
  d.refresh(b, true);
  const j = job('x');
  d.enqueue(j);
  const [[, on] = ['', '']] = run(d);
  const other = on === 'a' ? b : a;
  t.equal(d.idleFor(j, on === 'a' ? a : b), other);
  other.outstanding = 1;
  t.equal(d.idleFor(j, on === 'a' ? a : b), undefined, 'no idle slot: no copy');
});

t.test(
  'a node whose measured hold exceeds PREFETCH is given that many beyond its slots',
  async (t) => {
    const d = dispatcher({ prefetch: 1 });
    const fast = { ...host('fast', 2), hold: 4 };
    const slow = { ...host('slow', 2), hold: 0 };
    d.refresh(fast, true);
    d.refresh(slow, true);
    for (let i = 0; i < 20; i++) d.enqueue(job(`j${i}`));
    const placed = run(d);
    t.equal(placed.filter(([, n]) => n === 'fast').length, 6, '2 slots + hold 4');
    t.equal(placed.filter(([, n]) => n === 'slow').length, 3, '2 slots + PREFETCH 1, the floor');
    t.equal(d.size, 11);
  },
);
