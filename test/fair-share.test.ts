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
