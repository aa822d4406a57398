import t from 'tap';
import { Heap } from '../shared/heap.js';
import { OrderedQueue } from '../proxy/ordered-queue.js';

interface Item {
  heapIndex: number;
  priority: number;
  seq: number;
}
const before = (a: Item, b: Item) =>
  a.priority !== b.priority ? a.priority > b.priority : a.seq < b.seq;

/** A seeded generator (mulberry32), so a failure can be replayed. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let x = Math.imul(s ^ (s >>> 15), 1 | s);
    x ^= x + Math.imul(x ^ (x >>> 7), 61 | x);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

t.test('the same order as a heap under any mix of adds, takes and removals', (t) => {
  for (const seed of [1, 2, 3, 42, 2026]) {
    const rand = rng(seed);
    const q = new OrderedQueue<Item>(before);
    const h = new Heap<{ heapIndex: number; of: Item }>((a, b) => before(a.of, b.of));
    const shadow = new Map<Item, { heapIndex: number; of: Item }>();
    const live: Item[] = [];
    let seq = 0;
    for (let step = 0; step < 5000; step++) {
      const r = rand();
      if (r < 0.5) {
        // mostly in order; now and then an older job comes back or a higher priority arrives
        const back = rand() < 0.1 && seq > 10;
        const item = {
          heapIndex: -1,
          priority: rand() < 0.05 ? Math.floor(rand() * 3) : 0,
          seq: back ? rand() * seq : ++seq, // distinct, as jobs' are
        };
        q.push(item);
        const s = { heapIndex: -1, of: item };
        shadow.set(item, s);
        h.push(s);
        live.push(item);
      } else if (r < 0.9) {
        const got = q.pop();
        const want = h.pop()?.of;
        if (got !== want) {
          t.fail(`seed ${seed} step ${step}: pop differs`);
          return t.end();
        }
        if (got) live.splice(live.indexOf(got), 1);
      } else if (live.length > 0) {
        const item = live[Math.floor(rand() * live.length)] as Item;
        t.equal(q.remove(item), true);
        t.equal(q.remove(item), false, 'removed once');
        h.remove(shadow.get(item) as { heapIndex: number; of: Item });
        live.splice(live.indexOf(item), 1);
      }
      if (q.size !== h.size || q.peek() !== h.peek()?.of) {
        t.fail(`seed ${seed} step ${step}: size or head differs`);
        return t.end();
      }
    }
  }
  t.end();
});

t.test('a taken item is no longer removable; a drained queue starts over', (t) => {
  const q = new OrderedQueue<Item>(before);
  const a = { heapIndex: -1, priority: 0, seq: 1 };
  const b = { heapIndex: -1, priority: 0, seq: 2 };
  q.push(a);
  q.push(b);
  t.equal(q.pop(), a);
  t.equal(q.remove(a), false);
  t.equal(q.pop(), b);
  t.equal(q.size, 0);
  t.equal(q.pop(), undefined);
  q.push(a);
  t.equal(q.peek(), a);
  t.end();
});

t.test('taken items do not pile up in a queue that never empties', (t) => {
  const q = new OrderedQueue<Item>(before);
  const run = () => (q as unknown as { run: unknown[] }).run.length;
  let seq = 0;
  for (let i = 0; i < 100; i++) q.push({ heapIndex: -1, priority: 0, seq: ++seq });
  let longest = 0;
  for (let i = 0; i < 100_000; i++) {
    q.push({ heapIndex: -1, priority: 0, seq: ++seq });
    q.pop();
    longest = Math.max(longest, run());
  }
  t.equal(q.size, 100);
  t.ok(longest <= 2 * 1024 + 1, `the list stays near its compaction threshold (${longest})`);
  let last = 0;
  for (let x = q.pop(); x; x = q.pop()) {
    t.ok(x.seq > last);
    last = x.seq;
  }
  t.end();
});
