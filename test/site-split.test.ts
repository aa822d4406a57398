import t from 'tap';
import { bySite } from '../bench/site-split.js';

t.test('splits the late start and the delivery by where each job ran', async (t) => {
  const nodeIds = ['a', 'b'];
  // job 0: submitted to a, ran on a; job 1: submitted to b, ran on a; job 2: to a, ran on b;
  // job 3: no result (left out)
  const res = {
    ranOn: ['a', 'a', 'b', undefined],
    portOf: Uint16Array.from([0, 1, 0, 1]),
    startDelayMs: Float64Array.from([2, 10, 7, NaN]),
    deliveryMs: Float64Array.from([1, 4, 6, NaN]),
  };
  const jobs = [{ durationMs: 50 }, { durationMs: 20 }, { durationMs: 30 }, { durationMs: 5 }];
  // ideal waits: 0, 4, 1, 0
  const ideal = Float64Array.from([50, 24, 31, 5]);
  const s = bySite(res, ideal, jobs, nodeIds);
  t.equal(s.atOrigin, (1 / 3) * 100);
  t.same(s.origin, { lateStart: 2, delivery: 1 });
  t.same(s.elsewhere, { lateStart: (6 + 6) / 2, delivery: 5 });
});

t.test('nothing known: NaN, not a division by zero', async (t) => {
  const res = {
    ranOn: [undefined],
    portOf: Uint16Array.from([0]),
    startDelayMs: Float64Array.from([NaN]),
    deliveryMs: Float64Array.from([NaN]),
  };
  const s = bySite(res, Float64Array.from([1]), [{ durationMs: 1 }], ['a']);
  t.ok(Number.isNaN(s.atOrigin));
  t.ok(Number.isNaN(s.origin.lateStart) && Number.isNaN(s.elsewhere.delivery));
});
