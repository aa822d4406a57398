import t from 'tap';
import { ConcurrencyGate } from '../proxy/concurrency.js';

interface Task {
  n: number;
  copy?: string;
}
const tasks = (count: number): Task[] => Array.from({ length: count }, (_, n) => ({ n }));
const ns = (xs: Task[]) => xs.map((x) => x.n);

t.test('at most `limit` tasks hold a permit; the others wait in line, in order', async (t) => {
  const gate = new ConcurrencyGate<Task>(2);
  const ts = tasks(5);
  t.same(
    ts.map((x) => gate.ask(x)),
    [true, true, false, false, false],
  );
  t.equal(gate.used, 2);
  t.equal(gate.waiting, 3);
  t.equal(gate.reason(), 'concurrency 2 reached');
  t.ok(gate.ask(ts[0] as Task), 'asking again while holding is harmless');
  t.notOk(gate.ask(ts[3] as Task), 'asking again while waiting keeps its place');
  t.equal(gate.waiting, 3);
  t.same(ns(gate.free(ts[1] as Task)), [2], 'the first in line gets the freed permit');
  t.same(ns(gate.free(ts[0] as Task)), [3]);
  t.same(ns(gate.free(ts[0] as Task)), [], 'freeing twice gives nothing more');
  t.equal(gate.used, 2);
  t.same(ns(gate.free(ts[2] as Task)), [4]);
  t.equal(gate.reason(), undefined, 'no reason once nobody waits');
  gate.free(ts[3] as Task);
  gate.free(ts[4] as Task);
  t.equal(gate.used, 0);
});

t.test(
  'a task leaving the line frees no permit; one waiting out a backoff asks again',
  async (t) => {
    const gate = new ConcurrencyGate<Task>(1);
    const [a, b, c] = tasks(3) as [Task, Task, Task];
    gate.ask(a);
    gate.ask(b);
    gate.ask(c);
    t.same(ns(gate.free(b)), [], 'a cancelled task leaves the line');
    t.notOk(gate.waits(b));
    // a fails with a retry: its permit goes to c, and it waits behind when it comes back
    t.same(ns(gate.free(a)), [2]);
    t.notOk(gate.ask(a));
    t.same(ns(gate.free(c)), [0]);
  },
);

t.test('tasks recovered as held by nodes keep their permits beyond the limit', async (t) => {
  const gate = new ConcurrencyGate<Task>(2);
  const ts = tasks(4);
  for (const x of ts.slice(0, 3)) gate.force(x);
  t.equal(gate.used, 3);
  t.notOk(gate.ask(ts[3] as Task), 'no room until enough of them end');
  t.same(ns(gate.free(ts[0] as Task)), []);
  t.same(ns(gate.free(ts[1] as Task)), [3]);
  t.equal(gate.used, 2);
});

t.test('a speculative copy takes a permit until it is gone', async (t) => {
  const gate = new ConcurrencyGate<Task>(3);
  const ts = tasks(4);
  const [a, b, , d] = ts as [Task, Task, Task, Task];
  t.notOk(gate.mayCopy(a), 'a task without a permit has no copy');
  gate.ask(a);
  gate.ask(b);
  t.ok(gate.mayCopy(a));
  a.copy = 'n2';
  gate.copied(a);
  t.notOk(gate.mayCopy(a), 'one copy per task');
  t.equal(gate.used, 3);
  t.notOk(gate.mayCopy(b), 'no permit left for another copy');
  t.notOk(gate.ask(ts[2] as Task), 'nor for a new task');
  gate.ask(d);
  a.copy = undefined; // the copy was stopped
  t.same(ns(gate.pump()), [2], 'its permit goes to the first in line');
  t.same(ns(gate.free(a)), [3]);
  t.equal(gate.used, 3);
});

t.test('a closed gate (the job cancelled) lets nobody in', async (t) => {
  const gate = new ConcurrencyGate<Task>(1);
  const [a, b, c] = tasks(3) as [Task, Task, Task];
  gate.ask(a);
  gate.ask(b);
  gate.close();
  t.equal(gate.waiting, 0);
  t.same(gate.free(a), []);
  t.notOk(gate.ask(c));
  t.equal(gate.waiting, 0);
});

t.test('a limit must be a whole number from 1', async (t) => {
  t.throws(() => new ConcurrencyGate<Task>(0), RangeError);
  t.throws(() => new ConcurrencyGate<Task>(1.5), RangeError);
});

t.test(
  '10,000 tasks through a gate of 8: every one gets its turn, never more than 8',
  async (t) => {
    const gate = new ConcurrencyGate<Task>(8);
    const ts = tasks(10_000);
    const queued = ts.filter((x) => gate.ask(x));
    let ran = 0;
    let most = 0;
    while (queued.length) {
      const x = queued.shift() as Task;
      most = Math.max(most, gate.used);
      ran++;
      queued.push(...gate.free(x));
    }
    t.equal(ran, 10_000, 'every task got its turn');
    t.equal(most, 8, 'never more than the limit');
  },
);
