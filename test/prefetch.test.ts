import t from 'tap';
import { PrefetchEstimator } from '../proxy/prefetch.js';

const limits = { base: 1, maxPerSlot: 8 };

t.test('nothing measured: the allowance is PREFETCH', async (t) => {
  const p = new PrefetchEstimator();
  t.equal(p.allowance(4, limits), 1);
  p.observeRoundTrip(2);
  t.equal(p.allowance(4, limits), 1, 'a round trip alone says nothing about run time');
});

t.test('long jobs keep PREFETCH: balance matters more than the gap', async (t) => {
  const p = new PrefetchEstimator();
  p.observeRoundTrip(2);
  p.observeRun(5000);
  t.equal(p.allowance(4, limits), 1);
});

t.test('short jobs get enough in transit to cover a round trip, capped per slot', async (t) => {
  const p = new PrefetchEstimator();
  p.observeRoundTrip(2);
  p.observeRun(1);
  t.equal(p.allowance(2, limits), 4, '2 slots × 2 ms / 1 ms');
  const instant = new PrefetchEstimator();
  instant.observeRoundTrip(3);
  instant.observeRun(0);
  t.equal(instant.allowance(2, limits), 12, '0 ms runs count as half a millisecond');
  instant.observeRoundTrip(50);
  for (let i = 0; i < 50; i++) instant.observeRoundTrip(50);
  t.equal(instant.allowance(2, limits), 16, 'never above maxPerSlot × slots');
});

t.test('averages follow a change of workload and ignore nonsense', async (t) => {
  const p = new PrefetchEstimator();
  p.observeRoundTrip(1);
  p.observeRun(1);
  p.observeRun(Number.NaN);
  p.observeRoundTrip(-5);
  t.equal(p.allowance(1, limits), 1);
  for (let i = 0; i < 40; i++) p.observeRun(0.1);
  t.ok(p.meanRunMs < 0.2, 'the mean moved to the new run time');
  t.equal(p.allowance(1, limits), 2, '1 ms round trip over 0.5 ms runs');
});

t.test('a node that drains faster than its run times say gets a deeper hold', async (t) => {
  const p = new PrefetchEstimator();
  p.observeRoundTrip(4);
  p.observeRun(5);
  t.equal(p.allowance(2, limits), 2, '2 slots × 4 ms / 5 ms');
  // results arrive 3 per millisecond: the node's own speed, not the 5 ms runs, sets the pace
  for (let now = 1; now <= 20; now++) p.observeCompletions(3, now);
  t.equal(p.allowance(2, limits), 12, '4 ms × 3 per ms');
  p.observeCompletions(3, 5000);
  t.equal(p.allowance(2, limits), 12, 'an idle gap does not count as slowness');
});
