import t from 'tap';
import { idealResponseTimes } from '../bench/ideal-schedule.js';
import { idealWithPathCosts, meanWayToNode } from '../bench/path-costs.js';

t.test('the ideal schedule: one FIFO queue over every slot, no overhead', async (t) => {
  // two slots; the third job waits for the first slot to free (at 10)
  const jobs = [
    { arrival: 0, duration: 10 },
    { arrival: 1, duration: 20 },
    { arrival: 2, duration: 5 },
    { arrival: 30, duration: 1 },
  ];
  t.same([...idealResponseTimes(jobs, 2)], [10, 20, 13, 1]);
  // served in arrival order, whatever the order given; ties in arrival keep the input order
  const [a, b, c] = jobs as [(typeof jobs)[0], (typeof jobs)[0], (typeof jobs)[0]];
  t.same([...idealResponseTimes([c, a, b], 1)], [33, 10, 29]);
  const tied = [
    { arrival: 0, duration: 3 },
    { arrival: 0, duration: 1 },
  ];
  t.same([...idealResponseTimes(tied, 1)], [3, 4]);
  t.throws(() => idealResponseTimes(jobs, 0), RangeError);
});

t.test('runs as they ran hold the slot; deliveries add after', async (t) => {
  const jobs = [
    { arrival: 0, duration: 10 },
    { arrival: 1, duration: 10 },
  ];
  // one slot: the first run overran by 2, so the second starts at 12, not 10
  const out = idealWithPathCosts(jobs, [12, 10], [3, 1], 1);
  t.same([...out], [12 + 3, 12 + 10 - 1 + 1]);
  // no overrun and no delivery: the ideal itself
  t.same([...idealWithPathCosts(jobs, [10, 10], [0, 0], 1)], [...idealResponseTimes(jobs, 1)]);
});

t.test('a job without measured times keeps its plan and no delivery', async (t) => {
  const jobs = [
    { arrival: 0, duration: 10 },
    { arrival: 0, duration: 4 },
  ];
  const out = idealWithPathCosts(jobs, [NaN, 6], [NaN, 2], 2);
  t.same([...out], [10, 6 + 2]);
  // a negative run is no measurement either (a clock set back between the two times)
  t.same([...idealWithPathCosts(jobs, [-1, 4], [0, 0], 2)], [10, 4]);
});

t.test('the way to a node: the response less the node’s own times', async (t) => {
  const way = meanWayToNode([20, 30, 40], [2, 5, NaN], [15, 20, 30], [2, 3, 5]);
  // (20 − 2 − 15 − 2) and (30 − 5 − 20 − 3); the third has no start and is left out
  t.equal(way, (1 + 2) / 2);
  t.ok(Number.isNaN(meanWayToNode([1], [NaN], [1], [1])), 'nothing known: NaN');
});
