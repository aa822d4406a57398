import t from 'tap';
import { chunks } from '../bench/frame-chunks.js';
import { MAX_BATCH } from '../shared/protocol.js';

t.test('chunks cut a list into frames of at most MAX_BATCH', (t) => {
  t.same(chunks([]), []);
  t.same(chunks([1, 2]), [[1, 2]]);
  const many = Array.from({ length: 2 * MAX_BATCH + 1 }, (_, i) => i);
  const cut = chunks(many);
  t.same(
    cut.map((c) => c.length),
    [MAX_BATCH, MAX_BATCH, 1],
  );
  t.same(cut.flat(), many, 'in order, none lost');
  t.end();
});
