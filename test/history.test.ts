import t from 'tap';
import { History, sampleOf } from '../proxy/history.js';

const at = (t: number) => ({ t, queued: t % 7, nodes: { n1: t % 3 } });

t.test('the history keeps the newest samples, oldest first', (t) => {
  const h = new History(3);
  t.same(h.since(), [], 'empty at first');
  h.push(at(1));
  h.push(at(2));
  t.same(
    h.since().map((s) => s.t),
    [1, 2],
  );
  for (const x of [3, 4, 5]) h.push(at(x));
  t.equal(h.size, 3, 'bounded');
  t.same(
    h.since().map((s) => s.t),
    [3, 4, 5],
    'the oldest went first',
  );
  t.same(
    h.since(4).map((s) => s.t),
    [4, 5],
    'since a time',
  );
  t.same(h.since(6), [], 'nothing after the newest');
  t.end();
});

t.test('a ring of one holds the newest sample', (t) => {
  const h = new History(1);
  h.push(at(1));
  h.push(at(2));
  t.same(
    h.since().map((s) => s.t),
    [2],
  );
  t.throws(() => new History(0), RangeError);
  t.end();
});

t.test('a sample counts queued and running jobs of joined nodes only', (t) => {
  const s = sampleOf({
    time: 10,
    queue: { queued: 4 },
    nodes: [
      { id: 'a', connected: true, queued: 2, running: 1 },
      { id: 'b', connected: false, queued: 5, running: 0 },
    ],
  });
  t.same(s, { t: 10, queued: 4, nodes: { a: 3 } });
  t.end();
});
