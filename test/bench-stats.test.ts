import t from 'tap';
import { median } from '../bench/stats.js';

t.test('median: the middle value, or the mean of the two middle ones', (t) => {
  t.equal(median([0.9, 0.87, 0.88]), 0.88, 'odd count, any order');
  t.equal(median([1.2, 1.06, 1.13, 1.08]), (1.08 + 1.13) / 2, 'even count');
  t.equal(median([5]), 5);
  t.ok(Number.isNaN(median([])), 'none: NaN');
  const values = [3, 1, 2];
  median(values);
  t.same(values, [3, 1, 2], 'its input left as it was');
  t.end();
});
