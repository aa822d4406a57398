import t from 'tap';
import { FairQueue, servedBefore, Tenants, type Fair } from '../proxy/fair-share.js';

let seq = 0;
const job = (priority = 0): Fair & { n: number } => ({
  n: ++seq,
  seq,
  spec: { priority },
  heapIndex: -1,
});

t.test('the tenant with the smallest share per weight goes first', async (t) => {
  const tenants = new Tenants(new Map([['a', 3]]));
  const q = new FairQueue<ReturnType<typeof job>>();
  const a = tenants.get('a');
  const b = tenants.get('b');
  for (let i = 0; i < 100; i++) q.push(job(), a);
  for (let i = 0; i < 100; i++) q.push(job(), b);
  const taken = { a: 0, b: 0 };
  for (let i = 0; i < 40; i++) {
    const before = q.peekTenant();
    q.pop();
    if (!before) break;
    tenants.charge(before, 1); // it runs from now on: the share changes
    taken[before.name as 'a' | 'b']++;
  }
  t.same(taken, { a: 30, b: 10 }, 'weights 3:1');
  t.equal(q.size, 160);
});

t.test('within a tenant: priority, then arrival; remove is exact', async (t) => {
  const tenants = new Tenants();
  const q = new FairQueue<ReturnType<typeof job>>();
  const x = tenants.get('x');
  const low = job();
  const high = job(5);
  const later = job();
  q.push(low, x);
  q.push(high, x);
  q.push(later, x);
  t.ok(q.remove(later, x));
  t.notOk(q.remove(later, x));
  t.equal(q.pop(), high);
  t.equal(q.pop(), low);
  t.equal(q.pop(), undefined);
  t.equal(x.queues.size, 0, 'an emptied tenant leaves the queue');
});

t.test('equal shares take turns', async (t) => {
  const tenants = new Tenants();
  const q = new FairQueue<ReturnType<typeof job>>();
  for (const name of ['a', 'b', 'c']) for (let i = 0; i < 3; i++) q.push(job(), tenants.get(name));
  const order: string[] = [];
  for (let i = 0; i < 6; i++) {
    const who = q.peekTenant();
    q.pop();
    if (who) {
      order.push(who.name);
      tenants.charge(who, 1);
    }
  }
  t.same(order, ['a', 'b', 'c', 'a', 'b', 'c']);
});

t.test('servedBefore compares the heads of two queues', async (t) => {
  const tenants = new Tenants();
  const q1 = new FairQueue<ReturnType<typeof job>>();
  const q2 = new FairQueue<ReturnType<typeof job>>();
  const busy = tenants.get('busy');
  tenants.charge(busy, 1);
  q1.push(job(), busy);
  q2.push(job(), tenants.get('idle'));
  t.ok(servedBefore(q2, q1), 'the idle tenant first');
  t.notOk(servedBefore(q1, q2));
  t.ok(servedBefore(q1, new FairQueue()), 'an empty queue comes last');
});

t.test(
  "each tenant counts its queued jobs across queues (the dashboard's tenant table)",
  async (t) => {
    const tenants = new Tenants(new Map([['a', 2]]));
    const q1 = new FairQueue<ReturnType<typeof job>>();
    const q2 = new FairQueue<ReturnType<typeof job>>();
    const a = tenants.get('a');
    const b = tenants.get('b');
    const gone = job();
    q1.push(job(), a);
    q1.push(gone, a);
    q2.push(job(), a);
    q2.push(job(), b);
    t.same([a.queued, b.queued], [3, 1]);
    q1.remove(gone, a);
    q2.pop();
    t.same(
      [...tenants.all()].map((x) => [x.name, x.weight, x.queued]),
      [
        ['a', 2, 1],
        ['b', 1, 1],
      ],
      "q2 served a's job first (same share, earlier arrival)",
    );
    t.equal(a.queued + b.queued, q1.size + q2.size, 'the counts add up to the queues');
  },
);
