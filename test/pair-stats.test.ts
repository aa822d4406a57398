import t from 'tap';
import { paired, sideOf } from '../bench/pair-stats.js';

t.test('jobs alternate A B B A, each side first in half the pairs', (t) => {
  const sides = Array.from({ length: 12 }, (_, i) => sideOf(i));
  t.same(sides, [0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0]);
  t.equal(sides.filter((s) => s === 0).length, 6);
  t.end();
});

t.test('paired percentiles: the whole run and each block, b over a', (t) => {
  // a: 10 ms throughout; b: 20 ms in the first half of the run, 10 in the second
  const a = Array.from({ length: 100 }, () => 10);
  const b = a.map((v, i) => (i < 50 ? 2 * v : v));
  const f = paired(a, b, 50, 50);
  t.same([f.a, f.b, f.ratio], [10, 10, 1], 'over the whole run the medians are equal');
  t.same(f.blockRatios, [1, 2], 'the blocks show the half where b took twice as long');
  t.equal(paired(a, b, 90, 50).ratio, 2, 'and so does the p90');
  t.end();
});

t.test('a tail block is left out, and unfinished jobs (NaN) are not counted', (t) => {
  const a = [1, 1, 1, NaN, 1];
  const b = [3, 3, 3, 3, 3];
  const f = paired(a, b, 50, 2);
  t.equal(f.ratio, 3);
  t.same(f.blockRatios, [3, 3], 'two blocks of two; the fifth sample makes none');
  t.end();
});
